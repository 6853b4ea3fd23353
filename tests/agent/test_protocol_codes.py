"""Each ProtocolError carries a code, the collector's dead-letter reason and metric label."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import protocol
from agent.protocol import Batch, Presence, ProtocolError, ProtocolErrorCode

Code = ProtocolErrorCode


def _label_from_text(reason: str) -> str:
    """How the collector labelled a reason before errors carried a code; the labels must not move."""
    if reason.startswith("topic "):
        return "bad_topic"
    if reason.startswith("payload of"):
        return "too_large"
    if reason.startswith("unsupported protocol version"):
        return "unsupported_version"
    if "malformed" in reason or "truncated" in reason or "trailing characters" in reason:
        return "malformed_json"
    return "invalid_message"


def _error(payload: bytes, kind: type[Batch] | type[Presence] = Batch) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        protocol.decode(payload, kind)
    return caught.value


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"x" * (protocol.MAX_PAYLOAD_BYTES + 1), Code.TOO_LARGE),
        (b"", Code.MALFORMED_JSON),
        (b"{", Code.MALFORMED_JSON),
        (b"{]", Code.MALFORMED_JSON),
        (b'{"v": NaN}', Code.MALFORMED_JSON),
        (b'{"v":1}x', Code.INVALID_MESSAGE),  # msgspec finds the missing field first
        (b"[1, 2]", Code.INVALID_MESSAGE),
        (b'{"v": "2"}', Code.INVALID_MESSAGE),
        (b'{"v": 1, "agent_id": "\xff"}', Code.INVALID_MESSAGE),  # bad UTF-8: labelled so since the start
        (b'{"v": 99, "agent_id": "pc-1"}', Code.UNSUPPORTED_VERSION),
        (b'{"v": 99, "agent_id": "pc-1", "seq": 0, "created_ns": 1}', Code.UNSUPPORTED_VERSION),
    ],
)
def test_decode_errors_carry_their_code(payload: bytes, code: ProtocolErrorCode) -> None:
    err = _error(payload)
    assert err.code is code
    assert _label_from_text(err.reason) == code.value


def test_a_sample_name_outside_the_contract_is_an_invalid_message() -> None:
    sample = protocol.Sample("Bad Name", {"x": 1}, {}, 1)
    bad = Batch(v=protocol.PROTOCOL_VERSION, agent_id="pc-1", seq=0, created_ns=1, samples=[sample])
    assert _error(protocol.encode(bad)).code is Code.INVALID_MESSAGE


@pytest.mark.parametrize(
    "topic",
    ["other/pc-1/metrics", "deskwatch/v1/pc-1", "deskwatch/v1/bad id!/metrics", "deskwatch/v1/pc-1/nope"],
)
def test_topic_errors_are_bad_topic(topic: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_topic(protocol.DEFAULT_PREFIX, topic)
    assert caught.value.code is Code.BAD_TOPIC and _label_from_text(caught.value.reason) == "bad_topic"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.text(max_size=64).map(str.encode),
        st.dictionaries(st.sampled_from(["v", "agent_id", "seq", "x"]), st.integers() | st.text()).map(
            msgspec.json.encode
        ),
    )
)
def test_codes_give_the_labels_the_reasons_gave(payload: bytes) -> None:
    for kind in (Batch, Presence):
        try:
            protocol.decode(payload, kind)
        except ProtocolError as err:
            assert err.code.value == _label_from_text(err.reason), err.reason
