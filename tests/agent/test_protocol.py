"""The wire contract: what decodes, what is rejected and why."""

from __future__ import annotations

import msgspec
import pytest

from agent import protocol
from agent.protocol import Batch, Command, Kind, Presence, ProtocolError, Sample, Severity, State

BATCH = Batch(
    v=protocol.PROTOCOL_VERSION,
    agent_id="pc-reception-1",
    seq=42,
    created_ns=1_700_000_000_000_000_000,
    site="hq",
    samples=[Sample("memory", {"available_bytes": 1024, "used_percent": 12.5}, {"host": "x"}, 5)],
    states=[State("dns:intranet", "dns_resolves", False, Severity.WARNING, "timed out after 2 s")],
)


def test_batch_round_trips() -> None:
    assert protocol.decode(protocol.encode(BATCH), Batch) == BATCH


def test_a_version_1_batch_is_read_with_its_disk_device_renamed() -> None:
    # A version 1 agent tagged its disk with the block device as `device`, the tag that
    # names SNMP devices: read as such, two PCs with the same layout shared one disk ticket.
    disk = Sample("disk", {"used_percent": 97.0}, {"mount": "/data", "device": "/dev/sdb1"}, 5)
    printer = Sample("printer_supply", {"level_percent": 2}, {"device": "SN1", "supply": "Black"}, 5)
    old = msgspec.structs.replace(BATCH, v=1, samples=[disk, printer])
    decoded = protocol.decode(protocol.encode(old), Batch)
    assert decoded.v == 1
    assert decoded.samples[0].tags == {"mount": "/data", "block_device": "/dev/sdb1"}
    assert decoded.samples[1].tags == printer.tags  # a device's tag stays what it is
    current = msgspec.structs.replace(BATCH, samples=[disk])
    assert protocol.decode(protocol.encode(current), Batch).samples[0].tags == disk.tags  # v2 as sent


def test_a_batch_is_stamped_as_it_is_sent() -> None:
    # The spool keeps the bytes made at measuring time; the stamp goes on at each send.
    payload = protocol.encode(BATCH)
    assert b"sent_ns" not in payload  # nothing to send when the stamp is 0
    first = protocol.stamp_sent(payload, 1_700_000_060_000_000_000)
    again = protocol.stamp_sent(payload, 1_700_000_090_000_000_000)
    assert protocol.decode(first, Batch) == msgspec.structs.replace(BATCH, sent_ns=1_700_000_060_000_000_000)
    assert protocol.decode(again, Batch).sent_ns == 1_700_000_090_000_000_000  # a resend, a fresh stamp
    # an unstamped batch (an agent before the stamp) decodes as before, with no stamp
    assert protocol.decode(payload, Batch).sent_ns == 0
    old = msgspec.structs.replace(BATCH, v=1)
    assert protocol.decode(protocol.encode(old), Batch).sent_ns == 0


def test_a_stamp_never_gets_a_batch_refused() -> None:
    # A batch a few bytes under the size limit goes unstamped rather than over it; so does
    # anything that is not an encoded object, and a clock that reads nothing.
    filler = "x" * 200
    big = msgspec.structs.replace(
        BATCH, states=[State(f"s{n}", "dns_resolves", True, text=filler) for n in range(1_100)]
    )
    payload = protocol.encode(big)
    while len(payload) > protocol.MAX_PAYLOAD_BYTES - 10:
        big = msgspec.structs.replace(big, states=big.states[:-1])
        payload = protocol.encode(big)
    payload = payload[:-1] + b" " * (protocol.MAX_PAYLOAD_BYTES - 10 - len(payload)) + b"}"
    assert len(payload) == protocol.MAX_PAYLOAD_BYTES - 10  # valid JSON, 10 bytes under the limit
    assert protocol.stamp_sent(payload, 1_700_000_000_000_000_000) == payload
    for odd in (b"", b"{}", b"[1]"):
        assert protocol.stamp_sent(odd, 1_700_000_000_000_000_000) == odd
    assert protocol.stamp_sent(protocol.encode(BATCH), 0) == protocol.encode(BATCH)


def test_presence_may_announce_sleep() -> None:
    message = Presence(v=protocol.PROTOCOL_VERSION, agent_id="pc-1", status="offline", reason="sleep")
    assert protocol.decode(protocol.encode(message), Presence).reason == "sleep"


def test_presence_and_command_round_trip() -> None:
    birth = Presence(
        v=1, agent_id="pc-1", status="online", facts=protocol.AgentFacts("0.1", "pc-1", "Linux", 30)
    )
    assert protocol.decode(protocol.encode(birth), Presence) == birth
    cmd = Command(v=1, id="c1", agent_id="pc-1", check="ping", issued_ns=1, expires_ns=2, nonce="abcdefgh")
    assert protocol.decode(protocol.encode(cmd), Command) == cmd


def _mutate(**changes: object) -> bytes:
    raw = msgspec.to_builtins(BATCH)
    raw.update(changes)
    return msgspec.json.encode(raw)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "malformed"),
        (b"{}", "missing required field `v`"),
        (_mutate(v=3), "unsupported protocol version 3"),
        (_mutate(v=0), "unsupported protocol version 0"),
        (_mutate(v=3, samples="changed shape"), "unsupported protocol version 3"),
        (_mutate(seq="42"), "Expected `int`, got `str` - at `$.seq`"),
        (_mutate(seq=-1), "at `$.seq`"),
        (_mutate(agent_id="a/b"), "at `$.agent_id`"),
        (_mutate(agent_id="+"), "at `$.agent_id`"),
        (_mutate(extra=1), "unknown field `extra`"),
        (_mutate(samples=[{"measurement": "bad name", "fields": {}}]), "$.samples[0].measurement"),
        (_mutate(agent_id="pc-1\n"), "at `$.agent_id`"),
        # Sample names are checked once per distinct name, after decoding: each place is named.
        (_mutate(samples=[{"measurement": "memory", "fields": {"used\n": 1}}]), "$.samples[0].fields"),
        (_mutate(samples=[{"measurement": "m", "fields": {"1f": 1}}]), "$.samples[0].fields"),
        (
            _mutate(
                samples=[BATCH.samples[0], {"measurement": "m", "fields": {"f": 1}, "tags": {"a b": "x"}}]
            ),
            "$.samples[1].tags",
        ),
        (_mutate(samples=[{"measurement": "m" * 65, "fields": {"f": 1}}]), "length <= 64"),
        (_mutate(samples=[{"measurement": "m", "fields": {"f": "text"}}]), "$.samples[0].fields"),
        (_mutate(samples=[{"measurement": "m", "fields": {"f": True}}]), "got `bool`"),
        (_mutate(samples=[{"measurement": "m", "fields": {"f": 1}, "tags": {"t": 1}}]), "$.samples[0].tags"),
        (_mutate(states=[{"subject": "s", "condition": "c", "ok": True, "severity": "dire"}]), "severity"),
        (b"{" + b" " * protocol.MAX_PAYLOAD_BYTES + b"}", "exceeds the limit"),
    ],
)
def test_decode_rejects_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as info:
        protocol.decode(payload, Batch)
    assert reason in info.value.reason


def test_a_name_seen_valid_before_does_not_let_a_bad_one_through() -> None:
    protocol.decode(protocol.encode(BATCH), Batch)  # memory, available_bytes, host are now known
    bad = Sample("memory", {"available_bytes": 1, "bad-field": 2}, {"host": "x"})
    with pytest.raises(ProtocolError, match=r"samples\[0\]\.fields"):
        protocol.decode(protocol.encode(msgspec.structs.replace(BATCH, samples=[bad])), Batch)


def test_decode_rejects_too_many_samples() -> None:
    samples = [{"measurement": "m", "fields": {"f": 1}}] * (protocol.MAX_ITEMS_PER_BATCH + 1)
    with pytest.raises(ProtocolError, match=r"\$\.samples"):
        protocol.decode(_mutate(samples=samples), Batch, max_bytes=10**8)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deskwatch/v1/pc-1/metrics", ("pc-1", Kind.METRICS)),
        ("deskwatch/v1/pc.lan_2/state", ("pc.lan_2", Kind.STATE)),
    ],
)
def test_parse_topic(name: str, expected: tuple[str, Kind]) -> None:
    assert protocol.parse_topic(protocol.DEFAULT_PREFIX, name) == expected
    assert protocol.topic(protocol.DEFAULT_PREFIX, *expected) == name


@pytest.mark.parametrize(
    "name",
    [
        "other/v1/pc-1/metrics",
        "deskwatch/v1/pc-1/metrics/x",
        "deskwatch/v1/pc-1/blob",
        "deskwatch/v1/-x/state",
    ],
)
def test_parse_topic_rejects(name: str) -> None:
    with pytest.raises(ProtocolError):
        protocol.parse_topic(protocol.DEFAULT_PREFIX, name)


def test_signing_bytes_ignore_signature_but_cover_everything_else() -> None:
    cmd = Command(v=1, id="c1", agent_id="pc-1", check="ping", issued_ns=1, expires_ns=2, nonce="abcdefgh")
    signed = msgspec.structs.replace(cmd, signature="sig")
    assert protocol.signing_bytes(cmd) == protocol.signing_bytes(signed)
    assert protocol.signing_bytes(cmd) != protocol.signing_bytes(
        msgspec.structs.replace(cmd, agent_id="pc-2")
    )
