"""The inventory on Windows, from the registry and Windows APIs; PowerShell only for what they lack.

- installed programs: the Uninstall keys of both registry views and the current user
  (agent.windows.registry), what Programs and Features lists;
- Windows name, version and build (with the update revision): the registry;
- vendor, model and CPU: HKLM\\HARDWARE\\DESCRIPTION (filled from the firmware at boot);
- logged-on users: terminal services sessions; printers: the spooler; gateway and DNS:
  the IP Helper API;
- serial number, physical disks and the last installed update: one PowerShell CIM call.
  It is the slow part (PowerShell starts in about a second) and the only optional one: a
  locked-down PowerShell, or Wine, leaves those fields empty.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import msgspec
import psutil

from agent.inventory import system
from agent.protocol import Disk, Hardware, Inventory
from agent.windows import iphlp, registry, sessions, spooler

log = logging.getLogger(__name__)
NS = 1_000_000_000

BIOS = r"HARDWARE\DESCRIPTION\System\BIOS"
CPU = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"

# What no registry key holds: the serial (SMBIOS), physical disks, the last hotfix.
_SCRIPT = r"""
$ErrorActionPreference = 'SilentlyContinue'
$bios = Get-CimInstance Win32_BIOS
$fix = Get-HotFix | Where-Object InstalledOn | Sort-Object InstalledOn -Descending | Select-Object -First 1
@{
  serial = [string]$bios.SerialNumber
  last_update = $(if ($fix) { [int64]([DateTimeOffset]$fix.InstalledOn).ToUnixTimeSeconds() } else { 0 })
  disks = @(Get-CimInstance Win32_DiskDrive | ForEach-Object {
    @{ name = [string]$_.DeviceID; model = [string]$_.Model; size = [int64]$_.Size } })
} | ConvertTo-Json -Depth 3 -Compress
"""


class _Disk(msgspec.Struct):
    name: str = ""
    model: str = ""
    size: int = 0


class _Facts(msgspec.Struct):
    """What the PowerShell script prints; every field optional, so a failed query is only a gap."""

    serial: str = ""
    last_update: int = 0
    disks: list[_Disk] = []


def _facts(timeout: float = 60.0) -> _Facts:
    try:
        done = subprocess.run(
            ["powershell", "-NoProfile", "-NonInteractive", "-Command", _SCRIPT],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return msgspec.json.decode(done.stdout or b"{}", type=_Facts)
    except (OSError, subprocess.TimeoutExpired, msgspec.DecodeError) as err:
        log.info("no serial number or disk list: PowerShell is not usable here (%s)", err)
        return _Facts()


def _kind(_root: Path, name: str) -> str:
    lowered = name.lower()
    if any(w in lowered for w in ("wi-fi", "wireless", "wlan")):
        return "wifi"
    if "ethernet" in lowered:
        return "wired"
    return "unknown"


def hardware(bios: registry.Values, cpu: registry.Values, facts: _Facts) -> Hardware:
    """Vendor and model from the BIOS key, the CPU's name, the serial and disks from CIM."""
    return Hardware(
        vendor=str(bios.get("SystemManufacturer", "")).strip()[:256],
        model=str(bios.get("SystemProductName", "")).strip()[:256],
        serial=facts.serial.strip()[:256],
        cpu_model=str(cpu.get("ProcessorNameString", "")).strip()[:256],
        cpu_cores=psutil.cpu_count(logical=False) or 0,
        cpu_threads=psutil.cpu_count() or 0,
        memory_bytes=psutil.virtual_memory().total,
        disks=[Disk(d.name[:128], d.model[:256], max(d.size, 0)) for d in facts.disks],
    )


def collect(now_ns: int) -> Inventory:
    """The Windows inventory now."""
    facts = _facts()
    software = registry.installed_software()
    os_info = msgspec.structs.replace(registry.windows_version(), last_update_ns=facts.last_update * NS)
    network = system.network(Path("/"), kind=_kind, dns=iphlp.dns_servers())
    return Inventory(
        collected_ns=now_ns,
        hardware=hardware(registry.read_key(BIOS) or {}, registry.read_key(CPU) or {}, facts),
        os=os_info,
        boot_ns=system.boot_ns(),
        users=sessions.logged_on() or list(dict.fromkeys(u.name for u in psutil.users())),
        network=network,
        printers=spooler.printers(),
        software_source="registry",
        software=software,
        software_total=len(software),
    )
