"""lean_paho must behave as paho does: properties, topic matching, reads, the short receive path, acks."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties, VariableByteIntegers
from sqlalchemy import create_engine

from collector import lean_paho
from collector.ingest import Ingest, IngestSettings
from collector.lean_paho import READ_SIZE, LeanMatcher, LeanProperties, ReadBuffered, split_publishes
from collector.selfmetrics import SelfMetrics
from collector.writer import Sink
from tests.support.services import Mosquitto
from tests.support.waiting import wait_until


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
    ingest = Ingest(IngestSettings(), create_engine("sqlite://"), Sink.__new__(Sink), SelfMetrics())
    assert isinstance(ingest._client._on_message_filtered, LeanMatcher)
    assert ingest._client.on_payload == ingest._on_payload  # agents' batches take the short path
    topic, payload = b"deskwatch/v1/pc-00001/metrics", b'{"v":1}'
    props = publish_properties(Properties).pack()
    packet = struct.pack("!H", len(topic)) + topic + struct.pack("!H", 9) + props + payload
    decoded: Any = _packet.decode_publish(0x32, packet, MQTTProtocolVersion.MQTTv5)
    assert type(decoded.properties) is LeanProperties
    assert decoded.payload == payload and decoded.mid == 9
    decoded_props: Any = decoded.properties
    assert decoded_props.ContentType == "application/json"
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
        wait_readable(ours)
        assert reader.recv(1) == b"\x30" and reader.pending() == 10
        assert reader.recv(1) == b"\x05" and reader.recv(5) == b"hello"
        assert reader.recv(100) == b"\x30\x02hi" and reader.pending() == 0
        assert reader.fileno() == ours.fileno()  # everything else is the socket's
        theirs.shutdown(socket.SHUT_WR)
        wait_readable(ours)
        assert reader.recv(1) == b""  # the peer closed


def test_the_collector_client_reads_through_the_buffer(mosquitto: Mosquitto) -> None:
    client = lean_subscriber(mosquitto.port, "lean-buffered", manual_ack=False)
    got: list[bytes] = []
    client.on_message = lambda _c, _u, message: got.append(bytes(message.payload))
    with publishing_to(client, mosquitto.port) as publisher:
        assert isinstance(client.socket(), ReadBuffered)
        sent = [f"message {i}".encode() * (i % 7 + 1) for i in range(300)]
        for payload in sent:
            publisher.publish("t/x", payload, qos=1)
        wait_until(lambda: len(got) >= len(sent), timeout=10, what="every message")
        assert got == sent


# The short receive path: split_publishes, ReadBuffered.take_publishes, on_payload, ack_all.


def publish_packet(
    topic: bytes, payload: bytes, qos: int, mid: int, props: bytes | None, flags: int = 0
) -> bytes:
    """A PUBLISH as a broker sends it; `props` None for MQTT 3.1.1 (no property block)."""
    body = struct.pack("!H", len(topic)) + topic + (struct.pack("!H", mid) if qos else b"")
    body += (props if props is not None else b"") + payload
    return bytes([0x30 | qos << 1 | flags]) + bytes(VariableByteIntegers.encode(len(body))) + body  # type: ignore[no-untyped-call]


def paho_reads(packet: bytes, v5: bool) -> tuple[str, bytes, int, int]:
    """What paho's own decoder makes of one PUBLISH packet, as on_payload gets it."""
    length = 1
    while packet[length] & 0x80:
        length += 1
    protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
    result: Any = _packet.decode_publish(packet[0], packet[length + 1 :], protocol)
    return result.topic.decode(), result.payload, result.mid, result.qos


@st.composite
def broker_packets(draw: st.DrawFn, v5: bool) -> tuple[bytes, bool]:
    """One packet a broker may send, and whether the short path should take it."""
    kind = draw(st.sampled_from(["simple"] * 6 + ["qos2", "properties", "bad_topic", "empty_topic", "other"]))
    if kind == "other":  # PINGRESP, SUBACK, PUBACK: paho's business
        return draw(st.sampled_from([b"\xd0\x00", b"\x90\x04\x00\x01\x00\x01", b"\x40\x02\x00\x07"])), False
    topic = draw(st.text(min_size=1, max_size=40)).encode()
    if kind == "bad_topic":
        topic = b"dw/\xff\xfe"
    elif kind == "empty_topic":
        topic = b""
    payload = draw(st.binary(max_size=400))
    qos = 2 if kind == "qos2" else draw(st.integers(0, 1))
    props = None
    if v5:
        props = publish_properties(Properties).pack() if kind == "properties" else b"\x00"
    flags = draw(st.integers(0, 1)) | draw(st.integers(0, 1)) << 3  # retain, dup
    packet = publish_packet(topic, payload, qos, draw(st.integers(1, 65535)), props, flags)
    return packet, kind == "simple" or (kind == "properties" and not v5)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_split_takes_what_paho_reads_up_to_the_first_packet_for_paho(data: st.DataObject) -> None:
    v5 = data.draw(st.booleans())
    packets = data.draw(st.lists(broker_packets(v5), max_size=12))
    wire = b"".join(packet for packet, _ in packets)
    expected: list[tuple[str, bytes, int, int]] = []
    stop = 0
    for packet, simple in packets:
        if not simple:
            break
        expected.append(paho_reads(packet, v5))
        stop += len(packet)
    assert split_publishes(wire, 0, v5) == (expected, stop)
    # Cut anywhere (a read ends mid-packet): only the packets wholly before the cut.
    cut = data.draw(st.integers(0, len(wire)))
    whole = 0
    taken: list[tuple[str, bytes, int, int]] = []
    for (packet, _), item in zip(packets, expected, strict=False):  # expected stops early
        if whole + len(packet) > cut:
            break
        taken.append(item)
        whole += len(packet)
    assert split_publishes(wire[:cut], 0, v5) == (taken, whole)


def test_split_leaves_malformed_lengths_to_paho() -> None:
    five_byte_length = b"\x32\xff\xff\xff\xff\x01" + b"\x00" * 8
    assert split_publishes(five_byte_length, 0, True) == ([], 0)
    topic_past_the_end = b"\x32\x04\x00\x09ab"
    assert split_publishes(topic_past_the_end, 0, True) == ([], 0)
    no_room_for_mid = b"\x32\x04\x00\x02ab"
    assert split_publishes(no_room_for_mid, 0, True) == ([], 0)
    ok = publish_packet(b"t", b"x", 1, 5, b"\x00")
    assert split_publishes(b"junk" + ok, 4, True) == ([("t", b"x", 5, 1)], 4 + len(ok))


def test_take_publishes_reassembles_packets_cut_across_reads() -> None:
    packets = [
        publish_packet(f"dw/{i}".encode(), bytes([i]) * (i * 97 % 3000), 1, i + 1, b"\x00")
        for i in range(200)
    ]
    wire = b"".join(packets)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        reader = ReadBuffered(ours)
        got: list[tuple[str, bytes, int, int]] = []
        at = 0
        while at < len(wire):
            step = (at * 7919) % 4999 + 1  # odd sizes, so reads end inside headers and payloads
            theirs.sendall(wire[at : at + step])
            at += step
            wait_readable(ours)
            got += reader.take_publishes(v5=True)

        def taken() -> int:
            got.extend(reader.take_publishes(v5=True))
            return len(got)

        wait_until(taken, done=lambda count: count >= len(packets), what="every packet taken")
        assert got == [paho_reads(packet, True) for packet in packets]
        assert reader.pending() == 0


def test_take_publishes_leaves_a_packet_larger_than_a_read_to_paho() -> None:
    big = publish_packet(b"dw/big", b"x" * (READ_SIZE + 10), 1, 1, b"\x00")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        reader = ReadBuffered(ours)
        theirs.sendall(big)
        wait_readable(ours)
        assert reader.take_publishes(v5=True) == []
        assert reader.take_publishes(v5=True) == []  # no more reading ahead: paho reads it its way
        assert reader.recv(1) == big[:1]


def test_a_failed_read_ahead_reaches_paho() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        reader = ReadBuffered(ours)
        theirs.sendall(b"\x32\x10\x00")  # part of a packet, then the peer is gone
        theirs.close()
        wait_readable(ours)
        assert reader.take_publishes(v5=True) == []
        assert reader.recv(100) == b"\x32\x10\x00"
        assert reader.recv(1) == b""  # what paho takes as the connection lost


def lean_subscriber(
    port: int, client_id: str, receive_maximum: int = 65535, manual_ack: bool = True
) -> lean_paho.LeanClient:
    """A LeanClient in a persistent session subscribed to t/#, connecting (loop not started)."""
    client = lean_paho.LeanClient(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    client.on_connect = lambda c, *_: c.subscribe("t/#", qos=1)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 300
    props.ReceiveMaximum = receive_maximum
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    return client


def wait_readable(sock: socket.socket) -> None:
    """Until the peer's bytes (or its close) can be read from `sock`."""
    wait_until(lambda: select.select([sock], [], [], 0)[0], what="the socket to be readable")


@contextlib.contextmanager
def publishing_to(client: lean_paho.LeanClient, port: int) -> Iterator[mqtt.Client]:
    """`client` running and subscribed, and a publisher on the same broker."""
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.loop_start()
    publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    try:
        wait_until(subscribed.is_set, what="the broker to acknowledge the subscription")
        publisher.connect("127.0.0.1", port)
        publisher.loop_start()
        yield publisher
    finally:
        publisher.loop_stop()
        client.loop_stop()


def test_every_message_arrives_once_by_one_path_or_the_other(mosquitto: Mosquitto) -> None:
    """QoS 0 and 1, retained, with properties, larger than a read: through a real broker."""
    client = lean_subscriber(mosquitto.port, "lean-paths")
    lean: list[tuple[str, bytes, int]] = []
    slow: list[tuple[str, bytes, int]] = []
    client.on_payload = lambda topic, payload, _mid, qos: lean.append((topic, payload, qos))
    client.on_message = lambda _c, _u, m: slow.append((m.topic, bytes(m.payload), m.qos))
    with publishing_to(client, mosquitto.port) as publisher:
        expected_lean: list[tuple[str, bytes, int]] = []
        expected_slow: list[tuple[str, bytes, int]] = []
        with_props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        with_props.UserProperty = [("site", "hq")]
        for i in range(400):
            qos = i % 2
            topic = f"t/{qos}/{i % 3}"
            size = READ_SIZE * 3 if i % 97 == 0 else i * 37 % 5000
            payload = f"{i}:".encode() + b"p" * size
            if i % 50 == 7:
                publisher.publish(topic, payload, qos=qos, properties=with_props).wait_for_publish(5)
                expected_slow.append((topic, payload, qos))
            else:
                publisher.publish(topic, payload, qos=qos, retain=i % 11 == 0).wait_for_publish(5)
                (expected_slow if size > READ_SIZE else expected_lean).append((topic, payload, qos))
        wait_until(lambda: len(lean) + len(slow) >= 400, what="all 400 messages")
        for topic in {t for t, _, _ in expected_lean + expected_slow}:
            assert [m for m in lean if m[0] == topic] == [m for m in expected_lean if m[0] == topic]
            assert [m for m in slow if m[0] == topic] == [m for m in expected_slow if m[0] == topic]


def test_ack_all_acknowledges_in_one_write_and_frees_the_window(mosquitto: Mosquitto) -> None:
    client = lean_subscriber(mosquitto.port, "lean-acks", receive_maximum=20)
    got: list[tuple[int, int]] = []
    client.on_payload = lambda _topic, _payload, mid, qos: got.append((mid, qos))
    with publishing_to(client, mosquitto.port) as publisher:
        for i in range(100):
            publisher.publish("t/acks", str(i).encode(), qos=1)
        wait_until(lambda: len(got) >= 20, what="the first 20 messages")
        time.sleep(0.3)  # a fixed time: nothing more may come until they are acknowledged
        assert len(got) == 20  # the broker waits for acknowledgements
        acked = 0
        while acked < 100:
            wait_until(
                lambda done=acked: len(got) > done, timeout=5, what=f"more after {acked} acknowledgements"
            )
            batch = got[acked:]
            writes = len(client._out_packet)
            client.ack_all(batch)
            assert len(client._out_packet) <= writes + 1  # one queued write however many
            acked += len(batch)
        assert len(got) == 100
        client.disconnect()
    # Everything was acknowledged: the same session gets nothing again.
    again = lean_subscriber(mosquitto.port, "lean-acks", receive_maximum=20)
    redelivered: list[int] = []
    again.on_payload = lambda _topic, _payload, mid, _qos: redelivered.append(mid)
    again.loop_start()
    try:
        wait_until(again.is_connected, what="the second session to connect")
        time.sleep(0.5)  # a fixed time: a redelivery would come right after the connect; none may
        assert redelivered == []
    finally:
        again.loop_stop()


def test_without_manual_ack_paho_delivers_and_acknowledges(mosquitto: Mosquitto) -> None:
    client = lean_subscriber(mosquitto.port, "lean-auto-ack", manual_ack=False)
    lean: list[bytes] = []
    slow: list[bytes] = []
    client.on_payload = lambda _topic, payload, _mid, _qos: lean.append(payload)
    client.on_message = lambda _c, _u, m: slow.append(bytes(m.payload))
    with publishing_to(client, mosquitto.port) as publisher:
        infos = [publisher.publish("t/auto", str(i).encode(), qos=1) for i in range(30)]
        wait_until(lambda: len(slow) >= 30, what="30 messages through paho")
        assert slow == [str(i).encode() for i in range(30)] and lean == []
        for info in infos:
            info.wait_for_publish(5)


def test_an_exception_in_on_payload_is_paho_s_to_report(mosquitto: Mosquitto) -> None:
    client = lean_subscriber(mosquitto.port, "lean-raises")
    client.suppress_exceptions = True
    got: list[bytes] = []

    def deliver(_topic: str, payload: bytes, _mid: int, _qos: int) -> None:
        if payload == b"bad":
            raise ValueError("cannot take it")
        got.append(payload)

    client.on_payload = deliver
    with publishing_to(client, mosquitto.port) as publisher:
        for payload in (b"one", b"bad", b"two"):
            publisher.publish("t/raise", payload, qos=1)
        wait_until(lambda: len(got) >= 2, what="the two good payloads")
        assert got == [b"one", b"two"] and client.is_connected()
