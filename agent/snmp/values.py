"""SNMP values as the device sent them, and the one place that turns them into ints and text.

`client.py` converts whatever pysnmp returns into `VarBind`s of plain Python types, so
this module (and everything above it) never sees a pysnmp object and can be fuzzed with
arbitrary bytes. Every decoder returns None for a value it cannot make sense of rather
than raising: a device that sends garbage in one column must not lose the whole poll.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Callable
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


def as_display_string(vb: VarBind) -> str | None:
    """Text only from an OCTET STRING: a MIB that moved an object leaves a number there on older firmware."""
    return as_text(vb) if vb.kind == ValueKind.OCTETS else None


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


_SPACED_HEX: Final = re.compile(rb"^[0-9A-Fa-f]{2}(?: [0-9A-Fa-f]{2})+$")


def as_bits(vb: VarBind) -> int | None:
    """A BITS / bit-string OCTET STRING as an int where bit n (MSB of byte 0 is n=0) is 1 << n."""
    if isinstance(vb.value, bytes) and vb.kind in (ValueKind.OCTETS, ValueKind.OPAQUE):
        raw = vb.value
        if _SPACED_HEX.match(raw):
            # Octets spelled as "00 00 00 00", as some agents (and walks recorded through
            # net-snmp's hex display) give them: read the octets, not the characters.
            raw = bytes.fromhex(raw.decode("ascii"))
        result = 0
        for byte_no, byte in enumerate(raw[:16]):
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


_HEX_PAIRS: Final = re.compile(r"^(?:0x)?((?:[0-9A-Fa-f]{2}[ :]?)+)$")


def as_hex_text(vb: VarBind) -> str | None:
    """Text that some firmwares send spelled as hex pairs ("4B 4D 20 43 33" = "KM C3"); else plain text."""
    text = as_text(vb)
    m = _HEX_PAIRS.match(text) if text else None
    if m and len(m.group(1).replace(" ", "").replace(":", "")) >= 4:
        decoded = decode_text(bytes.fromhex(m.group(1).replace(" ", "").replace(":", "")))
        if decoded and decoded.isprintable():
            return decoded
    return text


def as_label(vb: VarBind) -> str | None:
    """A device's own name for something ("Full Color Print Count") as a tag value: full_color_print_count."""
    text = as_text(vb)
    if not text:
        return None
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or None


def as_prt_level(vb: VarBind) -> int | None:
    """A Printer-MIB style level: a number of units, or None for the RFC 3805 special values.

    -1 (other), -2 (unknown) and -3 (at least one unit left) are states, not amounts;
    report.py keeps them apart for the standard tables, this is the same rule for a vendor's.
    """
    value = as_int(vb)
    return value if value is not None and value >= 0 else None


def as_date_and_time(vb: VarBind) -> int | None:
    """SNMPv2-TC DateAndTime (8 or 11 octets) as Unix seconds; without a zone it is taken as UTC."""
    raw = vb.value
    if not isinstance(raw, bytes) or len(raw) not in (8, 11):
        return None
    year = int.from_bytes(raw[0:2], "big")
    month, day, hour, minute, second = raw[2], raw[3], raw[4], raw[5], raw[6]
    try:
        when = datetime.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=datetime.UTC)
    except ValueError:
        return None
    offset = 0
    if len(raw) == 11 and raw[8] in (ord("+"), ord("-")) and raw[9] <= 14 and raw[10] <= 59:
        offset = (raw[9] * 60 + raw[10]) * 60 * (1 if raw[8] == ord("+") else -1)
    return int(when.timestamp()) - offset


def _brother_record(vb: VarBind, key: str) -> bytes | None:
    """The value bytes of record `key` in one of Brother's blocks (see as_brother_record)."""
    raw = vb.value
    if not isinstance(raw, bytes) or vb.kind not in (ValueKind.OCTETS, ValueKind.OPAQUE):
        return None
    try:
        wanted = int(key, 16)
    except ValueError:
        return None
    i = 0
    while i + 3 <= len(raw):
        code, marker, length = raw[i], raw[i + 1], raw[i + 2]
        if marker != 0x01 or length == 0 or i + 3 + length > len(raw):
            return None
        if code == wanted:
            return raw[i + 3 : i + 3 + length]
        i += 3 + length
    return None


def as_brother_record(vb: VarBind, key: str) -> int | None:
    """One record of Brother's maintenance/counter blocks (brInfoMaintenance, brInfoCounter...).

    The value is a run of records: a code byte, 0x01, a length byte and that many bytes of
    big-endian value, closed by a 0xFF checksum byte. `key` is the code in hex ("6f" is the
    black toner left, in hundredths of a percent). A block that does not parse gives None,
    and so does an empty block (an HL-2270DW answers one) or a block without the record.
    """
    value = _brother_record(vb, key)
    return int.from_bytes(value, "big") if value is not None else None


def as_brother_percent(vb: VarBind, key: str) -> int | None:
    """A percentage record of Brother's maintenance block, in hundredths: only a 4-byte value.

    Older models answer the same codes with a 1-byte status instead (an HL-5350DN whose drum
    must be replaced sends `41 01 01 03`), which is no amount and must not read as 0.03 %.
    """
    value = _brother_record(vb, key)
    return int.from_bytes(value, "big") if value is not None and len(value) == 4 else None


def as_brother_level_of_max(vb: VarBind, key: str) -> int | None:
    """A legacy Brother record of 2 bytes, a level and its maximum, as hundredths of a percent.

    Old inkjets (MFC-5490CN) answer the maintenance block with `a1 01 02 04 14`: 4 of 20,
    so 2000 (20 %), in the same unit as the 4-byte percentage records.
    """
    value = _brother_record(vb, key)
    if value is None or len(value) != 2 or value[1] == 0:
        return None
    return round(value[0] * 10000 / value[1])


Value = int | float | str

_DECODERS: Final[dict[str, Callable[[VarBind], Value | None]]] = {
    "int": as_int,
    "text": as_text,
    "display_string": as_display_string,
    "mac": as_mac,
    "oid": as_oid,
    "bits": as_bits,
    "hex": as_hex,
    "device_id_model": as_device_id_model,
    "hex_text": as_hex_text,
    "label": as_label,
    "prt_level": as_prt_level,
    "date_and_time": as_date_and_time,
}
# Transforms that pick one entry of a structured value and need the profile's `key`.
_KEYED: Final[dict[str, Callable[[VarBind, str], Value | None]]] = {
    "brother_record": as_brother_record,
    "brother_percent": as_brother_percent,
    "brother_level_of_max": as_brother_level_of_max,
}
KEYED_TYPES: Final = tuple(_KEYED)
# What a profile column's `type` may name; which of them give numbers (fields) or text (tags).
VALUE_TYPES: Final = (*_DECODERS, *KEYED_TYPES)
NUMERIC_TYPES: Final = frozenset({"int", "bits", "prt_level", "date_and_time", *KEYED_TYPES})


def decode(vb: VarBind, as_type: str, key: str = "") -> Value | None:
    """Decode a value as the profile column says (one of VALUE_TYPES); `key` for KEYED_TYPES."""
    keyed = _KEYED.get(as_type)
    if keyed is not None:
        return keyed(vb, key)
    decoder = _DECODERS.get(as_type)
    if decoder is None:
        raise ValueError(f"unknown value type {as_type!r}")
    return decoder(vb)
