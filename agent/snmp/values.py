"""SNMP values as the device sent them, and the one place that turns them into ints and text.

`client.py` converts whatever pysnmp returns into `VarBind`s of plain Python types, so
this module (and everything above it) never sees a pysnmp object and can be fuzzed with
arbitrary bytes. Every decoder returns None for a value it cannot make sense of rather
than raising: a device that sends garbage in one column must not lose the whole poll.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

Oid = tuple[int, ...]


class ValueKind(enum.StrEnum):
    """The ASN.1 type of a value (SNMPv2-SMI) plus the three SNMPv2 exceptions."""

    INTEGER = "integer"
    OCTETS = "octets"
    OID = "oid"
    IP_ADDRESS = "ip_address"
    COUNTER32 = "counter32"
    GAUGE32 = "gauge32"
    TIMETICKS = "timeticks"
    COUNTER64 = "counter64"
    OPAQUE = "opaque"
    NULL = "null"
    NO_SUCH_OBJECT = "no_such_object"
    NO_SUCH_INSTANCE = "no_such_instance"
    END_OF_MIB_VIEW = "end_of_mib_view"


_NUMERIC: Final = frozenset(
    {ValueKind.INTEGER, ValueKind.COUNTER32, ValueKind.GAUGE32, ValueKind.TIMETICKS, ValueKind.COUNTER64}
)
_EXCEPTIONS: Final = frozenset(
    {ValueKind.NULL, ValueKind.NO_SUCH_OBJECT, ValueKind.NO_SUCH_INSTANCE, ValueKind.END_OF_MIB_VIEW}
)


@dataclass(frozen=True, slots=True)
class VarBind:
    """One OID and its value: int for numeric kinds, bytes for octets/opaque/IP, Oid for OIDs."""

    oid: Oid
    kind: ValueKind
    value: int | bytes | Oid | None = None

    @property
    def is_exception(self) -> bool:
        """True for noSuchObject, noSuchInstance, endOfMibView (and NULL): no value here."""
        return self.kind in _EXCEPTIONS


def parse_oid(text: str) -> Oid:
    """`"1.3.6.1"` or `".1.3.6.1"` -> (1, 3, 6, 1); ValueError if it is not a numeric OID."""
    parts = text.strip().lstrip(".").split(".")
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a numeric OID: {text!r}")
    return tuple(int(p) for p in parts)


def format_oid(oid: Oid) -> str:
    """(1, 3, 6, 1) -> "1.3.6.1"."""
    return ".".join(map(str, oid))


_INT_TEXT: Final = re.compile(rb"^\s*(-?\d{1,20})\s*$")


def as_int(vb: VarBind) -> int | None:
    """A number: numeric kinds as they are, octets only when they hold decimal digits."""
    if vb.kind in _NUMERIC and isinstance(vb.value, int):
        return vb.value
    if vb.kind == ValueKind.OCTETS and isinstance(vb.value, bytes):
        # Some printers report counters as DisplayString ("12345").
        m = _INT_TEXT.match(vb.value)
        return int(m.group(1)) if m else None
    return None


_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HEX_TEXT: Final = re.compile(r"^(?:[0-9A-Fa-f]{2}[ :]?)+$")


def decode_text(raw: bytes) -> str:
    """Bytes a device calls a DisplayString -> str: UTF-8 if valid, else Latin-1; trimmed."""
    raw = raw.split(b"\x00", 1)[0]  # C strings padded with NULs, sometimes garbage after
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Latin-1 never fails; older firmwares send ISO-8859-1 or CP1252 names.
        text = raw.decode("latin-1")
    return _CONTROL.sub("", text).strip()


def as_text(vb: VarBind) -> str | None:
    """Readable text for any kind; None for exceptions and empty strings."""
    value = vb.value
    if vb.is_exception or value is None:
        return None
    if isinstance(value, bytes):
        if vb.kind == ValueKind.IP_ADDRESS and len(value) == 4:
            return ".".join(map(str, value))
        text = decode_text(value)
        return text or None
    if isinstance(value, tuple):
        return format_oid(value)
    return str(value)


def as_oid(vb: VarBind) -> str | None:
    """An OBJECT IDENTIFIER value in dotted form."""
    return format_oid(vb.value) if vb.kind == ValueKind.OID and isinstance(vb.value, tuple) else None


_MAC_SPLIT: Final = re.compile(r"[:\-. ]")


def as_mac(vb: VarBind) -> str | None:
    """A PhysAddress as aa:bb:cc:dd:ee:ff; accepts 6 raw bytes or text forms; None if empty/zero."""
    if not isinstance(vb.value, bytes) or vb.kind not in (ValueKind.OCTETS, ValueKind.OPAQUE):
        return None
    raw = vb.value
    octets: bytes | None = raw if len(raw) == 6 else None
    if octets is None or (all(32 <= b < 127 for b in raw) and len(raw) > 6):
        # Text forms seen in walks: "0:50:56:b6:2c:10", "00-50-56-B6-2C-10", "005056b62c10".
        text = raw.decode("latin-1").strip()
        parts = [p for p in _MAC_SPLIT.split(text) if p]
        if len(parts) == 1 and len(parts[0]) == 12:
            parts = [parts[0][i : i + 2] for i in range(0, 12, 2)]
        if len(parts) == 6 and all(1 <= len(p) <= 2 for p in parts):
            try:
                octets = bytes(int(p, 16) for p in parts)
            except ValueError:
                octets = None
    if octets is None or not any(octets):
        return None
    return ":".join(f"{b:02x}" for b in octets)


def as_bits(vb: VarBind) -> int | None:
    """A BITS / bit-string OCTET STRING as an int where bit n (MSB of byte 0 is n=0) is 1 << n."""
    if isinstance(vb.value, bytes) and vb.kind in (ValueKind.OCTETS, ValueKind.OPAQUE):
        result = 0
        for byte_no, byte in enumerate(vb.value[:16]):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    result |= 1 << (byte_no * 8 + bit)
        return result
    if vb.kind == ValueKind.INTEGER and isinstance(vb.value, int) and vb.value >= 0:
        # A few printers return hrPrinterDetectedErrorState as INTEGER holding the first byte.
        return as_bits(VarBind(vb.oid, ValueKind.OCTETS, (vb.value & 0xFF).to_bytes(1, "big")))
    return None


def as_hex(vb: VarBind) -> str | None:
    """Opaque octets as lowercase hex (for identifiers that are not text)."""
    return vb.value.hex() if isinstance(vb.value, bytes) and vb.value else None


_DEVICE_ID_MODEL: Final = re.compile(r"(?:^|;)\s*(?:MDL|MODEL)\s*:([^;]*)", re.IGNORECASE)


def as_device_id_model(vb: VarBind) -> str | None:
    """The model (MDL: or MODEL:) from an IEEE 1284 device ID string "MFG:x;CMD:y;MDL:z;"."""
    text = as_text(vb)
    m = _DEVICE_ID_MODEL.search(text) if text else None
    return m.group(1).strip() or None if m else None


Value = int | str


def decode(vb: VarBind, as_type: str) -> Value | None:
    """Decode a value as the profile column says (one of VALUE_TYPES)."""
    match as_type:
        case "int":
            return as_int(vb)
        case "text":
            return as_text(vb)
        case "mac":
            return as_mac(vb)
        case "oid":
            return as_oid(vb)
        case "bits":
            return as_bits(vb)
        case "hex":
            return as_hex(vb)
        case "device_id_model":
            return as_device_id_model(vb)
    raise ValueError(f"unknown value type {as_type!r}")


VALUE_TYPES: Final = ("int", "text", "mac", "oid", "bits", "hex", "device_id_model")
