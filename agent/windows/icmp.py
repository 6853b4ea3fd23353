"""Ping on Windows through the ICMP API (IcmpSendEcho): an echo needs no administrator there.

`parse_reply` is pure and reads the ICMP_ECHO_REPLY that IcmpSendEcho writes, so the
tests feed it recorded replies; `echo` is the one call into iphlpapi.dll.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from typing import Final

# ICMP_ECHO_REPLY (ipexport.h): Address, Status, RoundTripTime (ms), DataSize, Reserved, then
# a data pointer and IP options; only the first 16 bytes matter here, on 32 and 64 bits alike.
_HEAD: Final = struct.Struct("<4sIIHH")
REPLY_SIZE_64: Final = 40  # sizeof(ICMP_ECHO_REPLY) on x64
IP_SUCCESS: Final = 0
# ipexport.h IP_* statuses a helpdesk person may meet
STATUS_TEXT: Final = {
    11002: "destination network unreachable",
    11003: "destination host unreachable",
    11004: "destination protocol unreachable",
    11005: "destination port unreachable",
    11010: "request timed out",
    11013: "TTL expired in transit",
    11050: "general failure",
}
PAYLOAD: Final = b"deskwatch-ping32"


def parse_reply(data: bytes) -> tuple[str, int, float]:
    """(who answered, IP status, round trip in seconds) of one ICMP_ECHO_REPLY."""
    address, status, rtt_ms, _, _ = _HEAD.unpack_from(data)
    return str(ipaddress.IPv4Address(address)), status, rtt_ms / 1000


def echo(address: str, timeout: float) -> float | None:
    """One echo request to an IPv4 address; seconds until the reply, None without one (blocks)."""
    if sys.platform != "win32":
        raise OSError("the ICMP API is Windows'")
    import ctypes
    from ctypes import wintypes

    iphlpapi = ctypes.windll.iphlpapi
    iphlpapi.IcmpCreateFile.restype = wintypes.HANDLE
    iphlpapi.IcmpSendEcho.argtypes = [
        wintypes.HANDLE,
        ctypes.c_uint32,
        ctypes.c_void_p,
        wintypes.WORD,
        ctypes.c_void_p,
        ctypes.c_void_p,
        wintypes.DWORD,
        wintypes.DWORD,
    ]
    iphlpapi.IcmpSendEcho.restype = wintypes.DWORD
    iphlpapi.IcmpCloseHandle.argtypes = [wintypes.HANDLE]
    handle = iphlpapi.IcmpCreateFile()
    if not handle or handle == wintypes.HANDLE(-1).value:
        raise OSError("IcmpCreateFile failed")
    try:
        request = ctypes.create_string_buffer(PAYLOAD, len(PAYLOAD))
        reply = ctypes.create_string_buffer(REPLY_SIZE_64 + len(PAYLOAD) + 8 + 64)
        (destination,) = struct.unpack("<I", ipaddress.IPv4Address(address).packed)
        count = iphlpapi.IcmpSendEcho(
            handle, destination, request, len(PAYLOAD), None, reply, len(reply), max(1, int(timeout * 1000))
        )
        if count == 0:
            return None  # timed out or unreachable: GetLastError says which, the caller needs only "no"
        _, status, seconds = parse_reply(reply.raw)
        return seconds if status == IP_SUCCESS else None
    finally:
        iphlpapi.IcmpCloseHandle(handle)
