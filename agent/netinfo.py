"""This PC's default gateway, read from the OS without privileges.

Linux: /proc/net/route (a root path can be given, so tests read recorded trees).
macOS and BSD: `route -n get default`. Windows: the IPv4 route table of the IP Helper API.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path


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
