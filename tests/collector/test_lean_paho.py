"""LeanProperties must read and write MQTT v5 properties exactly as paho's own class does."""

from __future__ import annotations

import struct
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
from collector.lean_paho import LeanMatcher, LeanProperties
from collector.selfmetrics import SelfMetrics
from collector.writer import Sink


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
    client = lean_paho.lean_client(
        mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    )
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
