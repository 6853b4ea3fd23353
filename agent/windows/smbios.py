"""This PC's maker, model and serial number as its firmware states them: the SMBIOS table.

Windows hands the table over whole through GetSystemFirmwareTable('RSMB'), which needs no
administrator, no WMI and no PowerShell. The parsers follow the DMTF SMBIOS specification
(DSP0134): a RawSMBIOSData header, then structures, each a formatted area that refers by
number to the strings after it. `parse_raw`, `parse_table` and `identity_of` are pure; the
tests feed them tables recorded under Wine and built by the specification.
"""

from __future__ import annotations

import logging
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

# RawSMBIOSData (sysinfoapi.h): Used20CallingMethod, major, minor, DmiRevision, Length.
_RAW_HEADER: Final = struct.Struct("<BBBBI")
# Every structure: type, length of its formatted area (header included), handle.
_HEADER: Final = struct.Struct("<BBH")
RSMB: Final = int.from_bytes(b"RSMB", "big")  # the provider signature, 'RSMB' as a DWORD
END_OF_TABLE: Final = 127
# Structure types and the offsets of their string fields (DSP0134 7.2, 7.3, 7.4)
SYSTEM: Final = 1  # Manufacturer 04h, Product Name 05h, Serial Number 07h
BASEBOARD: Final = 2  # Serial Number 07h
CHASSIS: Final = 3  # Serial Number 07h
MANUFACTURER: Final = 0x04
PRODUCT: Final = 0x05
SERIAL: Final = 0x07
# What vendors leave in a field they did not fill (compared case-insensitively).
PLACEHOLDERS: Final = frozenset(
    {
        "",
        "0",
        "00000000",
        "0123456789",
        "123456789",
        "default string",
        "none",
        "not applicable",
        "not available",
        "not specified",
        "n/a",
        "oem",
        "system serial number",
        "chassis serial number",
        "base board serial number",
        "system manufacturer",
        "system product name",
        "to be filled by o.e.m.",
        "unknown",
    }
)


@dataclass(frozen=True, slots=True)
class Structure:
    """One SMBIOS structure: its type, handle, formatted area and strings."""

    type: int
    handle: int
    formatted: bytes
    strings: tuple[str, ...]

    def string(self, offset: int) -> str:
        """The string a byte of the formatted area refers to ("" for none or a bad number)."""
        number = self.formatted[offset] if offset < len(self.formatted) else 0
        return self.strings[number - 1] if 1 <= number <= len(self.strings) else ""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who made this PC, which model it is, and its serial number ("" where the firmware has none)."""

    vendor: str = ""
    model: str = ""
    serial: str = ""


def parse_table(table: bytes) -> list[Structure]:
    """The structures of an SMBIOS table, up to the end-of-table structure or the first broken one."""
    structures = []
    offset = 0
    while offset + _HEADER.size <= len(table):
        kind, length, handle = _HEADER.unpack_from(table, offset)
        if length < _HEADER.size or offset + length > len(table):
            break
        # The strings follow the formatted area, each NUL-terminated, the set ended by a
        # second NUL (two NULs right away when there are none).
        end = table.find(b"\0\0", offset + length)
        if end < 0:
            break
        area = table[offset + length : end]
        strings = tuple(s.decode("utf-8", "replace").strip() for s in area.split(b"\0")) if area else ()
        structures.append(Structure(kind, handle, table[offset : offset + length], strings))
        offset = end + 2
        if kind == END_OF_TABLE:
            break
    return structures


def parse_raw(data: bytes) -> list[Structure]:
    """GetSystemFirmwareTable('RSMB')'s buffer: the RawSMBIOSData header, then the table."""
    if len(data) < _RAW_HEADER.size:
        return []
    *_, length = _RAW_HEADER.unpack_from(data)
    return parse_table(data[_RAW_HEADER.size : _RAW_HEADER.size + length])


def _real(text: str) -> str:
    return "" if text.strip().lower() in PLACEHOLDERS else text.strip()


def _first(structures: Sequence[Structure], kind: int, offset: int) -> str:
    return next((value for s in structures if s.type == kind if (value := _real(s.string(offset)))), "")


def identity_of(structures: Sequence[Structure]) -> Identity:
    """Maker and model from the System Information structure; the serial from the first of
    system, chassis and baseboard that has a real one (white-box PCs often leave the system's
    as "System Serial Number" and number only the board)."""
    serial = next(
        (found for kind in (SYSTEM, CHASSIS, BASEBOARD) if (found := _first(structures, kind, SERIAL))), ""
    )
    return Identity(
        vendor=_first(structures, SYSTEM, MANUFACTURER)[:256],
        model=_first(structures, SYSTEM, PRODUCT)[:256],
        serial=serial[:256],
    )


# -- reading (Windows only) -------------------------------------------------------------


def raw_table() -> bytes:
    """GetSystemFirmwareTable('RSMB', 0)'s buffer; b"" off Windows or when the firmware gives none."""
    if sys.platform != "win32":
        return b""
    import ctypes
    from ctypes import wintypes

    get = ctypes.windll.kernel32.GetSystemFirmwareTable
    get.argtypes = [wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD]
    get.restype = wintypes.UINT
    size = get(RSMB, 0, None, 0)
    if size == 0:
        log.info("no SMBIOS table from the firmware (error %d): no serial number", ctypes.GetLastError())
        return b""
    buffer = ctypes.create_string_buffer(size)
    got = get(RSMB, 0, buffer, size)
    return buffer.raw[:got] if 0 < got <= size else b""


def identity() -> Identity:
    """This PC's maker, model and serial number from its SMBIOS table."""
    return identity_of(parse_raw(raw_table()))
