"""A load generator for bench/ingest: pre-encoded MQTT 3.1.1 PUBLISH packets at QoS 1.

Real agents publish from their own PCs, so on the collector's machine the broker only
sees their bytes. A Python MQTT client in the bench process instead spends about as much
CPU per sample as the collector itself, on the same two cores, and the benchmark would
measure the publisher as much as the ingest path. This sender costs next to nothing per
message: every batch is encoded and framed before the clock starts (as the ceiling's
line-protocol bodies are), then the packets go out in large socket writes while a thread
counts the broker's PUBACKs. QoS 1 and one packet id per message in flight, as agents do:
the broker stores and forwards each one exactly as it would an agent's.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Sequence

from paho.mqtt.properties import VariableByteIntegers

_CONNECT: int = 0x10
_CONNACK: int = 0x20
_PUBLISH_QOS1: int = 0x32
_PUBACK: int = 0x40


def _remaining_length(length: int) -> bytes:
    """MQTT's variable-length integer, as paho encodes it."""
    return bytes(VariableByteIntegers.encode(length))  # type: ignore[no-untyped-call]


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """One PUBLISH at QoS 1, as it travels on the wire."""
    body = _string(topic) + struct.pack("!H", packet_id) + payload
    return bytes([_PUBLISH_QOS1]) + _remaining_length(len(body)) + body


def frame(messages: Sequence[tuple[str, bytes]]) -> list[bytes]:
    """(topic, payload) pairs as PUBLISH packets, numbered as `RawPublisher.send` expects."""
    return [
        publish_packet(topic, payload, index % 65_535 + 1) for index, (topic, payload) in enumerate(messages)
    ]


class RawPublisher:
    """Sends pre-built PUBLISH packets over one connection, at most `window` unacknowledged."""

    def __init__(self, url: str, client_id: str, window: int = 2_000) -> None:
        parsed = urllib.parse.urlsplit(url)
        if window >= 65_535:
            raise ValueError("window must leave packet ids unique among unacknowledged messages")
        self._window = window
        self._sock = socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 1883), 10)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        variable = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 600)  # 3.1.1, clean session
        body = variable + _string(client_id)
        self._sock.sendall(bytes([_CONNECT]) + _remaining_length(len(body)) + body)
        connack = self._recv_exactly(4)
        if connack[0] != _CONNACK or connack[3] != 0:
            raise ConnectionError(f"broker refused the connection: {connack.hex()}")
        self._sock.settimeout(None)
        self._acked = 0
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_acks, name="raw-mqtt-acks", daemon=True)
        self._reader.start()

    def _recv_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self._sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            data += chunk
        return data

    def _read_acks(self) -> None:
        # Mosquitto answers each QoS 1 PUBLISH with a 4-byte PUBACK and sends nothing else
        # to a client that subscribed to nothing, so the stream is PUBACKs back to back.
        pending = b""
        while True:
            try:
                chunk = self._sock.recv(65_536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._acked = -1
                    self._cond.notify_all()
                return
            pending += chunk
            whole = len(pending) // 4
            if pending[0] != _PUBACK:
                raise ConnectionError(f"expected PUBACKs, got {pending[:8].hex()}")
            pending = pending[whole * 4 :]
            with self._cond:
                self._acked += whole
                self._cond.notify_all()

    def send(self, packets: Sequence[bytes], per_write: int = 64, rate: float = 0.0) -> None:
        """Send `packets` (from `frame`) in order, `per_write` to a socket write, at most `rate` a
        second if given; return once all are acknowledged.

        Packet ids repeat every 65,535 messages; the window keeps them unique among those in flight.
        """
        sent = 0
        total = len(packets)
        base = self._acked
        started = time.perf_counter()
        while sent < total:
            with self._cond:
                while sent - (self._acked - base) > self._window - per_write:
                    if self._acked < 0:
                        raise ConnectionError("broker closed the connection")
                    self._cond.wait(5)
            chunk = packets[sent : sent + per_write]
            self._sock.sendall(b"".join(chunk))
            sent += len(chunk)
            if rate > 0 and (ahead := started + sent / rate - time.perf_counter()) > 0:
                time.sleep(ahead)
        deadline = time.monotonic() + 60
        with self._cond:
            while self._acked - base < total:
                if self._acked < 0 or time.monotonic() > deadline:
                    raise ConnectionError(f"{total - (self._acked - base)} messages never acknowledged")
                self._cond.wait(1)

    def close(self) -> None:
        try:
            self._sock.sendall(bytes([0xE0, 0]))  # DISCONNECT
        finally:
            self._sock.close()
        self._reader.join(5)
