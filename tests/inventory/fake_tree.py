"""A recorded OS tree for the inventory readers: DMI, os-release, utmp, CUPS, a dpkg database."""

from __future__ import annotations

import struct
from pathlib import Path

SERIAL = "PF3ABC12"
USER = "maria.k"

DPKG_ENTRY = """Package: {name}
Status: {status}
Priority: optional
Architecture: {arch}
Version: {version}
Description: a package
 with a continuation line: Version: not this one
"""

PRINTERS_CONF = """# Printer configuration file for CUPS
<DefaultPrinter reception>
Info Reception printer
MakeModel HP LaserJet Pro M404 Postscript
DeviceURI socket://10.0.0.5:9100
State Idle
</DefaultPrinter>
<Printer label>
MakeModel Zebra ZD420
DeviceURI usb://Zebra/ZD420?serial=1
State Stopped
</Printer>
"""


def utmp_record(kind: int, user: str, line: str = "pts/0") -> bytes:
    """One glibc struct utmp (384 bytes) as login(1) writes it."""
    return struct.pack(
        "<h2xi32s4s32s256shhiii4i20x",
        kind,
        1234,
        line.encode(),
        b"ts/0",
        user.encode(),
        b"10.0.0.9",
        0,
        0,
        0,
        1_700_000_000,
        0,
        0,
        0,
        0,
        0,
    )


def dpkg_status(packages: dict[str, str], removed: tuple[str, ...] = ()) -> str:
    entries = [
        DPKG_ENTRY.format(name=n, status="install ok installed", arch="amd64", version=v)
        for n, v in packages.items()
    ]
    entries += [
        DPKG_ENTRY.format(name=n, status="deinstall ok config-files", arch="amd64", version="1.0")
        for n in removed
    ]
    return "\n".join(entries)


def write_packages(root: Path, packages: dict[str, str], removed: tuple[str, ...] = ()) -> None:
    """A dpkg database under `root`, replaced atomically as dpkg itself does."""
    status = root / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True, exist_ok=True)
    tmp = status.with_suffix(".new")
    tmp.write_text(dpkg_status(packages, removed))
    tmp.replace(status)


def make_tree(root: Path) -> Path:
    """A PC's OS files: DMI with a serial, os-release, a logged-in user, CUPS printers, a disk."""
    dmi = root / "sys/class/dmi/id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("LENOVO\n")
    (dmi / "product_name").write_text("ThinkCentre M720q\n")
    (dmi / "product_serial").write_text(SERIAL + "\n")
    (root / "etc/cups").mkdir(parents=True)
    (root / "etc/os-release").write_text(
        'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
    )
    (root / "etc/resolv.conf").write_text("# generated\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n")
    (root / "etc/cups/printers.conf").write_text(PRINTERS_CONF)
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text("6.1.0-18-amd64\n")
    (root / "proc/cpuinfo").write_text("processor\t: 0\nmodel name\t: Intel(R) Core(TM) i5-8500T\n")
    disk = root / "sys/block/nvme0n1"
    (disk / "device").mkdir(parents=True)
    (disk / "size").write_text("500118192\n")
    (disk / "device/model").write_text("SAMSUNG MZVLB256HAHQ\n")
    (root / "sys/block/loop0").mkdir()
    (root / "run").mkdir()
    (root / "run/utmp").write_bytes(
        utmp_record(2, "reboot", "~")
        + utmp_record(7, USER)
        + utmp_record(7, USER, "tty1")
        + utmp_record(8, "gone")
    )
    return root
