"""Which SNMP devices this PC knows about: its printers (CUPS, Windows spooler) and its gateway.

Parsers are pure and take text; the function that runs `lpstat` is guarded, and the
Windows spooler is asked through its API (agent.windows.spooler): a missing tool, a
stopped spooler or another OS yields an empty list, never an error.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

# Printer URIs whose host is a network printer worth polling over SNMP.
_NETWORK_SCHEMES: Final = frozenset({"socket", "ipp", "ipps", "lpd", "http", "https", "hp", "smb"})
_LPSTAT_LINE: Final = re.compile(r"^device for ([^:]+):\s*(\S+)\s*$", re.MULTILINE)
_DEVICE_URI: Final = re.compile(r"^\s*DeviceURI\s+(\S+)\s*$", re.MULTILINE)


def host_of_printer_uri(uri: str) -> str | None:
    """The network host a printer URI points at (socket://10.0.0.5:9100 -> 10.0.0.5); None for USB, local."""
    try:
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() == "hp":  # hp:/net/Model?ip=10.0.0.5 (HPLIP)
        ip = urllib.parse.parse_qs(parts.query).get("ip")
        return ip[0] if ip else None
    if parts.scheme.lower() not in _NETWORK_SCHEMES or not host:
        return None
    if host in ("localhost",) or (host.endswith(".local") and "dnssd" in uri):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return host


def _unique(hosts: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(h for h in hosts if h))


def hosts_from_lpstat(text: str) -> list[str]:
    """Printer hosts from the output of `lpstat -v`."""
    return _unique(host_of_printer_uri(uri) for _, uri in _LPSTAT_LINE.findall(text))


def hosts_from_printers_conf(text: str) -> list[str]:
    """Printer hosts from CUPS's printers.conf (DeviceURI lines), when lpstat is not there."""
    return _unique(host_of_printer_uri(uri) for uri in _DEVICE_URI.findall(text))


def cups_printer_hosts(
    timeout: float = 5.0, printers_conf: Path = Path("/etc/cups/printers.conf")
) -> list[str]:
    """Hosts of the network printers CUPS knows (Linux, macOS); [] when CUPS is not there."""
    lpstat = shutil.which("lpstat")
    if lpstat:
        try:
            done = subprocess.run(
                [lpstat, "-v"], capture_output=True, text=True, timeout=timeout, check=False
            )
            if done.returncode == 0:
                return hosts_from_lpstat(done.stdout)
        except (OSError, subprocess.TimeoutExpired) as err:
            log.debug("lpstat -v failed: %s", err)
    try:
        return hosts_from_printers_conf(printers_conf.read_text(errors="replace"))
    except OSError:
        return []


def windows_printer_hosts() -> list[str]:
    """Network addresses of the Windows spooler's printers; [] elsewhere or on failure."""
    from agent.windows import spooler

    return spooler.printer_hosts()


def discover(
    *,
    cups: bool = True,
    windows_spooler: bool = True,
    gateway: Callable[[], str | None] | None = None,
) -> list[tuple[str, str]]:
    """(host, role) pairs, role "printer" or "gateway", each host once; blocking: run it in a thread."""
    found: list[tuple[str, str]] = []
    if cups:
        found += [(h, "printer") for h in cups_printer_hosts()]
    if windows_spooler:
        found += [(h, "printer") for h in windows_printer_hosts()]
    if gateway is not None:
        try:
            address = gateway()
        except OSError as err:
            log.debug("default gateway lookup failed: %s", err)
            address = None
        if address:
            found.append((address, "gateway"))
    unique: dict[str, str] = {}
    for host, role in found:
        unique.setdefault(host, role)
    return list(unique.items())
