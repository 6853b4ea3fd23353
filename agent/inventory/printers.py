"""Printers configured in the OS print system: name, driver, URI, default and state.

CUPS keeps them in `etc/cups/printers.conf` (readable by root, as the agent service
runs); as a user the same comes from `lpstat`, without the driver. Parsers are pure and
take text. Windows' spooler is read in `windows.py`. The network host of each URI is
found by discovery's parser, so the inventory and SNMP discovery agree on it.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

from agent.discovery import host_of_printer_uri
from agent.protocol import Printer

log = logging.getLogger(__name__)

_BLOCK: Final = re.compile(
    r"^<(Default)?Printer\s+([^>]+)>\s*$(.*?)^</(?:Default)?Printer>", re.MULTILINE | re.DOTALL
)


def parse_printers_conf(text: str) -> list[Printer]:
    """Printers of a CUPS printers.conf; `<DefaultPrinter>` marks the default one."""
    out = []
    for default, name, body in _BLOCK.findall(text):
        fields: dict[str, str] = {}
        for line in body.splitlines():
            key, _, value = line.strip().partition(" ")
            fields.setdefault(key, value.strip())
        uri = fields.get("DeviceURI", "")
        out.append(
            Printer(
                name=name.strip(),
                driver=fields.get("MakeModel", ""),
                uri=uri,
                host=host_of_printer_uri(uri) or "",
                default=bool(default),
                state=fields.get("State", "").lower(),
            )
        )
    return out


def parse_lpstat(devices: str, default: str, status: str) -> list[Printer]:
    """Printers from `lpstat -v`, `lpstat -d` and `lpstat -p` output (no driver: lpstat does not say)."""
    chosen = default.rpartition(":")[2].strip() if "destination:" in default else ""
    states: dict[str, str] = {}
    for line in status.splitlines():
        parts = line.split()
        # "printer office is idle.  enabled since ..." / "printer office disabled since ..."
        if len(parts) >= 3 and parts[0] == "printer":
            states[parts[1]] = parts[3].rstrip(".") if parts[2] == "is" and len(parts) > 3 else parts[2]
    out = []
    for line in devices.splitlines():
        found = re.match(r"^device for ([^:]+):\s*(\S+)\s*$", line)
        if found:
            name, uri = found.groups()
            out.append(
                Printer(
                    name=name,
                    uri=uri,
                    host=host_of_printer_uri(uri) or "",
                    default=name == chosen,
                    state=states.get(name, ""),
                )
            )
    return out


def cups_printers(root: Path, timeout: float = 5.0) -> list[Printer]:
    """CUPS printers: printers.conf under `root` if readable, else lpstat (only for the live root)."""
    try:
        return parse_printers_conf((root / "etc/cups/printers.conf").read_text(errors="replace"))
    except OSError:
        pass
    lpstat = shutil.which("lpstat")
    if lpstat is None or root != Path("/"):
        return []
    outputs = []
    for flag in ("-v", "-d", "-p"):
        try:
            done = subprocess.run(
                [lpstat, flag], capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            log.debug("lpstat %s failed: %s", flag, err)
            return []
        outputs.append(done.stdout)
    return parse_lpstat(*outputs)
