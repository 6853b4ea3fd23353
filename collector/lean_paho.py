"""paho-mqtt without its per-message setup costs the collector does not need.

paho-mqtt decodes every incoming PUBLISH into a `Properties` object, and each one builds
its name and type tables anew: two dictionaries of 27 entries, 27 list lookups, 27
string replacements in `clear()`. For the collector, which receives thousands of batches
a second, that was about three quarters of paho's work per message (25 us of a 31 us
decode on the 2-core reference machine).

`LeanProperties` is paho's class with the tables built once and shared, and a quick
answer for a packet without properties (every batch an agent publishes). They are lookup
tables paho never writes to, and a subclass behaves exactly like the original otherwise
(same attributes, same `pack`/`unpack`), which tests/collector/test_lean_paho.py checks
for every property a PUBLISH may carry. `install()` makes paho's packet decoder
(`paho.mqtt._packet`, paho 2.2) use it. It changes nothing for code that builds
`Properties` itself, and `isinstance(p, Properties)` stays true for both kinds.

`LeanMatcher` is paho's topic matcher for per-topic callbacks (`message_callback_add`),
which paho asks for every message: it splits the topic and walks a trie through nested
generators, 5 % of ingest's time, to find that nothing is registered. It answers at
once while nothing is.

`LeanClient` is paho's Client with that matcher and with socket reads taken 64 KiB at a
time (`ReadBuffered`): paho reads each packet's fixed header a byte at a time, so every
batch cost four recv() system calls, each also a handoff of the GIL between ingest's
two threads. paho already asks a socket for `pending()` bytes (TLS sockets buffer too)
before it waits in select(), so buffered bytes are never left unread.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, Final, cast

import paho.mqtt.client as mqtt
from paho.mqtt import _packet
from paho.mqtt.matcher import MQTTMatcher
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_TABLES: Final = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
# The attributes every Properties has; all others are the properties themselves.
_OWN: Final = frozenset(("packetType", "types", "names", "properties"))


class LeanProperties(Properties):
    """paho's Properties, sharing one copy of its lookup tables."""

    def __init__(self, packetType: int) -> None:  # paho's parameter name
        own = self.__dict__
        own["packetType"] = packetType
        own["types"] = _TABLES.types
        own["names"] = _TABLES.names
        own["properties"] = _TABLES.properties

    def clear(self) -> None:
        own = self.__dict__
        for name in [name for name in own if name not in _OWN]:
            del own[name]

    def unpack(self, buffer: bytes) -> tuple[LeanProperties, int]:
        if buffer[:1] == b"\x00":  # no properties at all, as agents publish
            self.clear()
            return self, 1
        return super().unpack(buffer)  # type: ignore[no-any-return, no-untyped-call]


def install() -> None:
    """Make paho build LeanProperties for every packet it decodes from now on (idempotent)."""
    _packet.Properties = LeanProperties  # type: ignore[attr-defined]


class LeanMatcher(MQTTMatcher):
    """paho's topic matcher, which answers at once while no filter is registered."""

    def iter_match(self, topic: str) -> Iterator[Any]:
        if not self._root._children:
            return iter(())
        return super().iter_match(topic)  # type: ignore[no-any-return, no-untyped-call]


class ReadBuffered:
    """A plain TCP socket whose reads are served from one recv() of up to 64 KiB."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._data = b""
        self._at = 0

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._data):
            data = self._sock.recv(65536)  # BlockingIOError when there is nothing: as paho expects
            if not data:
                return data  # the broker closed the connection
            self._data, self._at = data, 0
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return chunk

    def pending(self) -> int:
        """Bytes already read from the socket and not yet taken."""
        return len(self._data) - self._at

    def __getattr__(self, name: str) -> Any:  # send, fileno, setblocking, close, ...
        return getattr(self._sock, name)


class LeanClient(mqtt.Client):
    """paho's Client with LeanMatcher and buffered reads on plain TCP."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_message_filtered = LeanMatcher()  # type: ignore[no-untyped-call]

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if type(sock) is socket.socket:  # TLS and websockets keep theirs
            return cast(Any, ReadBuffered(sock))
        return sock
