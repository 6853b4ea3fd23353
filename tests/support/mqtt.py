"""A plain MQTT subscriber for tests: collects what arrives on a topic filter."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.waiting import wait_until


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class Subscriber:
    """Connects, subscribes at QoS 1 and keeps every message, in arrival order."""

    def __init__(
        self,
        port: int,
        topic: str,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        client_id: str = "",
        persistent: bool = False,
    ) -> None:
        self.topic_filter = topic
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.granted: list[int] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        if ca_file:
            self.client.tls_set(ca_certs=ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        properties = None
        if persistent:  # keep the session (and its queue) on the broker for an hour
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, clean_start=not persistent, properties=properties)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError(f"could not subscribe to {topic}")

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
        self.granted = [int(getattr(c, "value", c)) for c in codes]
        self._subscribed.set()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain)))

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, done: Callable[[list[Received]], bool], timeout: float = 15.0) -> list[Received]:
        """Wait until `done(messages)` holds; return the messages (raise AssertionError otherwise)."""
        return wait_until(self.snapshot, done=done, timeout=timeout, what=f"messages on {self.topic_filter}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        # Its callbacks refer back to this subscriber: without them the client goes as soon as
        # the subscriber does, and paho closes its wake-up socket pair then, instead of at a
        # later garbage collection that may finalize the sockets first (a ResourceWarning).
        self.client.on_message = None
        self.client.on_subscribe = None

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
