"""Hardware, OS, logged-in users and network configuration, read from OS files under a root path.

Linux only reads files here (sysfs DMI, /proc/cpuinfo, /sys/block, os-release, utmp,
resolv.conf), so tests read a recorded tree; psutil supplies what is portable (memory,
cores, boot time, interface addresses). The DMI serial is readable by root only: an
agent running as a user reports it empty, never fails over it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Final

import psutil

from agent import netinfo
from agent.protocol import NS, Disk, Hardware, Interface, Network, OsInfo

# Block devices that are not disks: loop mounts, RAM disks, compressed swap, device-mapper, optical.
_NOT_DISKS: Final = ("loop", "ram", "zram", "dm-", "sr", "fd", "nbd")
# glibc's struct utmp on Linux (every 64-bit arch and i386 alike): 384 bytes.
_UTMP: Final = struct.Struct("<h2xi32s4s32s256shhiii4i20x")
_USER_PROCESS: Final = 7


def read(path: Path) -> str:
    """A small OS file stripped, or "" when it is missing or unreadable (DMI serial as a user)."""
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def hardware(root: Path) -> Hardware:
    """Vendor, model and serial from DMI; CPU from /proc/cpuinfo; memory and cores from psutil."""
    dmi = root / "sys/class/dmi/id"
    serial = next(
        (
            s
            for s in (read(dmi / n) for n in ("product_serial", "board_serial", "chassis_serial"))
            if _real(s)
        ),
        "",
    )
    return Hardware(
        vendor=read(dmi / "sys_vendor"),
        model=read(dmi / "product_name"),
        serial=serial,
        cpu_model=cpu_model(read(root / "proc/cpuinfo")),
        cpu_cores=psutil.cpu_count(logical=False) or 0,
        cpu_threads=psutil.cpu_count() or 0,
        memory_bytes=psutil.virtual_memory().total,
        disks=disks(root / "sys/block"),
    )


def _real(serial: str) -> bool:
    # Firmware fills unset serials with placeholders; they would index every PC as one.
    return bool(serial) and serial.lower() not in {
        "to be filled by o.e.m.",
        "default string",
        "system serial number",
        "not specified",
        "none",
        "0",
        "0123456789",
    }


def cpu_model(cpuinfo: str) -> str:
    """The first `model name` (x86) or `Model`/`Hardware` (ARM) line of /proc/cpuinfo."""
    for key in ("model name", "Model", "Hardware"):
        for line in cpuinfo.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return ""


def disks(sys_block: Path) -> list[Disk]:
    """Physical disks from /sys/block: name, model, size (the kernel counts 512-byte sectors)."""
    try:
        names = sorted(p.name for p in sys_block.iterdir())
    except OSError:
        return []
    out = []
    for name in names:
        if name.startswith(_NOT_DISKS):
            continue
        sectors = read(sys_block / name / "size")
        out.append(
            Disk(
                name=name,
                model=read(sys_block / name / "device/model"),
                size_bytes=int(sectors) * 512 if sectors.isdigit() else 0,
            )
        )
    return out


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of os-release(5), quotes removed."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            out[key.strip()] = value.strip().strip("\"'")
    return out


def os_info(root: Path) -> OsInfo:
    """Name, version and build from os-release; last update = last change of the package database."""
    release = parse_os_release(read(root / "etc/os-release") or read(root / "usr/lib/os-release"))
    last_update = 0
    for db in ("var/lib/dpkg/status", "var/lib/rpm", "usr/lib/sysimage/rpm"):
        try:
            last_update = max(last_update, (root / db).stat().st_mtime_ns)
        except OSError:
            continue
    return OsInfo(
        name=release.get("NAME", "Linux"),
        version=release.get("VERSION_ID", release.get("VERSION", "")),
        build=release.get("BUILD_ID", release.get("VERSION_CODENAME", "")),
        kernel=read(root / "proc/sys/kernel/osrelease"),
        last_update_ns=last_update,
    )


def boot_ns() -> int:
    """When the PC last booted; uptime is derived from it where it is shown, so it never churns."""
    return int(psutil.boot_time() * NS)


def parse_utmp(data: bytes) -> list[str]:
    """User names with a login session in a utmp file, each once, in login order."""
    users: list[str] = []
    for offset in range(0, len(data) - _UTMP.size + 1, _UTMP.size):
        record = _UTMP.unpack_from(data, offset)
        if record[0] != _USER_PROCESS:
            continue
        name = record[4].split(b"\0", 1)[0].decode(errors="replace")
        if name and name not in users:
            users.append(name)
    return users


def users(root: Path) -> list[str]:
    """Who is logged in now, from utmp (/run/utmp, or /var/run/utmp on older systems)."""
    for path in ("run/utmp", "var/run/utmp"):
        try:
            return parse_utmp((root / path).read_bytes())
        except OSError:
            continue
    return []


def interface_kind(root: Path, name: str) -> str:
    """`wifi` if the kernel has a wireless extension for it, `wired` if it has a device, else `virtual`."""
    net = root / "sys/class/net" / name
    if (net / "wireless").exists() or (net / "phy80211").exists():
        return "wifi"
    if (net / "device").exists():
        return "wired"
    return "virtual" if net.exists() else "unknown"


def network(
    root: Path, kind: Callable[[Path, str], str] | None = None, dns: list[str] | None = None
) -> Network:
    """Interfaces (not loopback) with MAC, addresses, link state; the default gateway; DNS servers.

    Windows and macOS pass their own `kind` (by interface name) and `dns` (from the OS).
    """
    kind_of = kind or interface_kind
    interfaces = []
    for link in netinfo.links():
        ips = [
            address.split("%", 1)[0] for address, _ in link.addresses
        ]  # fe80::1%eth0: the zone is the interface
        if any(ip == "127.0.0.1" or ip == "::1" for ip in ips) or link.name == "lo":
            continue
        interfaces.append(
            Interface(
                name=link.name,
                kind=kind_of(root, link.name),  # type: ignore[arg-type]
                mac=link.mac,
                addresses=ips,
                up=link.up,
                speed_mbps=link.speed_mbps,
            )
        )
    return Network(
        interfaces=interfaces,
        gateway=netinfo.default_gateway(root) or "",
        dns_servers=dns if dns is not None else netinfo.dns_servers(root),
    )
