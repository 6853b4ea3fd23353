"""Ping on Windows through the ICMP API (IcmpSendEcho): an echo needs no administrator there.

`parse_reply` and `hop_of` are pure and read the ICMP_ECHO_REPLY that IcmpSendEcho writes,
so the tests feed them recorded replies; `send_echo` is the one call into iphlpapi.dll: an
echo for ping, or one with a small TTL for each hop of a route (what tracert.exe does).
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
IP_TTL_EXPIRED_TRANSIT: Final = 11013
# the destination (or a router on the way) says it cannot deliver: an answer, but not an echo
UNREACHABLE: Final = (11002, 11003, 11004, 11005)
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
    answer = send_echo(address, timeout)
    if answer is None:
        return None
    _, status, seconds = answer
    return seconds if status == IP_SUCCESS else None


def hop_of(count: int, reply: bytes) -> tuple[str, int, float] | None:
    """What one TTL-limited IcmpSendEcho found: (who answered, status, seconds), None for silence.

    A router that drops the request answers "TTL expired in transit" from its own address;
    IcmpSendEcho may return 0 for that (GetLastError IP_TTL_EXPIRED_TRANSIT) and still
    write the reply, so the reply is read whenever it names an answerer.
    """
    responder, status, seconds = parse_reply(reply)
    if count and status == IP_SUCCESS:
        return responder, status, seconds
    if status in (IP_TTL_EXPIRED_TRANSIT, *UNREACHABLE) and responder != "0.0.0.0":
        return responder, status, seconds
    return None


def send_echo(address: str, timeout: float, ttl: int = 0) -> tuple[str, int, float] | None:
    """One echo request (with this TTL, 0: the system's); see `hop_of`. Blocks up to `timeout`."""
    if sys.platform != "win32":
        raise OSError("the ICMP API is Windows'")
    import ctypes
    from ctypes import wintypes

    class IpOptionInformation(ctypes.Structure):  # ipexport.h IP_OPTION_INFORMATION
        _fields_ = (
            ("Ttl", ctypes.c_ubyte),
            ("Tos", ctypes.c_ubyte),
            ("Flags", ctypes.c_ubyte),
            ("OptionsSize", ctypes.c_ubyte),
            ("OptionsData", ctypes.c_void_p),
        )

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
        options = ctypes.byref(IpOptionInformation(Ttl=ttl)) if ttl else None
        (destination,) = struct.unpack("<I", ipaddress.IPv4Address(address).packed)
        count = iphlpapi.IcmpSendEcho(
            handle,
            destination,
            request,
            len(PAYLOAD),
            options,
            reply,
            len(reply),
            max(1, int(timeout * 1000)),
        )
        return hop_of(count, reply.raw)
    finally:
        iphlpapi.IcmpCloseHandle(handle)
