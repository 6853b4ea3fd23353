"""Signed commands for tests: a key pair, a Command built and signed like the collector's, a commander.

The commander is a plain MQTT v5 client that publishes a command on an agent's `cmd`
topic with a response topic and correlation data, and waits for the agent's reply on
`reply`, the way the collector does. It can send anything, tampered commands included.
"""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import time
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent import protocol
from agent.protocol import Command, CommandResult, Kind, ParamValue


def public_key_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def make_command(
    agent_id: str,
    check: str,
    params: dict[str, ParamValue] | None = None,
    *,
    lifetime: float = 10.0,
    **kw: Any,
) -> Command:
    now = time.time_ns()
    fields: dict[str, Any] = {
        "v": protocol.PROTOCOL_VERSION,
        "id": secrets.token_hex(8),
        "agent_id": agent_id,
        "check": check,
        "issued_ns": now,
        "expires_ns": now + int(lifetime * 1e9),
        "nonce": secrets.token_hex(12),
        "params": params or {},
    }
    fields.update(kw)
    return Command(**fields)


def sign(command: Command, key: Ed25519PrivateKey) -> Command:
    signature = base64.b64encode(key.sign(protocol.signing_bytes(command))).decode()
    return msgspec.structs.replace(command, signature=signature)


class Commander:
    """Publishes commands to agents and collects their replies by correlation data."""

    def __init__(self, port: int, prefix: str = protocol.DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self._replies: dict[bytes, CommandResult] = {}
        self._cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        # as the collector does: no Nagle, or every command waits for a delayed ACK (40 ms)
        self.client.on_socket_open = lambda _c, _u, s: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/+/reply", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError("commander could not subscribe")

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None)
        if correlation is None:
            return
        with self._cond:
            self._replies[bytes(correlation)] = protocol.decode(msg.payload, CommandResult)
            self._cond.notify_all()

    def send_raw(self, agent_id: str, payload: bytes, timeout: float = 15.0) -> CommandResult:
        """Publish `payload` on the agent's cmd topic and wait for the reply; TimeoutError if none."""
        correlation = secrets.token_bytes(8)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = protocol.topic(self.prefix, agent_id, Kind.REPLY)
        props.CorrelationData = correlation
        self.client.publish(protocol.topic(self.prefix, agent_id, Kind.CMD), payload, qos=1, properties=props)
        deadline = time.monotonic() + timeout
        with self._cond:
            while correlation not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no reply from {agent_id} within {timeout} s")
                self._cond.wait(left)
            return self._replies.pop(correlation)

    def send(self, command: Command, timeout: float = 15.0) -> CommandResult:
        return self.send_raw(command.agent_id, protocol.encode(command), timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
