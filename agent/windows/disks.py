"""This PC's physical disks, asked of the storage driver: model and size, no WMI, no PowerShell.

Each disk is \\\\.\\PHYSICALDRIVE<n> (the name Disk Management and Win32_DiskDrive use),
opened without read or write access, which the two queries need none of:
IOCTL_STORAGE_QUERY_PROPERTY (STORAGE_DEVICE_DESCRIPTOR: vendor and product) and
IOCTL_DISK_GET_DRIVE_GEOMETRY_EX (DISK_GEOMETRY_EX: the size in bytes). The layouts are
winioctl.h's; `parse_descriptor`, `parse_size` and `model_of` are pure and the tests feed
them buffers recorded under Wine and built by those layouts.
"""

from __future__ import annotations

import logging
import struct
import sys
from dataclasses import dataclass
from typing import Final

from agent.protocol import Disk

log = logging.getLogger(__name__)

# STORAGE_DEVICE_DESCRIPTOR: Version, Size, DeviceType, DeviceTypeModifier, RemovableMedia,
# CommandQueueing, then the offsets of VendorId, ProductId, ProductRevision, SerialNumber
# (0: not given), BusType, RawPropertiesLength.
_DESCRIPTOR: Final = struct.Struct("<IIBBBBIIIIII")
# DISK_GEOMETRY_EX: DISK_GEOMETRY (Cylinders, MediaType, TracksPerCylinder, SectorsPerTrack,
# BytesPerSector) then DiskSize.
_GEOMETRY_EX: Final = struct.Struct("<qIIIIq")
IOCTL_STORAGE_QUERY_PROPERTY: Final = 0x002D1400
IOCTL_DISK_GET_DRIVE_GEOMETRY_EX: Final = 0x000700A0
# STORAGE_PROPERTY_QUERY: PropertyId StorageDeviceProperty (0), QueryType PropertyStandardQuery (0)
_DEVICE_PROPERTY_QUERY: Final = struct.pack("<II4x", 0, 0)
MAX_DISKS: Final = 32  # \\.\PHYSICALDRIVE0..31: drive numbers can have gaps after a removal
# What drivers put in VendorId that names the bus rather than the maker.
_BUS_NAMES: Final = frozenset({"", "ata", "nvme", "scsi"})


@dataclass(frozen=True, slots=True)
class Descriptor:
    """What the storage driver says a disk is."""

    vendor: str
    product: str
    revision: str
    removable: bool
    bus_type: int  # STORAGE_BUS_TYPE: 7 USB, 0x0B SATA, 0x11 NVMe, ...


def _string_at(data: bytes, offset: int) -> str:
    if offset <= 0 or offset >= len(data):
        return ""
    end = data.find(b"\0", offset)
    return data[offset : end if end >= 0 else len(data)].decode("ascii", "replace").strip()


def parse_descriptor(data: bytes) -> Descriptor | None:
    """A STORAGE_DEVICE_DESCRIPTOR as IOCTL_STORAGE_QUERY_PROPERTY returns it; None when cut short."""
    if len(data) < _DESCRIPTOR.size:
        return None
    _, _, _, _, removable, _, vendor, product, revision, _, bus, _ = _DESCRIPTOR.unpack_from(data)
    return Descriptor(
        _string_at(data, vendor), _string_at(data, product), _string_at(data, revision), bool(removable), bus
    )


def parse_size(data: bytes) -> int:
    """DiskSize of a DISK_GEOMETRY_EX, in bytes; 0 when cut short."""
    if len(data) < _GEOMETRY_EX.size:
        return 0
    size: int = _GEOMETRY_EX.unpack_from(data)[-1]
    return max(size, 0)


def model_of(descriptor: Descriptor) -> str:
    """Vendor and product as one model name, leaving out a vendor that only names the bus."""
    vendor = "" if descriptor.vendor.lower() in _BUS_NAMES else descriptor.vendor
    if vendor and descriptor.product.lower().startswith(vendor.lower()):
        vendor = ""
    return " ".join(part for part in (vendor, descriptor.product) if part)


# -- reading (Windows only) -------------------------------------------------------------


def physical_disks() -> list[Disk]:
    """Every \\\\.\\PHYSICALDRIVE<n> this PC has, with its model and size."""
    if sys.platform != "win32":
        return []
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.windll.kernel32
    kernel32.CreateFileW.argtypes = [
        wintypes.LPCWSTR,
        wintypes.DWORD,
        wintypes.DWORD,
        ctypes.c_void_p,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.HANDLE,
    ]
    kernel32.CreateFileW.restype = wintypes.HANDLE
    kernel32.DeviceIoControl.argtypes = [
        wintypes.HANDLE,
        wintypes.DWORD,
        ctypes.c_void_p,
        wintypes.DWORD,
        ctypes.c_void_p,
        wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD),
        ctypes.c_void_p,
    ]
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    invalid = wintypes.HANDLE(-1).value
    share_read_write, open_existing = 0x1 | 0x2, 3

    def ask(handle: int, code: int, query: bytes | None) -> bytes:
        out = ctypes.create_string_buffer(4096)
        got = wintypes.DWORD(0)
        ok = kernel32.DeviceIoControl(
            handle, code, query, len(query or b""), out, len(out), ctypes.byref(got), None
        )
        return out.raw[: got.value] if ok else b""

    disks = []
    for number in range(MAX_DISKS):
        name = rf"\\.\PHYSICALDRIVE{number}"
        # No access asked for: both queries are FILE_ANY_ACCESS, so no administrator is needed.
        handle = kernel32.CreateFileW(name, 0, share_read_write, None, open_existing, 0, None)
        if handle is None or handle == invalid:
            continue  # no such drive number (ERROR_FILE_NOT_FOUND)
        try:
            descriptor = parse_descriptor(ask(handle, IOCTL_STORAGE_QUERY_PROPERTY, _DEVICE_PROPERTY_QUERY))
            size = parse_size(ask(handle, IOCTL_DISK_GET_DRIVE_GEOMETRY_EX, None))
        finally:
            kernel32.CloseHandle(handle)
        model = model_of(descriptor) if descriptor is not None else ""
        disks.append(Disk(name, model[:256], size))
    return disks
