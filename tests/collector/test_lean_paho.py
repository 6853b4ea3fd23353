"""LeanProperties must read and write MQTT v5 properties exactly as paho's own class does."""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import create_engine

from collector import lean_paho
from collector.config import CollectorConfig
from collector.ingest import Ingest
from collector.lean_paho import LeanMatcher, LeanProperties, ReadBuffered
from collector.selfmetrics import SelfMetrics
from collector.writer import Sink
from tests.support.services import Mosquitto


def publish_properties(kind: type[Properties]) -> Any:
    """Every property MQTT v5 allows on a PUBLISH, the repeatable ones twice."""
    props = kind(PacketTypes.PUBLISH)
    props.PayloadFormatIndicator = 1
    props.MessageExpiryInterval = 3600
    props.TopicAlias = 7
    props.ResponseTopic = "deskwatch/v1/pc-00001/reply"
    props.CorrelationData = b"\x00\x01call-42"
    props.UserProperty = [("site", "hq"), ("site", "branch")]
    props.SubscriptionIdentifier = [5, 300_000]
    props.ContentType = "application/json"
    return props


def own_properties(props: Properties) -> dict[str, Any]:
    return {k: v for k, v in vars(props).items() if k not in ("types", "names", "properties")}


def test_unpack_and_pack_match_paho() -> None:
    wire = publish_properties(Properties).pack()
    assert publish_properties(LeanProperties).pack() == wire
    theirs: Any = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    ours: Any = LeanProperties(PacketTypes.PUBLISH)
    assert theirs.unpack(wire)[1] == ours.unpack(wire)[1] == len(wire)
    assert own_properties(ours) == own_properties(theirs)
    assert ours.UserProperty == [("site", "hq"), ("site", "branch")]
    assert ours.pack() == wire
    assert str(ours) == str(theirs)


def test_unpack_forgets_the_previous_message() -> None:
    props: Any = LeanProperties(PacketTypes.PUBLISH)
    props.unpack(publish_properties(Properties).pack())
    assert props.unpack(b"\x00")[1] == Properties(PacketTypes.PUBLISH).unpack(b"\x00")[1] == 1  # type: ignore[no-untyped-call]
    assert own_properties(props) == {"packetType": PacketTypes.PUBLISH}
    assert props.isEmpty()


def test_rules_still_apply() -> None:
    props: Any = LeanProperties(PacketTypes.PUBLISH)
    with pytest.raises(Exception, match="does not apply"):
        props.ReceiveMaximum = 10  # a CONNECT property


def test_the_collector_decodes_publishes_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_packet, "Properties", Properties)  # as paho ships it
    ingest = Ingest(CollectorConfig(), create_engine("sqlite://"), Sink.__new__(Sink), SelfMetrics())
    assert isinstance(ingest._client._on_message_filtered, LeanMatcher)
    topic, payload = b"deskwatch/v1/pc-00001/metrics", b'{"v":1}'
    props = publish_properties(Properties).pack()
    packet = struct.pack("!H", len(topic)) + topic + struct.pack("!H", 9) + props + payload
    decoded: Any = _packet.decode_publish(0x32, packet, MQTTProtocolVersion.MQTTv5)
    assert type(decoded.properties) is LeanProperties
    assert decoded.payload == payload and decoded.mid == 9
    assert decoded.properties.ContentType == "application/json"
    lean_paho.install()  # idempotent
    assert type(_packet.decode_publish(0x32, packet, MQTTProtocolVersion.MQTTv5).properties) is LeanProperties


def test_the_matcher_answers_at_once_until_a_filter_is_added() -> None:
    client = lean_paho.LeanClient(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    matcher = client._on_message_filtered
    assert isinstance(matcher, LeanMatcher)
    assert list(matcher.iter_match("deskwatch/v1/pc-1/metrics")) == []
    seen: list[str] = []
    client.message_callback_add("deskwatch/v1/+/reply", lambda *_: seen.append("reply"))
    client.message_callback_add("deskwatch/#", lambda *_: seen.append("all"))
    for callback in matcher.iter_match("deskwatch/v1/pc-1/reply"):
        callback()
    assert sorted(seen) == ["all", "reply"]
    assert len(list(matcher.iter_match("deskwatch/v1/pc-1/metrics"))) == 1
    client.message_callback_remove("deskwatch/#")
    client.message_callback_remove("deskwatch/v1/+/reply")
    assert list(matcher.iter_match("deskwatch/v1/pc-1/reply")) == []


def test_buffered_reads_give_the_bytes_in_order_and_say_what_is_pending() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        reader = ReadBuffered(ours)
        with pytest.raises(BlockingIOError):
            reader.recv(1)  # nothing sent yet: what paho expects from a non-blocking socket
        theirs.sendall(b"\x30\x05hello\x30\x02hi")
        time.sleep(0.05)
        assert reader.recv(1) == b"\x30" and reader.pending() == 10
        assert reader.recv(1) == b"\x05" and reader.recv(5) == b"hello"
        assert reader.recv(100) == b"\x30\x02hi" and reader.pending() == 0
        assert reader.fileno() == ours.fileno()  # everything else is the socket's
        theirs.shutdown(socket.SHUT_WR)
        time.sleep(0.05)
        assert reader.recv(1) == b""  # the peer closed


def test_the_collector_client_reads_through_the_buffer(mosquitto: Mosquitto) -> None:
    client = lean_paho.LeanClient(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    got: list[bytes] = []
    client.on_connect = lambda c, *_: c.subscribe("t/#", qos=1)
    client.on_message = lambda _c, _u, message: got.append(message.payload)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert isinstance(client.socket(), ReadBuffered)
        time.sleep(0.2)
        sent = [f"message {i}".encode() * (i % 7 + 1) for i in range(300)]
        publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        for payload in sent:
            publisher.publish("t/x", payload, qos=1)
        while len(got) < len(sent) and time.monotonic() < deadline + 5:
            time.sleep(0.02)
        publisher.loop_stop()
        assert got == sent
    finally:
        client.loop_stop()
