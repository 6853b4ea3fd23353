"""The inventory on macOS: `system_profiler -json` for hardware and applications, `sw_vers`, CUPS.

Untested here (the test machine runs Linux); every call is guarded.
"""

from __future__ import annotations

import logging
import platform
import subprocess
from pathlib import Path

import msgspec
import psutil

from agent.inventory import printers, system
from agent.protocol import Hardware, Inventory, OsInfo, Package

log = logging.getLogger(__name__)


class _HardwareItem(msgspec.Struct, rename={"model": "machine_model", "cpu": "chip_type"}):
    machine_name: str = ""
    model: str = ""
    cpu: str = ""
    serial_number: str = ""


class _App(msgspec.Struct, rename={"name": "_name"}):
    name: str = ""
    version: str = ""
    lastModified: str = ""  # system_profiler's key


class _Profile(msgspec.Struct):
    SPHardwareDataType: list[_HardwareItem] = []
    SPApplicationsDataType: list[_App] = []


def _profile(timeout: float = 120.0) -> _Profile:
    try:
        done = subprocess.run(
            [
                "system_profiler",
                "-json",
                "-detailLevel",
                "mini",
                "SPHardwareDataType",
                "SPApplicationsDataType",
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return msgspec.json.decode(done.stdout or b"{}", type=_Profile)
    except (OSError, subprocess.TimeoutExpired, msgspec.DecodeError) as err:
        log.warning("cannot read the macOS inventory: %s", err)
        return _Profile()


def _kind(_root: Path, name: str) -> str:
    # en0 is Wi-Fi on laptops and Ethernet on desktops; without the OS's port list, say so.
    return "virtual" if name.startswith(("utun", "awdl", "llw", "bridge", "gif", "stf")) else "unknown"


def collect(now_ns: int) -> Inventory:
    """The macOS inventory now."""
    profile = _profile()
    hw = profile.SPHardwareDataType[0] if profile.SPHardwareDataType else _HardwareItem()
    apps = {a.name: Package(a.name, a.version) for a in profile.SPApplicationsDataType if a.name}
    software = sorted(apps.values(), key=lambda p: p.name)
    version, _, _ = platform.mac_ver()
    return Inventory(
        collected_ns=now_ns,
        hardware=Hardware(
            vendor="Apple",
            model=hw.model or hw.machine_name,
            serial=hw.serial_number,
            cpu_model=hw.cpu,
            cpu_cores=psutil.cpu_count(logical=False) or 0,
            cpu_threads=psutil.cpu_count() or 0,
            memory_bytes=psutil.virtual_memory().total,
        ),
        os=OsInfo(name="macOS", version=version, kernel=platform.release()),
        boot_ns=system.boot_ns(),
        users=list(dict.fromkeys(u.name for u in psutil.users())),
        network=system.network(Path("/"), kind=_kind),
        printers=printers.cups_printers(Path("/")),
        software_source="applications",
        software=software,
        software_total=len(software),
    )
