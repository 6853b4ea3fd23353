"""The fast lane (collector/fastlane.py, scan_batch in collector/_lines.c) against the ordinary way.

For any payload, valid or not, `decode_batch` must give what decoding the whole payload
with agent.protocol.decode and building its lines with line_protocol.batch_body gives:
the same body byte for byte, the same Batch minus the samples no observer wants, or the
same ProtocolError. The lane parses untrusted JSON in C, so the payloads here include
other JSON spellings of the same batch, malformed and truncated ones, and random bytes.
"""

from __future__ import annotations

import json
import math
import random
import string
import struct
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agent.protocol import MAX_ITEMS_PER_BATCH, Batch, ProtocolError, Sample, State, decode, encode
from collector import fastlane, line_protocol
from collector.fastlane import Decoded, decode_batch, wanted
from tests.support import fake_agents

KEEP_PAIRS = {("cpu", "used_percent"), ("disk", "free_bytes")}
KEEP = wanted(KEEP_PAIRS)


def reference(payload: bytes, keep: set[tuple[str, str]] = KEEP_PAIRS) -> Decoded:
    """The ordinary way: the whole payload through msgspec, then the line builder."""
    batch = decode(payload, Batch)
    body, lines = line_protocol.batch_body(batch)
    kept = [s for s in batch.samples if any((s.measurement, f) in keep for f in s.fields)]
    return Decoded(
        msgspec.structs.replace(batch, samples=kept), body, lines, len(batch.samples) + len(batch.states)
    )


def outcome(decoder: Callable[[bytes], Decoded], payload: bytes) -> Decoded | str:
    try:
        return decoder(payload)
    except ProtocolError as err:
        return f"ProtocolError: {err.reason}"


def assert_same(payload: bytes) -> Decoded | str:
    ours = outcome(lambda p: decode_batch(p, KEEP), payload)
    assert ours == outcome(reference, payload)
    return ours


def lane_takes(payload: bytes) -> bool:
    native = line_protocol.native_module()
    assert native is not None, "collector/_lines.c is not built: run deploy/install-deps.sh"
    return (
        native.scan_batch(
            payload,
            KEEP,
            fastlane._batch_tags,
            fastlane._raw_series,
            fastlane._raw_series_parts,
            MAX_ITEMS_PER_BATCH,
        )
        is not None
    )


_names = st.sampled_from(["cpu", "disk", "net", "x_1", "_y", "A" * 64])
_tag_values = st.text(alphabet=string.ascii_letters + ' ,=\\\n\t"/é€😀\x00', max_size=8)
_numbers = st.one_of(
    st.integers(-(2**40), 2**40),
    st.integers(-(2**63) + 1, 2**63 - 1),  # -2**63 is msgspec's: its magnitude is beyond 63 bits
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(places=3, min_value=-(10**9), max_value=10**9).map(float),
    st.sampled_from(
        [0.0, -0.0, 5e-324, 1e-310, 1.7976931348623157e308, 1e22, 0.1, 1e16, 123456789012345680.0]
    ),
)
_times = st.one_of(st.just(0), st.integers(0, 2**63 - 1))
# Beyond 64 bits: valid, but not for the lane (the whole payload goes the ordinary way).
_big_numbers = st.one_of(_numbers, st.integers(-(2**70), 2**70))
_big_times = st.one_of(_times, st.integers(2**63, 2**64))


def samples(
    numbers: st.SearchStrategy[int | float], times: st.SearchStrategy[int]
) -> st.SearchStrategy[Sample]:
    return st.builds(
        Sample,
        measurement=_names,
        fields=st.dictionaries(
            st.sampled_from(["used_percent", "free_bytes", "value", "v2"]), numbers, min_size=0, max_size=3
        ),
        tags=st.dictionaries(
            st.one_of(st.sampled_from(["item", "unit", "agent_id", "site"]), st.just("t" * 64)),
            _tag_values,
            max_size=3,
        ),
        time_ns=times,
    )


def batches(items: st.SearchStrategy[Sample]) -> st.SearchStrategy[Batch]:
    return st.builds(
        Batch,
        v=st.just(1),
        agent_id=st.sampled_from(["pc-1", "pc-00042", "a.b_c"]),
        seq=st.integers(0, 2**40),
        created_ns=st.integers(0, 2**62),
        site=st.sampled_from(["", "hq", "Main office", "Zürich, 2nd=floor"]),
        samples=st.lists(items, max_size=8),
        spool_id=st.sampled_from(["", "3f9a0c1d2e4b5a69"]),
        states=st.lists(
            st.builds(
                State, subject=st.just("dns:intranet"), condition=st.just("dns_resolves"), ok=st.booleans()
            ),
            max_size=2,
        ),
    )


_batches = batches(samples(_numbers, _times))
_any_batches = st.one_of(_batches, batches(samples(_big_numbers, _big_times)))


def respell(payload: bytes, rng: random.Random) -> bytes:
    """The same JSON value written another way: spaces, \\u escapes, sample keys reordered."""
    value = json.loads(payload)
    for sample in value.get("samples", []):
        items = list(sample.items())
        rng.shuffle(items)
        sample.clear()
        sample.update(items)
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1, "\t"]))
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=400, deadline=None)
@given(message=_batches)
def test_the_lane_gives_what_the_ordinary_way_gives(message: Batch) -> None:
    payload = encode(message)
    assert lane_takes(payload) or not message.samples  # no "samples" key: nothing to win
    assert isinstance(assert_same(payload), Decoded)


@settings(max_examples=200, deadline=None)
@given(message=_any_batches)
def test_any_batch_gives_what_the_ordinary_way_gives(message: Batch) -> None:
    assert isinstance(assert_same(encode(message)), Decoded)


@settings(max_examples=300, deadline=None)
@given(message=_any_batches, seed=st.integers(0, 2**32))
def test_other_spellings_of_the_same_batch(message: Batch, seed: int) -> None:
    payload = respell(encode(message), random.Random(seed))
    assert isinstance(assert_same(payload), Decoded)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=_any_batches, seed=st.integers(0, 2**32), edits=st.integers(1, 4))
def test_damaged_payloads(message: Batch, seed: int, edits: int) -> None:
    rng = random.Random(seed)
    data = bytearray(encode(message))
    assume(data)
    for _ in range(edits):
        at = rng.randrange(len(data))
        action = rng.random()
        if action < 0.4:
            data[at] = rng.choice(b'{}[]:,"\\-+.0123456789eEabtnu \x00\xff\xc3')
        elif action < 0.7:
            del data[at]
        else:
            data.insert(at, rng.choice(b'{}[]:,"\\-.019eE \x80'))
    assert_same(bytes(data))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    assert_same(data)


@settings(max_examples=200, deadline=None)
@given(message=_batches, cut=st.floats(0, 1))
def test_truncated_payloads(message: Batch, cut: float) -> None:
    payload = encode(message)
    assert_same(payload[: int(len(payload) * cut)])


def agent_batch(
    samples: str, head: str = '"v":1,"agent_id":"pc-1","seq":3,"created_ns":99,"site":"hq"'
) -> bytes:
    return ("{" + head + ',"samples":[' + samples + "]}").encode()


@pytest.mark.parametrize(
    ("payload", "fast"),
    [
        (
            agent_batch(
                '{"measurement":"cpu","fields":{"used_percent":12.5},"tags":{"core":"0"},"time_ns":7}'
            ),
            True,
        ),
        (agent_batch('{"measurement":"disk","fields":{"free_bytes":3,"used_percent":0.5}}'), True),
        (agent_batch('{"fields":{"v":1},"measurement":"x","time_ns":0}'), True),
        (
            agent_batch('{"measurement":"x","fields":{}, "tags":{"1bad":"v"}}'),
            False,
        ),  # tags checked without fields
        (agent_batch('{"measurement":"x","fields":{"v":1},"tags":{"k":"' + "v" * 257 + '"}}'), False),
        (agent_batch('{"measurement":"x","fields":{"v":1,"v":2}}'), False),  # msgspec keeps the last
        (agent_batch('{"measurement":"x","measurement":"y","fields":{"v":1}}'), False),
        (agent_batch('{"measurement":"x","fields":{"v":1},"unit":"s"}'), False),  # unknown key
        (agent_batch('{"measurement":"x","fields":{"v":true}}'), False),
        (agent_batch('{"measurement":"x","fields":{"v":1e400}}'), False),
        (agent_batch('{"measurement":"x","fields":{"v":1e-400}}'), False),
        (agent_batch('{"measurement":"x","fields":{"v":01}}'), False),
        (agent_batch('{"measurement":"x","fields":{"v":-0}}'), True),
        (agent_batch('{"measurement":"x","fields":{"v":9223372036854775808}}'), False),  # 2**63: msgspec's
        (agent_batch('{"measurement":"x","fields":{"v":1},"time_ns":-1}'), False),
        (agent_batch('{"measurement":"x\\u0041","fields":{"v":1}}'), False),  # an escape in a name
        (agent_batch('{"measurement":"x","fields":{"v":1}}', head='"v":1,"seq":3,"created_ns":99'), False),
        (
            agent_batch(
                '{"measurement":"x","fields":{"v":1}}', head='"v":2,"agent_id":"pc-1","seq":3,"created_ns":9'
            ),
            True,
        ),
        (
            agent_batch(
                '{"measurement":"x","fields":{"v":1}}',
                head='"v":1,"agent_id":"pc-1","agent_id":"pc-2","seq":3,"created_ns":9',
            ),
            False,
        ),
        (b'{"v":1,"agent_id":"pc-1","seq":3,"created_ns":99,"samples":[],"site":"late"}', False),
        (b'{"v":1,"agent_id":"pc-1","seq":3,"created_ns":99,"samples":[],"samples":[]}', False),
        (b'{"v":1,"agent_id":"pc-1","seq":3,"created_ns":99,"sampl\\u0065s":[]}', False),
        (agent_batch('{"measurement":"x","fields":{"v":1}}') + b" \n", True),
        (agent_batch('{"measurement":"x","fields":{"v":1}}') + b"x", False),
        (agent_batch(",".join(['{"measurement":"x","fields":{"v":1}}'] * (MAX_ITEMS_PER_BATCH + 1))), False),
    ],
)
def test_edge_cases(payload: bytes, fast: bool) -> None:
    assert lane_takes(payload) is fast
    assert_same(payload)


def test_invalid_utf8_is_rejected_as_msgspec_rejects_it() -> None:
    for payload in (
        agent_batch('{"measurement":"x","fields":{"v":1},"tags":{"k":"@"}}').replace(b"@", b"\xff"),
        agent_batch("", head='"v":1,"agent_id":"pc-1","seq":3,"created_ns":99,"site":"@"').replace(
            b"@", b"\xc3"
        ),
    ):
        assert isinstance(assert_same(payload), str)


def test_the_lane_takes_what_agents_send() -> None:
    # The shape every agent publishes must not fall back, or the lane wins nothing.
    from tests.support import fake_agents

    payload = encode(fake_agents.make_batch(7, 3, 1_700_000_000_000_000_000, with_state=True))
    assert lane_takes(payload)
    decoded = assert_same(payload)
    assert isinstance(decoded, Decoded)
    assert decoded.items == fake_agents.SAMPLES_PER_BATCH + 1
    assert [s.measurement for s in decoded.batch.samples] == []  # no field named in KEEP
    assert decoded.batch.states  # every State is kept


def test_the_lane_takes_a_batch_with_its_spool_id() -> None:
    # Protocol 2's optional spool_id is a top-level key the lane does not know: it passes it to msgspec.
    from tests.support import fake_agents

    batch = msgspec.structs.replace(
        fake_agents.make_batch(7, 3, 1_700_000_000_000_000_000), v=2, spool_id="3f9a0c1d2e4b5a69"
    )
    payload = encode(batch)
    assert b'"spool_id":"3f9a0c1d2e4b5a69"' in payload
    assert lane_takes(payload)
    decoded = assert_same(payload)
    assert isinstance(decoded, Decoded) and decoded.batch.spool_id == "3f9a0c1d2e4b5a69"


def test_the_lane_takes_a_batch_stamped_as_it_was_sent() -> None:
    # The publisher adds `sent_ns` after the states (protocol.stamp_sent): the lane passes it on.
    from agent.protocol import stamp_sent
    from tests.support import fake_agents

    batch = fake_agents.make_batch(7, 3, 1_700_000_000_000_000_000, with_state=True)
    payload = stamp_sent(encode(msgspec.structs.replace(batch, v=2)), 1_700_000_000_500_000_000)
    assert payload.endswith(b',"sent_ns":1700000000500000000}')
    assert lane_takes(payload)
    decoded = assert_same(payload)
    assert isinstance(decoded, Decoded) and decoded.batch.sent_ns == 1_700_000_000_500_000_000


def test_without_observers_nothing_is_kept_and_none_keeps_all() -> None:
    payload = agent_batch(
        '{"measurement":"cpu","fields":{"used_percent":1}},{"measurement":"net","fields":{"rx":2}}'
    )
    assert decode_batch(payload, ()).batch.samples == []
    assert [s.measurement for s in decode_batch(payload, None).batch.samples] == ["cpu", "net"]
    assert [s.measurement for s in decode_batch(payload, KEEP).batch.samples] == ["cpu"]


def test_floats_are_written_as_repr_writes_them() -> None:
    # The lane has a quick way for floats with few digits and hands the rest to CPython's
    # repr algorithm; either way the text must be repr's, for any double msgspec writes.
    rng = random.Random(20261123)
    values = [0.0, -0.0, 0.1, 0.3, 1e-4, 9.999e-5, 1e15, 1e15 - 1, 999999999999999.9, 1e16, 2.0**53, 5e-324]
    for _ in range(40_000):
        values += [
            rng.random(),
            round(rng.uniform(-1e6, 1e6), rng.randrange(0, 8)),
            struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0],
            float(rng.randrange(-(10**16), 10**16)),
            rng.randrange(1, 10 ** rng.randrange(1, 16)) / 10 ** rng.randrange(0, 18),
        ]
    finite = [v for v in values if math.isfinite(v)]
    wrong: list[tuple[float, bytes]] = []
    for start in range(0, len(finite), 1000):
        chunk = finite[start : start + 1000]
        samples = (f'{{"measurement":"m","fields":{{"f":{v!r}}},"time_ns":1}}' for v in chunk)
        payload = agent_batch(",".join(samples))
        assert lane_takes(payload)
        lines = decode_batch(payload, KEEP).body.split(b"\n")
        wrong += [
            (v, line)
            for v, line in zip(chunk, lines, strict=True)
            if not line.endswith(f" f={v!r} 1".encode())
        ]
    assert not wrong[:5]


def test_numbers_read_as_msgspec_reads_them() -> None:
    # Written by hand as agents in other languages might: trailing zeros, exponents,
    # many digits; plus random doubles as msgspec writes them. Each must give the float
    # msgspec reads and the text repr() writes, whether the lane takes the quick way
    # (<= 15 digits, exponent within 22) or CPython's strtod.
    rng = random.Random(7)
    texts = [
        "1.50",
        "15e-1",
        "0.000150E+1",
        "-0.0",
        "0.0e5",
        "1e22",
        "1e23",
        "123456789012345.6",
        "9007199254740993.0",
    ]
    texts += [f"{rng.randrange(10 ** rng.randrange(1, 17))}.{rng.randrange(10**6):06d}" for _ in range(3000)]
    texts += [f"{rng.randrange(1, 10**15)}e{rng.randrange(-30, 30)}" for _ in range(3000)]
    texts += [msgspec.json.encode(struct.unpack("<d", rng.randbytes(8))[0]).decode() for _ in range(3000)]
    texts = [t for t in texts if t not in ("NaN", "Infinity", "-Infinity", "null")]
    for start in range(0, len(texts), 1000):
        chunk = texts[start : start + 1000]
        payload = agent_batch(",".join(f'{{"measurement":"x","fields":{{"v":{t}}}}}' for t in chunk))
        assert lane_takes(payload)
        assert isinstance(assert_same(payload), Decoded)


@pytest.mark.parametrize("named", ["", "branch"])
def test_a_batch_naming_no_site_gets_the_bound_one_on_both_lanes(named: str) -> None:
    payload = encode(fake_agents.make_batch(1, 4, 1_700_000_000 * 10**9, site=named))
    keep = fastlane.wanted([("cpu", "value")])
    for lane in (keep, None):  # None: the ordinary way
        decoded = fastlane.decode_batch(payload, lane, bound_site="hq")
        site = named or "hq"
        assert decoded.batch.site == site
        lines = decoded.body.split(b"\n")
        assert len(lines) == 60 and all(f",site={site}".encode() in line for line in lines)


def test_a_shifted_batch_has_every_time_moved_and_nothing_else() -> None:
    # A PC ten years behind: its lines are written at the collector's time (collector.ingest),
    # the Batch its observers see stays as sent (the incident state corrects it on its own).
    ten_years = 10 * 365 * 86400 * 10**9
    made = 1_450_000_000 * 10**9  # its clock: December 2015
    batch = Batch(v=2, agent_id="pc-behind", seq=7, created_ns=made, site="office", sent_ns=made + 10**9,
                  samples=[Sample("cpu", {"used_percent": 12.5}, {"core": "0"}),  # at the batch's time
                           Sample("disk", {"free_bytes": 10**12}, {"mount": "C:"}, made - 30 * 10**9)],
                  states=[State("dns:intranet", "dns_resolves", False, observed_ns=made - 5 * 10**9),
                          State("gateway", "ping", True)])  # fmt: skip
    payload = encode(batch)
    decoded = decode_batch(payload, wanted([("cpu", "used_percent")]))
    moved = fastlane.shifted(decoded, payload, "", ten_years)
    assert moved.batch == decoded.batch and moved.items == decoded.items == 4
    now = ten_years  # what the shift adds to each time the batch gives
    replace = msgspec.structs.replace
    on_time = replace(
        batch,
        created_ns=made + now,
        samples=[batch.samples[0], replace(batch.samples[1], time_ns=made - 30 * 10**9 + now)],
        states=[replace(batch.states[0], observed_ns=made - 5 * 10**9 + now), batch.states[1]],
    )
    assert (moved.body, moved.lines) == line_protocol.batch_body(on_time)
    stamps = [int(line.rsplit(b" ", 1)[1]) - now for line in moved.body.split(b"\n")]
    assert stamps == [made, made - 30 * 10**9, made - 5 * 10**9, made]
    bound = fastlane.shifted(decoded, encode(msgspec.structs.replace(batch, site="")), "branch", ten_years)
    assert b",site=branch" in bound.body.split(b"\n")[0]  # an unbound-site batch gets its bound site
