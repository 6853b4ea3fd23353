"""This PC's default gateway and DNS servers from the IP Helper API (iphlpapi.dll), no tool started.

The gateway comes from the IPv4 route table (GetIpForwardTable): the default route
(0.0.0.0/0) with the lowest metric. The DNS servers come from GetNetworkParams, the list
the resolver uses. `parse_forward_table` and `default_gateway` are pure; the tests feed
them route tables recorded from Windows and Wine.
"""

from __future__ import annotations

import ipaddress
import logging
import struct
import sys
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

# MIB_IPFORWARDROW (ipmib.h): 14 DWORDs. Addresses are in network byte order in memory.
_ROW: Final = struct.Struct("<4s4sI4sIIIIIIIIII")
_COUNT: Final = struct.Struct("<I")
MIB_IPROUTE_TYPE_INVALID: Final = 2
ERROR_INSUFFICIENT_BUFFER: Final = 122
NO_ERROR: Final = 0


@dataclass(frozen=True, slots=True)
class Route:
    """One IPv4 route: where to, through which next hop, on which interface, at what cost."""

    destination: str
    mask: str
    next_hop: str
    interface: int
    kind: int  # 3 direct (on the link), 4 indirect (through a gateway), 2 invalid
    metric: int


def parse_forward_table(data: bytes) -> list[Route]:
    """A MIB_IPFORWARDTABLE as GetIpForwardTable fills it: a count, then that many rows."""
    if len(data) < _COUNT.size:
        return []
    (count,) = _COUNT.unpack_from(data)
    routes = []
    for index in range(count):
        offset = _COUNT.size + index * _ROW.size
        if offset + _ROW.size > len(data):
            break  # a table cut short: keep what is whole
        dest, mask, _policy, hop, if_index, kind, _proto, _age, _as, metric, *_ = _ROW.unpack_from(
            data, offset
        )
        routes.append(
            Route(
                str(ipaddress.IPv4Address(dest)),
                str(ipaddress.IPv4Address(mask)),
                str(ipaddress.IPv4Address(hop)),
                if_index,
                kind,
                metric,
            )
        )
    return routes


def default_gateway(routes: list[Route]) -> str | None:
    """The next hop of the cheapest default route, or None when there is none (or it is on-link)."""
    defaults = [
        r
        for r in routes
        if r.destination == "0.0.0.0"
        and r.mask == "0.0.0.0"
        and r.kind != MIB_IPROUTE_TYPE_INVALID
        and r.next_hop != "0.0.0.0"
    ]
    return min(defaults, key=lambda r: r.metric).next_hop if defaults else None


def dns_list(addresses: list[str]) -> list[str]:
    """The resolver's servers, each once, in order; blanks and 0.0.0.0 (an unset slot) left out."""
    return [a for a in dict.fromkeys(a.strip() for a in addresses) if a and a != "0.0.0.0"]


# -- reading (Windows only) -------------------------------------------------------------


def forward_table() -> bytes:
    """GetIpForwardTable's buffer, sorted by destination; b"" off Windows or on failure."""
    if sys.platform != "win32":
        return b""
    import ctypes
    from ctypes import wintypes

    get = ctypes.windll.iphlpapi.GetIpForwardTable
    get.argtypes = [ctypes.c_void_p, ctypes.POINTER(wintypes.ULONG), wintypes.BOOL]
    get.restype = wintypes.DWORD
    size = wintypes.ULONG(0)
    for _ in range(3):  # the table may grow between the size query and the read
        buffer = ctypes.create_string_buffer(max(size.value, 4))
        status = get(buffer, ctypes.byref(size), True)
        if status == NO_ERROR:
            return buffer.raw[: size.value] if size.value else buffer.raw
        if status != ERROR_INSUFFICIENT_BUFFER:
            log.debug("GetIpForwardTable failed: %d", status)
            return b""
    return b""


def gateway() -> str | None:
    """This PC's default gateway, from the route table."""
    return default_gateway(parse_forward_table(forward_table()))


def dns_servers() -> list[str]:
    """The DNS servers the resolver asks (GetNetworkParams' DnsServerList)."""
    if sys.platform != "win32":
        return []
    import ctypes
    from ctypes import wintypes

    class IpAddrString(ctypes.Structure):
        pass

    IpAddrString._fields_ = [
        ("Next", ctypes.POINTER(IpAddrString)),
        ("IpAddress", ctypes.c_char * 16),
        ("IpMask", ctypes.c_char * 16),
        ("Context", wintypes.DWORD),
    ]

    class FixedInfo(ctypes.Structure):
        _fields_ = [
            ("HostName", ctypes.c_char * 132),
            ("DomainName", ctypes.c_char * 132),
            ("CurrentDnsServer", ctypes.POINTER(IpAddrString)),
            ("DnsServerList", IpAddrString),
            ("NodeType", wintypes.UINT),
            ("ScopeId", ctypes.c_char * 260),
            ("EnableRouting", wintypes.UINT),
            ("EnableProxy", wintypes.UINT),
            ("EnableDns", wintypes.UINT),
        ]

    get = ctypes.windll.iphlpapi.GetNetworkParams
    get.argtypes = [ctypes.c_void_p, ctypes.POINTER(wintypes.ULONG)]
    get.restype = wintypes.DWORD
    size = wintypes.ULONG(ctypes.sizeof(FixedInfo))
    buffer = ctypes.create_string_buffer(size.value)
    status = get(buffer, ctypes.byref(size))
    if status == ERROR_INSUFFICIENT_BUFFER:
        buffer = ctypes.create_string_buffer(size.value)
        status = get(buffer, ctypes.byref(size))
    if status != NO_ERROR:
        log.debug("GetNetworkParams failed: %d", status)
        return []
    info = FixedInfo.from_buffer(buffer)
    found: list[str] = []
    node: IpAddrString | None = info.DnsServerList
    while node is not None and len(found) < 64:
        found.append(node.IpAddress.decode("ascii", "replace"))
        node = node.Next.contents if node.Next else None
    return dns_list(found)
