"""The inventory on Windows, from the registry and Windows APIs: no PowerShell, no WMI.

- installed programs: the Uninstall keys of both registry views and the current user
  (agent.windows.registry), what Programs and Features lists;
- Windows name, version and build (with the update revision), and when the last update
  was installed (Component Based Servicing's packages): the registry;
- maker, model and serial number: the SMBIOS table (agent.windows.smbios), with the BIOS
  key under HKLM\\HARDWARE\\DESCRIPTION (filled from the same table at boot) for the
  maker and model where the table says nothing; the CPU's name: that key's processor;
- physical disks: the storage driver (agent.windows.disks);
- logged-on users: terminal services sessions; printers: the spooler; gateway and DNS:
  the IP Helper API.

Each reader answers "nothing" where its API does (Wine has no SMBIOS strings, no servicing
packages): that field is empty and the rest of the inventory is whole.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import psutil

from agent.inventory import system
from agent.protocol import Disk, Hardware, Inventory
from agent.windows import disks, iphlp, registry, sessions, smbios, spooler

BIOS = r"HARDWARE\DESCRIPTION\System\BIOS"
CPU = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"


def _kind(_root: Path, name: str) -> str:
    lowered = name.lower()
    if any(w in lowered for w in ("wi-fi", "wireless", "wlan")):
        return "wifi"
    if "ethernet" in lowered:
        return "wired"
    return "unknown"


def hardware(
    bios: registry.Values, cpu: registry.Values, firmware: smbios.Identity, physical: list[Disk]
) -> Hardware:
    """Maker, model and serial from the SMBIOS table (the BIOS key where it is silent), the CPU, the disks."""
    return Hardware(
        vendor=(firmware.vendor or str(bios.get("SystemManufacturer", "")).strip())[:256],
        model=(firmware.model or str(bios.get("SystemProductName", "")).strip())[:256],
        serial=firmware.serial[:256],
        cpu_model=str(cpu.get("ProcessorNameString", "")).strip()[:256],
        cpu_cores=psutil.cpu_count(logical=False) or 0,
        cpu_threads=psutil.cpu_count() or 0,
        memory_bytes=psutil.virtual_memory().total,
        disks=physical,
    )


def collect(now_ns: int) -> Inventory:
    """The Windows inventory now."""
    software = registry.installed_software()
    os_info = msgspec.structs.replace(registry.windows_version(), last_update_ns=registry.last_update())
    network = system.network(Path("/"), kind=_kind, dns=iphlp.dns_servers())
    firmware = smbios.identity()
    return Inventory(
        collected_ns=now_ns,
        hardware=hardware(
            registry.read_key(BIOS) or {}, registry.read_key(CPU) or {}, firmware, disks.physical_disks()
        ),
        os=os_info,
        boot_ns=system.boot_ns(),
        users=sessions.logged_on() or list(dict.fromkeys(u.name for u in psutil.users())),
        network=network,
        printers=spooler.printers(),
        software_source="registry",
        software=software,
        software_total=len(software),
    )
