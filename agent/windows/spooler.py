"""The Windows print spooler: printers, the network address behind each port, waiting jobs.

Printers come from EnumPrinters (level 2: name, port, driver, status). A printer on a
Standard TCP/IP port has its address under the port monitor's registry key
(HostName or IPAddress); ports Windows named after an address (IP_10.0.0.5, 10.0.0.5_1)
say it in their name. USB, WSD, file and shared (\\\\server\\queue) printers have no
address worth polling over SNMP. Parsers are pure and take what the spooler returned.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from agent.protocol import Printer

log = logging.getLogger(__name__)

TCPIP_PORTS: Final = r"SYSTEM\CurrentControlSet\Control\Print\Monitors\Standard TCP/IP Port\Ports"
PRINTER_ENUM_LOCAL: Final = 0x2
PRINTER_ENUM_CONNECTIONS: Final = 0x4
# winspool.h PRINTER_STATUS_*: the first that is set names the printer's state
_STATUS: Final = (
    (0x00000080, "offline"),
    (0x00000008, "paper_jam"),
    (0x00000010, "paper_out"),
    (0x00040000, "toner_low"),
    (0x00000020, "manual_feed"),
    (0x00000040, "paper_problem"),
    (0x00000002, "error"),
    (0x00400000, "door_open"),
    (0x00000001, "paused"),
    (0x00000004, "pending_deletion"),
    (0x00000400, "printing"),
    (0x00000200, "busy"),
    (0x00004000, "processing"),
    (0x00010000, "warming_up"),
)
_ADDRESS_IN_NAME: Final = re.compile(r"^(?:IP_)?(\d{1,3}(?:\.\d{1,3}){3})(?:_\d+)?$", re.IGNORECASE)
# winspool.h JOB_STATUS_*
_JOB_STATUS: Final = (
    (0x0002, "error"),
    (0x0020, "offline"),
    (0x0040, "paper_out"),
    (0x0400, "blocked"),
    (0x0001, "paused"),
    (0x0004, "deleting"),
    (0x0010, "printing"),
    (0x0008, "spooling"),
)


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """One job waiting in a printer's queue, as the spooler tells it."""

    id: int
    printer: str
    user: str
    size_bytes: int
    submitted: dt.datetime | None  # UTC
    status: int


def state_of(status: int) -> str:
    """A printer's PRINTER_STATUS flags in one word: idle when none is set."""
    return next((word for flag, word in _STATUS if status & flag), "idle")


def job_state_of(status: int) -> str:
    """A job's JOB_STATUS flags in one word: queued when none is set."""
    return next((word for flag, word in _JOB_STATUS if status & flag), "queued")


def host_of_port(port: str, values: Mapping[str, object] | None) -> str:
    """The network address behind a printer port, or "" for local and shared ports.

    `values` are the Standard TCP/IP port monitor's registry values for that port (None
    when the port is not one of its ports).
    """
    if values:
        for key in ("HostName", "IPAddress"):
            value = str(values.get(key, "")).strip()
            if value:
                return value
    found = _ADDRESS_IN_NAME.match(port.strip())
    if found:
        try:
            return str(ipaddress.IPv4Address(found.group(1)))
        except ValueError:
            return ""
    return ""


def printer_of(
    info: Mapping[str, object], default_name: str, port_values: Mapping[str, object] | None
) -> Printer:
    """One PRINTER_INFO_2 (as pywin32 returns it) as the inventory's Printer."""
    name = str(info.get("pPrinterName") or "")
    port = str(info.get("pPortName") or "")
    status = info.get("Status")
    # a shared printer's port is its \\server\queue name: the server is not the printer
    host = "" if name.startswith("\\\\") else host_of_port(port.split(",")[0], port_values)
    return Printer(
        name=name[:256],
        driver=str(info.get("pDriverName") or "")[:256],
        uri=port[:256],
        host=host[:256],
        default=name == default_name,
        state=state_of(status if isinstance(status, int) else 0),
    )


# -- reading (Windows only) -------------------------------------------------------------


def printers() -> list[Printer]:
    """The printers this PC's spooler knows (local and connected), with their network address."""
    if sys.platform != "win32":
        return []
    import win32print

    from agent.windows import registry

    try:
        infos = win32print.EnumPrinters(PRINTER_ENUM_LOCAL | PRINTER_ENUM_CONNECTIONS, None, 2)
    except Exception as err:  # pywintypes.error: the spooler service is stopped
        log.warning("the print spooler does not answer: %s", err)
        return []
    try:
        default = win32print.GetDefaultPrinter()
    except Exception:  # no default printer set
        default = ""
    out = []
    for info in infos:
        port = str(info.get("pPortName") or "").split(",")[0]
        values = registry.read_key(rf"{TCPIP_PORTS}\{port}") if port else None
        out.append(printer_of(info, default, values))
    return out


def printer_hosts() -> list[str]:
    """The network addresses of this PC's printers, each once (SNMP discovery's input)."""
    return list(dict.fromkeys(p.host for p in printers() if p.host))


def jobs(printer: str) -> list[QueuedJob]:
    """The jobs waiting in one printer's queue."""
    if sys.platform != "win32":
        return []
    import win32print

    handle = win32print.OpenPrinter(printer)
    try:
        raw = win32print.EnumJobs(handle, 0, 999, 2)
    finally:
        win32print.ClosePrinter(handle)
    out = []
    for job in raw:
        submitted = job.get("Submitted")
        when = None
        if submitted is not None:
            # pywintypes.datetime of the SYSTEMTIME, which is UTC
            when = dt.datetime(
                submitted.year,
                submitted.month,
                submitted.day,
                submitted.hour,
                submitted.minute,
                submitted.second,
                tzinfo=dt.UTC,
            )
        out.append(
            QueuedJob(
                int(job.get("JobId", 0)),
                printer,
                str(job.get("pUserName") or ""),
                int(job.get("Size") or 0),
                when,
                int(job.get("Status") or 0),
            )
        )
    return out
