"""Checks of this PC itself: disk, memory, top_processes, services, print_queue, network_config.

Disk and memory figures come from the host source's own readers. The OS tools used
(systemctl, lpstat, netsh) get fixed arguments plus names that
the schemas have validated; nothing goes through a shell.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ntpath
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec
import psutil

from agent import netinfo
from agent.diagnostics.context import Context
from agent.diagnostics.params import Params, Percent
from agent.diagnostics.report import CheckFailed, Report
from agent.sources import host

GiB = 2**30


class _Out(msgspec.Struct, frozen=True, omit_defaults=True):
    pass


def _tool(argv: list[str], timeout: float = 5.0) -> tuple[int, str]:
    """Run a fixed OS tool in the C locale; (exit status, stdout). (-1, reason) if it cannot run."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )
    except (OSError, subprocess.SubprocessError) as err:
        return -1, str(err)
    return done.returncode, done.stdout


# -- disk and memory -------------------------------------------------------------------


class DiskParams(Params, frozen=True):
    mount: Annotated[str, msgspec.Meta(max_length=256)] = ""  # "" = every disk
    warn_percent: Percent = 90


class Disk(_Out, frozen=True):
    mount: str
    block_device: str
    fstype: str
    total_bytes: int
    free_bytes: int
    used_percent: float


async def disk(p: DiskParams, ctx: Context, report: Report) -> None:
    """Fill level of every disk (or one mount point), fullest first."""
    samples = await asyncio.to_thread(host._disks, frozenset(), time.time_ns())
    disks = [
        Disk(
            s.tags["mount"],
            s.tags["block_device"],
            s.tags["fstype"],
            int(s.fields["total_bytes"]),
            int(s.fields["free_bytes"]),
            float(s.fields["used_percent"]),
        )
        for s in samples
        if not p.mount or s.tags["mount"] == p.mount
    ]
    if p.mount and not disks:
        raise CheckFailed(f"no disk is mounted at {p.mount}")
    disks.sort(key=lambda d: d.used_percent, reverse=True)
    report.set("disks", disks)
    for d in disks:
        if d.used_percent >= p.warn_percent:
            report.problem(
                f"disk {d.mount} is {d.used_percent:.0f} % full ({d.free_bytes / GiB:.1f} GiB free)"
            )


class MemoryParams(Params, frozen=True):
    warn_percent: Percent = 90


async def memory(p: MemoryParams, ctx: Context, report: Report) -> None:
    """Memory and swap in use."""
    for sample in host._memory(time.time_ns()):
        report.set(sample.measurement, dict(sample.fields))
        used = float(sample.fields["used_percent"])
        if sample.fields["total_bytes"] and used >= p.warn_percent:
            report.problem(f"{sample.measurement} {used:.0f} % used")


class TopParams(Params, frozen=True):
    count: Annotated[int, msgspec.Meta(ge=1, le=25)] = 5
    sort: Literal["cpu", "memory"] = "cpu"
    sample_seconds: Annotated[float, msgspec.Meta(ge=0.1, le=5)] = 0.5
    warn_percent: Percent = 90  # of all cores together


class Proc(_Out, frozen=True):
    pid: int
    name: str
    cpu_percent: float  # of one core, like top
    rss_bytes: int
    user: str = ""


async def top_processes(p: TopParams, ctx: Context, report: Report) -> None:
    """The processes using the most CPU (measured over `sample_seconds`) or memory."""
    # cpu_percent() compares with the previous call on the same Process object: prime, wait, read.
    procs = await asyncio.to_thread(_prime)
    psutil.cpu_percent(interval=None)
    await asyncio.sleep(p.sample_seconds)
    total = psutil.cpu_percent(interval=None)
    rows = await asyncio.to_thread(_read, procs)
    key = (lambda r: r.cpu_percent) if p.sort == "cpu" else (lambda r: float(r.rss_bytes))
    rows.sort(key=key, reverse=True)
    top = rows[: p.count]
    report.set("cpu_percent", total)
    report.set("cores", psutil.cpu_count() or 1)
    report.set("processes", top)
    if total >= p.warn_percent and top:
        busiest = max(top, key=lambda r: r.cpu_percent)
        report.problem(
            f"CPU {total:.0f} % busy; most: {busiest.name} (pid {busiest.pid}) {busiest.cpu_percent:.0f} %"
        )


def _prime() -> list[psutil.Process]:
    procs = []
    for proc in psutil.process_iter():
        try:
            proc.cpu_percent(None)
        except psutil.Error:
            continue
        procs.append(proc)
    return procs


def _read(procs: list[psutil.Process]) -> list[Proc]:
    rows = []
    for proc in procs:
        try:
            with proc.oneshot():
                rows.append(
                    Proc(proc.pid, _name(proc), proc.cpu_percent(None), proc.memory_info().rss, _user(proc))
                )
        except psutil.Error:
            continue  # it ended meanwhile
    return rows


def _name(proc: psutil.Process) -> str:
    """The process's name; on Windows from its command line when the image name cannot be read.

    psutil reads a Windows image name through NtQuerySystemInformation's
    SystemProcessIdInformation; Wine 8 does not implement that class and says "invalid
    parameter", an OSError rather than a psutil error, for every process.
    """
    try:
        return proc.name()
    except OSError:
        if sys.platform != "win32":
            raise
    try:
        argv = proc.cmdline()
    except (psutil.Error, OSError):
        return ""
    return ntpath.basename(argv[0]) if argv else ""


def _user(proc: psutil.Process) -> str:
    try:
        return proc.username()
    except (psutil.Error, KeyError):
        return ""


# -- services --------------------------------------------------------------------------

_SERVICE = r"[A-Za-z0-9@._:-]{1,128}"


class ServicesParams(Params, frozen=True):
    # comma-separated, because parameters are scalars: "cups,NetworkManager"; "" asks for
    # what an office PC relies on (DEFAULT_SERVICES)
    names: Annotated[str, msgspec.Meta(pattern=rf"^({_SERVICE}(,{_SERVICE}){{0,19}})?\Z")] = ""


# Printing, name resolution and the network: what a caller's "nothing works" usually is.
DEFAULT_SERVICES: Final = {
    "win32": "Spooler,Dnscache,Dhcp,LanmanWorkstation,NlaSvc",
    "darwin": "cupsd,mDNSResponder",
    "linux": "cups,NetworkManager,systemd-resolved",
}


class Service(_Out, frozen=True):
    name: str
    state: str  # running, stopped, failed, not_found, ...
    detail: str = ""
    method: str = ""  # systemd, windows, process


async def services(p: ServicesParams, ctx: Context, report: Report) -> None:
    """The state of named system services (systemd, the Windows service manager, else running processes)."""
    names = (p.names or DEFAULT_SERVICES.get(sys.platform, DEFAULT_SERVICES["linux"])).split(",")
    found = await asyncio.to_thread(_services, names)
    report.set("services", found)
    for s in found:
        if s.state != "running":
            report.problem(
                f"service {s.name} is {s.state.replace('_', ' ')}" + (f" ({s.detail})" if s.detail else "")
            )


def _services(names: list[str]) -> list[Service]:
    if sys.platform == "win32":
        return [_windows_service(n) for n in names]
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        code, out = _tool(["systemctl", "show", "--property=Id,LoadState,ActiveState,SubState", "--", *names])
        if code == 0:
            return parse_systemctl_show(out, names)
    return _process_services(names)


def parse_systemctl_show(text: str, names: list[str]) -> list[Service]:
    """`systemctl show -p Id,LoadState,ActiveState,SubState A B` (blocks in the order asked) -> Services."""
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    out = []
    for name, block in zip(names, blocks, strict=False):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        active, sub = props.get("ActiveState", ""), props.get("SubState", "")
        if props.get("LoadState") == "not-found":
            state = "not_found"
        elif active == "active":
            state = "running" if sub in ("running", "exited", "listening", "") else sub
        elif active == "failed":
            state = "failed"
        else:
            state = "stopped"
        out.append(Service(name, state, f"{active}/{sub}", "systemd"))
    return out


def _windows_service(name: str) -> Service:
    if sys.platform != "win32":
        return Service(name, "unknown", "not available: the Windows service manager is Windows'", "windows")
    try:
        info = psutil.win_service_get(name).as_dict()
    except psutil.NoSuchProcess:
        return Service(name, "not_found", method="windows")
    except (psutil.Error, OSError) as err:
        return Service(name, "unknown", str(err), "windows")
    status = str(info.get("status", "unknown"))
    return Service(
        name, "running" if status == "running" else status, str(info.get("start_type", "")), "windows"
    )


def _process_services(names: list[str]) -> list[Service]:
    # No service manager to ask (a container, macOS without launchctl rights): a process of that
    # name (or name + "d", the Unix daemon habit) running is the best evidence there is.
    running: set[str] = set()
    for proc in psutil.process_iter(["name"]):
        running.add((proc.info.get("name") or "").lower())
    out = []
    for name in names:
        base = name.removesuffix(".service").lower()
        up = base in running or base + "d" in running
        out.append(
            Service(
                name, "running" if up else "stopped", "no service manager; judged by process name", "process"
            )
        )
    return out


# -- print queue -----------------------------------------------------------------------


class PrintQueueParams(Params, frozen=True):
    stuck_minutes: Annotated[float, msgspec.Meta(gt=0, le=1440)] = 10


class Job(_Out, frozen=True):
    id: str
    printer: str
    user: str = ""
    size_bytes: int = 0
    age_seconds: float | None = None
    state: str = ""


class QueuePrinter(_Out, frozen=True):
    name: str
    state: str  # idle, printing, disabled, error, ...
    detail: str = ""


async def print_queue(p: PrintQueueParams, ctx: Context, report: Report) -> None:
    """Jobs waiting in CUPS or the Windows spooler, and printers that are paused or in error."""
    now = dt.datetime.now(dt.UTC)
    if sys.platform == "win32":
        printers, jobs = await asyncio.to_thread(_windows_queue)
    elif shutil.which("lpstat"):
        _, jobs_text = await asyncio.to_thread(_tool, ["lpstat", "-o"])
        _, printers_text = await asyncio.to_thread(_tool, ["lpstat", "-p"])
        jobs = parse_lpstat_jobs(jobs_text, now)
        printers = parse_lpstat_printers(printers_text)
    else:
        # A PC that does not print (a kiosk, a server) is information, not a fault.
        report.set("print_system", "none: neither CUPS (lpstat) nor the Windows spooler on this PC")
        return
    report.set("printers", printers)
    report.set("jobs", jobs)
    for printer in printers:
        if printer.state not in ("idle", "printing"):
            report.problem(
                f"printer queue {printer.name} is {printer.state}"
                + (f": {printer.detail}" if printer.detail else "")
            )
    stuck = [j for j in jobs if j.age_seconds is not None and j.age_seconds > p.stuck_minutes * 60]
    if stuck:
        oldest = max(stuck, key=lambda j: j.age_seconds or 0)
        report.problem(
            f"{len(stuck)} print job(s) waiting longer than {p.stuck_minutes:g} min; "
            f"oldest {oldest.id} on {oldest.printer}, {int((oldest.age_seconds or 0) // 60)} min"
        )


def parse_lpstat_jobs(text: str, now: dt.datetime) -> list[Job]:
    """`LC_ALL=C lpstat -o`: "Office-42  alice  10240  Mon Nov 23 09:00:00 2026" per job."""
    jobs = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 3:
            continue
        job_id, user = cols[0], cols[1]
        printer = job_id.rsplit("-", 1)[0]
        size = int(cols[2]) if cols[2].isdigit() else 0
        age = None
        try:
            # CUPS prints the time with strftime("%c"), the C locale's form; it is local time.
            when = dt.datetime.strptime(" ".join(cols[3:8]), "%a %b %d %H:%M:%S %Y").astimezone()
            age = max(0.0, (now - when).total_seconds())
        except ValueError:
            pass
        jobs.append(Job(job_id, printer, user, size, age))
    return jobs


def parse_lpstat_printers(text: str) -> list[QueuePrinter]:
    """`LC_ALL=C lpstat -p`: "printer Office is idle.  enabled since ...", "printer X disabled since ..."."""
    printers = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("printer "):
            continue
        cols = line.split()
        name = cols[1]
        # the reason a queue stopped is on the next, indented line
        detail = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith(("\t", " ")) else ""
        if "disabled" in cols:
            state = "disabled"
        elif "printing" in cols:
            state = "printing"
        elif "idle." in cols or "idle" in cols:
            state = "idle"
        else:
            state = "unknown"
        printers.append(QueuePrinter(name, state, detail))
    return printers


def _windows_queue() -> tuple[list[QueuePrinter], list[Job]]:
    from agent.windows import spooler

    now = dt.datetime.now(dt.UTC)
    printers, jobs = [], []
    for printer in spooler.printers():
        printers.append(QueuePrinter(printer.name, printer.state))
        try:
            queued = spooler.jobs(printer.name)
        except Exception as err:  # pywintypes.error: the queue went away meanwhile
            printers[-1] = QueuePrinter(printer.name, "unknown", f"cannot read its queue: {err}")
            continue
        for job in queued:
            age = max(0.0, (now - job.submitted).total_seconds()) if job.submitted else None
            state = spooler.job_state_of(job.status)
            jobs.append(Job(str(job.id), printer.name, job.user, job.size_bytes, age, state))
    return printers, jobs


# -- network configuration -------------------------------------------------------------


class Interface(_Out, frozen=True):
    name: str
    up: bool
    addresses: list[str]
    mac: str = ""
    speed_mbps: int = 0
    mtu: int = 0


class Wifi(_Out, frozen=True):
    interface: str
    signal_dbm: float | None = None
    signal_percent: float | None = None
    ssid: str = ""


async def network_config(p: Params, ctx: Context, report: Report) -> None:
    """Interfaces and addresses, default gateway, DNS servers and Wi-Fi signal where the OS tells."""
    interfaces, gateway, servers, wifi = await asyncio.gather(
        asyncio.to_thread(_interfaces),
        asyncio.to_thread(netinfo.default_gateway),
        asyncio.to_thread(netinfo.dns_servers),
        asyncio.to_thread(_wifi),
    )
    report.set("interfaces", interfaces)
    report.set("gateway", gateway or "")
    report.set("dns_servers", servers)
    report.set("wifi", wifi)
    if not any(i.up and i.addresses and not _loopback(i) for i in interfaces):
        report.problem("no network interface is up with an address")
    if not gateway:
        report.problem("no default gateway: this PC cannot reach other networks")
    if not servers:
        report.problem("no DNS servers configured")
    for w in wifi:
        if w.signal_dbm is not None and w.signal_dbm < -75:
            report.problem(f"weak Wi-Fi signal on {w.interface}: {w.signal_dbm:.0f} dBm")


def _loopback(i: Interface) -> bool:
    return all(a.startswith(("127.", "::1")) for a in i.addresses)


def _interfaces() -> list[Interface]:
    out = [
        Interface(
            link.name,
            link.up,
            [f"{address}/{_prefix(netmask)}" for address, netmask in link.addresses],
            link.mac,
            link.speed_mbps,
            link.mtu,
        )
        for link in netinfo.links()
    ]
    return sorted(out, key=lambda i: (not i.up, _loopback(i), i.name))


def _prefix(netmask: str | None) -> int:
    if not netmask:
        return 0
    if ":" in netmask:
        return sum(bin(int(part or "0", 16)).count("1") for part in netmask.split(":"))
    return sum(bin(int(part)).count("1") for part in netmask.split("."))


def _wifi() -> list[Wifi]:
    if sys.platform.startswith("linux"):
        try:
            return parse_proc_wireless(Path("/proc/net/wireless").read_text())
        except OSError:
            return []
    if sys.platform == "win32" and shutil.which("netsh"):
        return parse_netsh_wlan(_tool(["netsh", "wlan", "show", "interfaces"])[1])
    return []


def parse_proc_wireless(text: str) -> list[Wifi]:
    """/proc/net/wireless: "wlan0: 0000   60.  -50.  -256 ..." (link quality, signal level in dBm)."""
    out = []
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        cols = rest.split()
        if len(cols) >= 3:
            out.append(Wifi(name.strip(), signal_dbm=float(cols[2].rstrip("."))))
    return out


def parse_netsh_wlan(text: str) -> list[Wifi]:
    """`netsh wlan show interfaces`: Name, SSID and "Signal : 85%" per interface."""
    out: list[Wifi] = []
    name = ssid = ""
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "Name":
            name = value
        elif key == "SSID":
            ssid = value
        elif key == "Signal" and value.endswith("%"):
            out.append(Wifi(name, signal_percent=float(value.rstrip("%")), ssid=ssid))
    return out
