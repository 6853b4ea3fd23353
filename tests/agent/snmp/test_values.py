"""The value decoders, table-driven and fuzzed with malformed answers (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.snmp.values import (
    VALUE_TYPES,
    ValueKind,
    VarBind,
    as_bits,
    as_device_id_model,
    as_int,
    as_mac,
    as_oid,
    as_text,
    decode,
    parse_oid,
)

OID = (1, 3, 6, 1)


def vb(kind: ValueKind, value: int | bytes | tuple[int, ...] | None) -> VarBind:
    return VarBind(OID, kind, value)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (b"Black Toner", "Black Toner"),
        (b"  padded\x00\x00garbage", "padded"),  # C string with junk after the NUL
        (b"Imprimante \xe9tage", "Imprimante \u00e9tage"),  # Latin-1 from old firmware
        ("Drücker".encode(), "Drücker"),
        (b"", None),
        (b"\x01\x02", None),  # only control characters
    ],
)
def test_as_text_decodes_what_printers_send(raw: bytes, want: str | None) -> None:
    assert as_text(vb(ValueKind.OCTETS, raw)) == want


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (bytes.fromhex("00507fe39740"), "00:50:7f:e3:97:40"),
        (b"0:50:56:b6:2c:10", "00:50:56:b6:2c:10"),  # Dell walk: MAC as text
        (b"00-50-56-B6-2C-10", "00:50:56:b6:2c:10"),
        (b"005056b62c10", "00:50:56:b6:2c:10"),
        (bytes(6), None),  # all zero = no address
        (b"", None),
        (b"\x01\x02\x03", None),
    ],
)
def test_as_mac_accepts_binary_and_text(raw: bytes, want: str | None) -> None:
    assert as_mac(vb(ValueKind.OCTETS, raw)) == want


def test_error_state_bits_count_from_the_most_significant_bit() -> None:
    # Samsung walk: hrPrinterDetectedErrorState = 0x8000 -> bit 0, lowPaper.
    assert as_bits(vb(ValueKind.OCTETS, bytes.fromhex("8000"))) == 1
    assert as_bits(vb(ValueKind.OCTETS, bytes.fromhex("2000"))) == 1 << 2  # lowToner (Sharp walk)
    assert as_bits(vb(ValueKind.OCTETS, bytes.fromhex("0002"))) == 1 << 14  # overduePreventMaint
    assert as_bits(vb(ValueKind.OCTETS, b"")) == 0


def test_numbers_and_exceptions() -> None:
    assert as_int(vb(ValueKind.COUNTER64, 2**64 - 1)) == 2**64 - 1
    assert as_int(vb(ValueKind.OCTETS, b" 12345 ")) == 12345  # counters sent as strings
    assert as_int(vb(ValueKind.OCTETS, b"12a")) is None
    assert as_int(vb(ValueKind.NO_SUCH_INSTANCE, None)) is None
    assert as_text(vb(ValueKind.END_OF_MIB_VIEW, None)) is None
    assert as_oid(vb(ValueKind.OID, (1, 3, 6))) == "1.3.6"
    assert as_text(vb(ValueKind.IP_ADDRESS, bytes([10, 0, 0, 1]))) == "10.0.0.1"


def test_device_id_model_reads_ieee1284_strings() -> None:
    xerox = b"MFG:Xerox; CMD:PCL, PJL; MDL:AltaLink C8045; CLS:Printer;"
    assert as_device_id_model(vb(ValueKind.OCTETS, xerox)) == "AltaLink C8045"
    assert as_device_id_model(vb(ValueKind.OCTETS, b"COMMAND SET:;MODEL:Dell S5830dn")) == "Dell S5830dn"
    assert as_device_id_model(vb(ValueKind.OCTETS, b"no model here")) is None


def test_parse_oid_rejects_names() -> None:
    assert parse_oid(".1.3.6.1") == (1, 3, 6, 1)
    with pytest.raises(ValueError):
        parse_oid("sysDescr.0")


values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.binary(max_size=64),
    st.tuples(st.integers(0, 2**32)).map(tuple),
    st.lists(st.integers(0, 2**32), max_size=20).map(tuple),
)


@given(kind=st.sampled_from(list(ValueKind)), value=values, as_type=st.sampled_from(VALUE_TYPES))
def test_decoders_never_raise_on_malformed_values(
    kind: ValueKind, value: int | bytes | tuple[int, ...] | None, as_type: str
) -> None:
    """A device may send any type under any OID; a decoder answers a value or None, never raises."""
    result = decode(VarBind(OID, kind, value), as_type)
    assert result is None or isinstance(result, int | str)


@given(st.binary(max_size=200))
def test_text_is_always_printable(raw: bytes) -> None:
    text = as_text(vb(ValueKind.OCTETS, raw))
    assert text is None or (text == text.strip() and all(c >= " " or c in "\t\n" for c in text))
