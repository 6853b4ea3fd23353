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

Its receive path (`on_payload`, with manual acknowledgement) hands the application what
ingest reads of a message, (topic, payload, mid, qos), for the PUBLISH packets agents
send: QoS 0 or 1 without properties. `split_publishes` takes every such packet that lies complete in the read
buffer at once, where paho would go through select(), three reads, a decoder with a
Properties object, an MQTTMessage with its MQTTMessageInfo and Condition, and two locks
per message: about a third of the collector's time per batch before. Any other packet
(CONNACK, SUBACK, PINGRESP, QoS 2, properties, a malformed or partly received one too
large for the buffer) stops the split and goes through paho's own path, byte for byte
as before. `ack_all` queues the PUBACKs of one flush as one write with one wake-up of
paho's loop, not one each.

All of this leans on about twenty private paho names, as paho 2.2 has them (pyproject.toml
pins the collector to that minor release). `MISSING`, computed at import without raising,
names every one the installed paho lacks or shapes otherwise, checked on real instances;
where it is not empty `install()` does nothing and ingest uses paho's own Client, with one
warning (collector/ingest.py). bench/paths.py measures what the module saves.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, Final, TypeAlias, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.matcher import MQTTMatcher
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_packet: ModuleType | None
try:
    from paho.mqtt import _packet
except ImportError:  # paho before 2.2 decodes packets inside client.py
    _packet = None

_TABLES: Final = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
# The attributes every Properties has; all others are the properties themselves.
_OWN: Final = frozenset(("packetType", "types", "names", "properties"))

READ_SIZE: Final = 65536  # bytes asked of the socket at a time
PUBACK: Final = 0x40

# What the application gets of a PUBLISH: topic, payload, packet identifier (0 at QoS 0), QoS.
Publish: TypeAlias = tuple[str, bytes, int, int]


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
    """Make paho build LeanProperties for every packet it decodes from now on (idempotent).

    Does nothing where the paho installed is not one this module fits (`MISSING`).
    """
    if _packet is not None and not MISSING:
        _packet.Properties = LeanProperties  # type: ignore[attr-defined]


class LeanMatcher(MQTTMatcher):
    """paho's topic matcher, which answers at once while no filter is registered."""

    def iter_match(self, topic: str) -> Iterator[Any]:
        if not self._root._children:
            return iter(())
        return super().iter_match(topic)  # type: ignore[no-any-return, no-untyped-call]


def split_publishes(data: bytes, at: int, v5: bool) -> tuple[list[Publish], int]:
    """The PUBLISH packets at QoS 0 or 1 without properties lying complete from `data[at]` on.

    Returns them and where the first packet it did not take starts: another kind of
    packet, one it cannot take whole, or the end of the data.
    """
    publishes: list[Publish] = []
    end = len(data)
    while at < end:
        first = data[at]
        qos = (first >> 1) & 3
        if first >> 4 != 3 or qos > 1:
            break
        length, shift, start = 0, 0, at + 1
        while start < end and shift <= 21:  # the remaining length: at most 4 bytes
            byte = data[start]
            start += 1
            length |= (byte & 127) << shift
            shift += 7
            if byte < 128:
                break
        else:
            break  # cut short, or longer than MQTT allows (paho reports the latter)
        stop = start + length
        if stop > end or length < 2:
            break  # not all here yet, or malformed: paho's path
        topic_end = start + 2 + (data[start] << 8 | data[start + 1])
        body = topic_end + 2 * qos  # after the packet identifier
        if topic_end == start + 2 or body + v5 > stop or (v5 and data[body] != 0):
            break  # no topic (an alias), malformed, or with properties: paho's path
        try:
            topic = data[start + 2 : topic_end].decode()
        except UnicodeDecodeError:
            break
        mid = data[topic_end] << 8 | data[topic_end + 1] if qos else 0
        publishes.append((topic, data[body + v5 : stop], mid, qos))
        at = stop
    return publishes, at


class ReadBuffered:
    """A plain TCP socket whose reads are served from one recv() of up to 64 KiB."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._data = b""
        self._at = 0
        self._failed: OSError | None = None  # met while reading ahead; the next recv() raises it
        self._closed = False  # the peer closed while reading ahead; the next recv() says so

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._data) and not self._refill():
            if self._failed is not None:
                failed, self._failed = self._failed, None
                raise failed
            if self._closed:
                return b""
            raise BlockingIOError  # nothing there: as paho expects of a non-blocking socket
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return chunk

    def pending(self) -> int:
        """Bytes already read from the socket and not yet taken."""
        return len(self._data) - self._at

    def take_publishes(self, v5: bool) -> list[Publish]:
        """The PUBLISH packets split_publishes takes at the head; reads more once if none is whole."""
        publishes, self._at = split_publishes(self._data, self._at, v5)
        if not publishes and self.pending() < READ_SIZE and self._refill():
            publishes, self._at = split_publishes(self._data, self._at, v5)
        return publishes

    def _refill(self) -> bool:
        """Read what the socket has, after the bytes not yet taken; False if it gave nothing."""
        if self._failed is not None or self._closed:
            return False
        try:
            data = self._sock.recv(READ_SIZE)
        except BlockingIOError:
            return False
        except OSError as err:
            self._failed = err
            return False
        if not data:
            self._closed = True
            return False
        self._data = self._data[self._at :] + data if self.pending() else data
        self._at = 0
        return True

    def __getattr__(self, name: str) -> Any:  # send, fileno, setblocking, close, ...
        return getattr(self._sock, name)


class LeanClient(mqtt.Client):
    """paho's Client with LeanMatcher, buffered reads on plain TCP, and a short receive path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_message_filtered = LeanMatcher()  # type: ignore[no-untyped-call]
        # Called with (topic, payload, mid, qos) for the PUBLISH packets the short path
        # takes (with manual_ack only: the caller acknowledges, with ack() or ack_all());
        # on_message still gets every other one. None: paho's path for all.
        self.on_payload: Callable[[str, bytes, int, int], None] | None = None

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if type(sock) is socket.socket:  # TLS and websockets keep theirs
            return cast(Any, ReadBuffered(sock))
        return sock

    def _packet_read(self) -> MQTTErrorCode:
        deliver, sock = self.on_payload, self._sock
        if (
            deliver is not None
            and self._manual_ack  # otherwise paho's path sends each PUBACK
            and type(sock) is ReadBuffered
            and self._in_packet["command"] == 0  # paho is not in the middle of a packet
            and not self._on_message_filtered._root._children  # no per-topic callbacks to ask
        ):
            publishes = sock.take_publishes(self._protocol == mqtt.MQTTv5)
            if publishes:
                with self._msgtime_mutex:
                    self._last_bytes_received = mqtt.time_func()
                with self._in_callback_mutex:
                    for publish in publishes:
                        try:
                            deliver(*publish)
                        except Exception as err:  # as paho treats on_message
                            self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_payload: %s", err)
                            if not self.suppress_exceptions:
                                raise
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._packet_read()

    def ack_all(self, acks: Iterable[tuple[int, int]]) -> None:
        """Acknowledge (mid, qos) pairs in order, the QoS 1 ones queued as one write."""
        pubacks = bytearray()
        for mid, qos in acks:
            if qos == 1:
                pubacks += bytes((PUBACK, 2, mid >> 8, mid & 0xFF))
                continue
            if qos:
                self._queue_pubacks(pubacks)
                self.ack(mid, qos)
        self._queue_pubacks(pubacks)

    def _queue_pubacks(self, pubacks: bytearray) -> None:
        if pubacks and self._manual_ack:
            self._packet_queue(PUBACK, bytes(pubacks), 0, 1)
        pubacks.clear()


def _takes(function: object, *names: str) -> bool:
    """True if `function` can be called with exactly these positional parameters."""
    try:
        parameters = list(inspect.signature(function).parameters.values())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters if p.kind in positional and p.default is inspect.Parameter.empty]
    return [p.name for p in parameters[: len(names)]] == list(names) and len(required) <= len(names)


def _has_lock(owner: object, name: str) -> bool:
    lock = getattr(owner, name, None)
    return hasattr(lock, "__enter__") and hasattr(lock, "__exit__")


def missing() -> tuple[str, ...]:
    """The private paho names this module relies on that the installed paho lacks or shapes otherwise.

    Every name that LeanProperties, LeanMatcher, LeanClient and install() read, write or
    override, checked on real instances: a paho release that renames or reshapes one of
    them would otherwise break ingest at its first message, or quietly (a keepalive
    timestamp written to an attribute paho no longer reads).
    """
    gaps: list[str] = []

    def need(ok: object, name: str) -> None:
        if not ok:
            gaps.append(name)

    need(
        _packet is not None and getattr(_packet, "Properties", None) in (Properties, LeanProperties),
        "paho.mqtt._packet.Properties",
    )
    tables = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    need(set(vars(tables)) == _OWN, "Properties attributes (packetType, types, names, properties)")
    need(isinstance(getattr(tables, "types", None), list), "Properties.types")
    need(isinstance(getattr(tables, "names", None), dict), "Properties.names")
    need(isinstance(getattr(tables, "properties", None), dict), "Properties.properties")
    need(_takes(Properties.unpack, "self", "buffer"), "Properties.unpack(buffer)")
    need(_takes(Properties.clear, "self"), "Properties.clear()")
    matcher = MQTTMatcher()  # type: ignore[no-untyped-call]
    need(
        isinstance(getattr(getattr(matcher, "_root", None), "_children", None), dict),
        "MQTTMatcher._root._children",
    )
    need(_takes(MQTTMatcher.iter_match, "self", "topic"), "MQTTMatcher.iter_match(topic)")
    need(callable(getattr(mqtt, "time_func", None)), "paho.mqtt.client.time_func")
    need(hasattr(mqtt, "MQTT_LOG_ERR"), "paho.mqtt.client.MQTT_LOG_ERR")
    need(_takes(mqtt.Client._create_socket, "self"), "Client._create_socket()")
    need(_takes(mqtt.Client._packet_read, "self"), "Client._packet_read()")
    need(
        _takes(mqtt.Client._packet_queue, "self", "command", "packet", "mid", "qos"),
        "Client._packet_queue(command, packet, mid, qos)",
    )
    need(_takes(mqtt.Client._easy_log, "self", "level", "fmt"), "Client._easy_log(level, fmt, *args)")
    need(_takes(mqtt.Client.ack, "self", "mid", "qos"), "Client.ack(mid, qos)")
    try:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, manual_ack=True)
    except Exception as err:  # a Client that cannot even be built is not one to subclass
        return (*gaps, f"Client() ({err})")
    own = vars(client)
    need("_sock" in own, "Client._sock")
    need(own.get("_manual_ack") is True, "Client._manual_ack")
    need(
        isinstance(own.get("_in_packet"), dict) and own["_in_packet"].get("command") == 0,
        "Client._in_packet['command']",
    )
    need(isinstance(own.get("_on_message_filtered"), MQTTMatcher), "Client._on_message_filtered")
    need("_protocol" in own, "Client._protocol")
    need(isinstance(own.get("_last_bytes_received"), float), "Client._last_bytes_received")
    need(_has_lock(client, "_msgtime_mutex"), "Client._msgtime_mutex")
    need(_has_lock(client, "_in_callback_mutex"), "Client._in_callback_mutex")
    need(isinstance(own.get("suppress_exceptions"), bool), "Client.suppress_exceptions")
    return tuple(gaps)


# Checked once, at import: ingest uses paho's own Client when anything is missing.
MISSING: Final = missing()
