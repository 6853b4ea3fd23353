"""This PC's network setup, read from the OS without privileges: interfaces, gateway, DNS servers.

The inventory and the diagnostics both read it here, so they agree on what a PC has.
Gateway: /proc/net/route on Linux (a root path can be given, so tests read recorded
trees), `route -n get default` on macOS and BSD, the IP Helper API's IPv4 route table on
Windows. DNS servers: resolv.conf, or systemd-resolved's own file behind its stub; the IP
Helper API on Windows. Interfaces: psutil, with every MAC in one spelling.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

# systemd-resolved's local stub listeners: 127.0.0.53 (the stub), 127.0.0.54 (the proxy stub).
# They forward to the servers it lists in its own resolv.conf.
RESOLVED_STUBS: Final = ("127.0.0.53", "127.0.0.54")
_NO_MAC: Final = "00:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class Link:
    """One network interface as the OS reports it; `addresses` are (address, netmask) as psutil gives."""

    name: str
    mac: str  # lower-case, colon-separated; "" when it has none (loopback, tunnels)
    addresses: list[tuple[str, str | None]]
    up: bool
    speed_mbps: int  # 0 when the OS does not know
    mtu: int


def mac_address(text: str) -> str:
    """A MAC in one spelling: `AA-BB-CC-00-11-22` (Windows) -> `aa:bb:cc:00:11:22`; all zeros -> ""."""
    mac = text.strip().lower().replace("-", ":")
    return "" if mac == _NO_MAC else mac


def links() -> list[Link]:
    """This PC's interfaces with their MAC, IPv4 and IPv6 addresses and link state, by name."""
    stats = psutil.net_if_stats()
    out = []
    for name, addresses in sorted(psutil.net_if_addrs().items()):
        stat = stats.get(name)
        mac = next((a.address for a in addresses if a.family == psutil.AF_LINK), "")
        ips = [(a.address, a.netmask) for a in addresses if a.family in (socket.AF_INET, socket.AF_INET6)]
        out.append(
            Link(
                name=name,
                mac=mac_address(mac),
                addresses=ips,
                up=bool(stat and stat.isup),
                speed_mbps=max(stat.speed, 0) if stat else 0,
                mtu=stat.mtu if stat else 0,
            )
        )
    return out


def parse_resolv_conf(text: str) -> list[str]:
    """The `nameserver` addresses of a resolv.conf, each once, in order."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and parts[1] not in out:
            out.append(parts[1])
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def dns_servers(root: Path = Path("/")) -> list[str]:
    """The DNS servers this PC asks.

    Behind systemd-resolved's stub, /etc/resolv.conf names only 127.0.0.53; the servers
    it forwards to are in /run/systemd/resolve/resolv.conf, and those are shown instead
    when that file exists. Without it the stub is all there is to say.
    """
    if sys.platform == "win32" and root == Path("/"):
        from agent.windows import iphlp

        return iphlp.dns_servers()
    servers = parse_resolv_conf(_read(root / "etc/resolv.conf") or "")
    if not any(s in RESOLVED_STUBS for s in servers):
        return servers
    upstream = _read(root / "run/systemd/resolve/resolv.conf")
    if upstream is None:
        return servers
    found = [s for s in servers if s not in RESOLVED_STUBS]
    return found + [s for s in parse_resolv_conf(upstream) if s not in found]


def default_gateway(root: Path = Path("/")) -> str | None:
    """The IPv4 address of the default gateway, or None when there is none."""
    if sys.platform.startswith("linux"):
        return _linux_gateway(root / "proc/net/route")
    if sys.platform == "win32":
        from agent.windows import iphlp

        return iphlp.gateway()
    return _bsd_gateway(_run(["route", "-n", "get", "default"]))


def _linux_gateway(route_file: Path) -> str | None:
    try:
        lines = route_file.read_text().splitlines()[1:]
    except OSError:
        return None
    best: tuple[int, str] | None = None
    for line in lines:
        cols = line.split()
        # Iface Destination Gateway Flags RefCnt Use Metric Mask ...; hex, little-endian
        if len(cols) < 8 or cols[1] != "00000000" or cols[7] != "00000000":
            continue
        if not int(cols[3], 16) & 0x2:  # RTF_GATEWAY
            continue
        address = socket.inet_ntoa(struct.pack("<L", int(cols[2], 16)))
        metric = int(cols[6])
        if best is None or metric < best[0]:
            best = (metric, address)
    return best[1] if best else None


def _bsd_gateway(output: str) -> str | None:
    for line in output.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "gateway":
            return _ipv4(value.strip())
    return None


def _ipv4(text: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _run(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
