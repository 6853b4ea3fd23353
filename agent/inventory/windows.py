"""The inventory on Windows: CIM (WMI) through one PowerShell call, software from the registry.

Untested here (the test machine runs Linux); every call is guarded, so a missing
cmdlet or a locked-down PowerShell leaves fields empty instead of failing the agent.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import msgspec
import psutil

from agent.inventory import system
from agent.protocol import Disk, Hardware, Inventory, OsInfo, Package, Printer

log = logging.getLogger(__name__)
NS = 1_000_000_000

# One PowerShell process for everything CIM knows: starting PowerShell costs more than the queries.
_SCRIPT = r"""
$ErrorActionPreference = 'SilentlyContinue'
$cs = Get-CimInstance Win32_ComputerSystem; $bios = Get-CimInstance Win32_BIOS
$os = Get-CimInstance Win32_OperatingSystem; $cpu = Get-CimInstance Win32_Processor | Select-Object -First 1
$ports = @{}; Get-CimInstance Win32_TCPIPPrinterPort | ForEach-Object { $ports[$_.Name] = $_.HostAddress }
$fix = Get-HotFix | Where-Object InstalledOn | Sort-Object InstalledOn -Descending | Select-Object -First 1
@{
  vendor = [string]$cs.Manufacturer; model = [string]$cs.Model; serial = [string]$bios.SerialNumber
  os = [string]$os.Caption; version = [string]$os.Version; build = [string]$os.BuildNumber
  cpu = [string]$cpu.Name; cores = [int]$cpu.NumberOfCores
  last_update = $(if ($fix) { [int64]([DateTimeOffset]$fix.InstalledOn).ToUnixTimeSeconds() } else { 0 })
  disks = @(Get-CimInstance Win32_DiskDrive | ForEach-Object {
    @{ name = [string]$_.DeviceID; model = [string]$_.Model; size = [int64]$_.Size } })
  printers = @(Get-CimInstance Win32_Printer | ForEach-Object {
    @{ name = [string]$_.Name; driver = [string]$_.DriverName; port = [string]$_.PortName
       host = [string]$ports[$_.PortName]; default = [bool]$_.Default; state = [string]$_.PrinterStatus } })
  dns = @(Get-DnsClientServerAddress -AddressFamily IPv4 | ForEach-Object { $_.ServerAddresses } |
    Select-Object -Unique)
} | ConvertTo-Json -Depth 4 -Compress
"""


class _Disk(msgspec.Struct):
    name: str = ""
    model: str = ""
    size: int = 0


class _Printer(msgspec.Struct):
    name: str = ""
    driver: str = ""
    port: str = ""
    host: str = ""
    default: bool = False
    state: str = ""


class _Facts(msgspec.Struct):
    """What the PowerShell script prints; every field optional, so a failed query is only a gap."""

    vendor: str = ""
    model: str = ""
    serial: str = ""
    os: str = ""
    version: str = ""
    build: str = ""
    cpu: str = ""
    cores: int = 0
    last_update: int = 0
    disks: list[_Disk] = []
    printers: list[_Printer] = []
    dns: list[str] = []


# Win32_Printer.PrinterStatus
_PRINTER_STATUS = {
    "1": "other",
    "2": "unknown",
    "3": "idle",
    "4": "printing",
    "5": "warmup",
    "6": "stopped",
    "7": "offline",
}


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
        log.warning("cannot read the Windows inventory: %s", err)
        return _Facts()


def _kind(_root: Path, name: str) -> str:
    lowered = name.lower()
    if any(w in lowered for w in ("wi-fi", "wireless", "wlan")):
        return "wifi"
    if "ethernet" in lowered:
        return "wired"
    return "unknown"


def registry_software() -> list[Package]:
    """Installed programs from the Uninstall keys (machine, 32-bit view, current user)."""
    if sys.platform != "win32":
        return []
    import winreg

    found: dict[str, Package] = {}
    uninstall = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
    for hive, path in (
        (winreg.HKEY_LOCAL_MACHINE, uninstall),
        (winreg.HKEY_LOCAL_MACHINE, r"Software\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall"),
        (winreg.HKEY_CURRENT_USER, uninstall),
    ):
        try:
            key = winreg.OpenKey(hive, path)
        except OSError:
            continue
        with key:
            for index in range(winreg.QueryInfoKey(key)[0]):
                try:
                    with winreg.OpenKey(key, winreg.EnumKey(key, index)) as app:
                        values = {}
                        for value_name in ("DisplayName", "DisplayVersion", "InstallDate", "SystemComponent"):
                            try:
                                values[value_name] = winreg.QueryValueEx(app, value_name)[0]
                            except OSError:
                                continue
                except OSError:
                    continue
                name = str(values.get("DisplayName", "")).strip()
                if not name or values.get("SystemComponent") == 1:  # updates and parts, not programs
                    continue
                version = str(values.get("DisplayVersion", ""))
                found.setdefault(name, Package(name, version, _install_date(values)))
    return sorted(found.values(), key=lambda p: p.name)


def _install_date(values: dict[str, object]) -> int:
    import datetime as dt

    text = str(values.get("InstallDate", ""))  # YYYYMMDD
    try:
        day = dt.datetime.strptime(text, "%Y%m%d").replace(tzinfo=dt.UTC)
    except ValueError:
        return 0
    return int(day.timestamp()) * NS


def collect(now_ns: int) -> Inventory:
    """The Windows inventory now."""
    facts = _facts()
    software = registry_software()
    return Inventory(
        collected_ns=now_ns,
        hardware=Hardware(
            vendor=facts.vendor,
            model=facts.model,
            serial=facts.serial.strip(),
            cpu_model=facts.cpu.strip(),
            cpu_cores=facts.cores or psutil.cpu_count(logical=False) or 0,
            cpu_threads=psutil.cpu_count() or 0,
            memory_bytes=psutil.virtual_memory().total,
            disks=[Disk(d.name, d.model, max(d.size, 0)) for d in facts.disks],
        ),
        os=OsInfo(
            name=facts.os, version=facts.version, build=facts.build, last_update_ns=facts.last_update * NS
        ),
        boot_ns=system.boot_ns(),
        users=list(dict.fromkeys(u.name for u in psutil.users())),
        network=system.network(Path("/"), kind=_kind, dns=facts.dns),
        printers=[
            Printer(p.name, p.driver, p.port, p.host, p.default, _PRINTER_STATUS.get(p.state, p.state))
            for p in facts.printers
        ],
        software_source="registry",
        software=software,
        software_total=len(software),
    )
