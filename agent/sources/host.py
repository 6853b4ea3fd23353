"""This PC's health, read with psutil: CPU, load, memory, swap, disks, network, uptime, processes.

Everything here uses psutil's portable API, so it runs on Linux, Windows and macOS;
what only some systems have (load average, temperatures, battery) is guarded and
simply absent elsewhere. The agent sends numbers; thresholds live in collector rules.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable, Sequence

import msgspec
import psutil

from agent.protocol import Sample, Severity, State

# Pseudo and virtual filesystems: no user data, and their "usage" means nothing.
_PSEUDO_FS = frozenset(
    [
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "ramfs",
        "securityfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
        "iso9660",
        "udf",
    ]
)


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `[host]` table of agent.toml."""

    enabled: bool = True
    interval_seconds: float | None = None  # None: the agent's interval_seconds
    ignore_mounts: frozenset[str] = frozenset()
    ignore_interfaces: frozenset[str] = frozenset({"lo"})
    top_processes: int = 5  # how many processes the top-CPU and top-memory lists name
    # Scanning every process is most of a round's CPU, and the list changes slowly: it goes
    # out this often (the `top_processes` diagnostic gives it on demand during a call).
    top_processes_interval_seconds: float = 300


async def collect(settings: Settings, now_ns: int) -> Sequence[Sample | State]:
    """One round of host figures."""
    # disk_usage() can block for seconds on a dead network drive, and process_iter() on
    # a busy PC takes tens of milliseconds: both run off the event loop.
    top_count = settings.top_processes if _top_due(settings, now_ns) else 0
    disks, top = await asyncio.gather(
        asyncio.to_thread(_disks, settings.ignore_mounts, now_ns),
        asyncio.to_thread(_top_processes, top_count, now_ns),
    )
    out: list[Sample | State] = [*_cpu(now_ns), *_memory(now_ns), *disks, *top]
    out.extend(_disk_io(now_ns))
    out.extend(_network(settings.ignore_interfaces, now_ns))
    out.extend(_system(now_ns))
    out.extend(_battery(now_ns))
    out.extend(_temperatures(now_ns))
    return out


_top_next_ns: dict[Settings, int] = {}  # per configuration: when the list is due again


def _top_due(settings: Settings, now_ns: int) -> bool:
    """True once per top_processes_interval_seconds (and on the first round)."""
    if now_ns < _top_next_ns.get(settings, 0):
        return False
    _top_next_ns[settings] = now_ns + int(settings.top_processes_interval_seconds * 1e9)
    return True


def _cpu(now_ns: int) -> Iterable[Sample]:
    # interval=None compares with the previous call: the first round after start reads 0.
    per_core = psutil.cpu_percent(interval=None, percpu=True)
    total = sum(per_core) / len(per_core) if per_core else 0.0
    fields: dict[str, int | float] = {"used_percent": total, "cores": psutil.cpu_count() or len(per_core)}
    if sys.platform != "win32":  # Windows has no load average; psutil's imitation reads 0 for minutes
        load1, load5, load15 = psutil.getloadavg()
        fields |= {"load1": load1, "load5": load5, "load15": load15}
    yield Sample("cpu", fields, time_ns=now_ns)
    for core, used in enumerate(per_core):
        yield Sample("cpu_core", {"used_percent": used}, {"core": str(core)}, now_ns)


def _memory(now_ns: int) -> Iterable[Sample]:
    vm = psutil.virtual_memory()
    yield Sample(
        "memory",
        {
            "total_bytes": vm.total,
            "available_bytes": vm.available,
            "used_bytes": vm.total - vm.available,
            "used_percent": vm.percent,
        },
        time_ns=now_ns,
    )
    try:
        swap = psutil.swap_memory()
    except RuntimeError:
        return  # Windows with its performance counters switched off (and Wine) cannot tell
    yield Sample(
        "swap",
        {"total_bytes": swap.total, "used_bytes": swap.used, "used_percent": swap.percent},
        time_ns=now_ns,
    )


def _disks(ignore: frozenset[str], now_ns: int) -> list[Sample]:
    out: list[Sample] = []
    seen_devices: set[str] = set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in _PSEUDO_FS or part.mountpoint in ignore or "cdrom" in part.opts:
            continue
        # A bind mount or a btrfs subvolume shows the same device twice: count it once.
        if part.device in seen_devices and part.device.startswith("/dev/"):
            continue
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue  # an empty card reader or a vanished network drive
        seen_devices.add(part.device)
        out.append(
            Sample(
                "disk",
                {
                    "total_bytes": usage.total,
                    "used_bytes": usage.used,
                    "free_bytes": usage.free,
                    "used_percent": usage.percent,
                },
                # `block_device`, not `device`: that tag names SNMP devices (protocol.DEVICE_TAG)
                {"mount": part.mountpoint, "block_device": part.device, "fstype": part.fstype},
                now_ns,
            )
        )
    return out


def _disk_io(now_ns: int) -> Iterable[Sample]:
    try:
        counters = psutil.disk_io_counters(perdisk=True) or {}
    except (OSError, RuntimeError):
        return  # Windows without diskperf, some containers
    for name, io in counters.items():
        if name.startswith(("loop", "ram", "zram")):
            continue
        yield Sample(
            "disk_io",
            {
                "read_bytes_total": io.read_bytes,
                "write_bytes_total": io.write_bytes,
                "reads_total": io.read_count,
                "writes_total": io.write_count,
                "read_seconds_total": io.read_time / 1000,
                "write_seconds_total": io.write_time / 1000,
            },
            {"disk": name},
            now_ns,
        )


def _network(ignore: frozenset[str], now_ns: int) -> Iterable[Sample]:
    stats = psutil.net_if_stats()
    for name, io in psutil.net_io_counters(pernic=True).items():
        if name in ignore:
            continue
        st = stats.get(name)
        yield Sample(
            "net",
            {
                "bytes_recv_total": io.bytes_recv,
                "bytes_sent_total": io.bytes_sent,
                "packets_recv_total": io.packets_recv,
                "packets_sent_total": io.packets_sent,
                "errors_in_total": io.errin,
                "errors_out_total": io.errout,
                "drops_in_total": io.dropin,
                "drops_out_total": io.dropout,
                "up": int(st.isup) if st else 0,
                "speed_bps": (st.speed * 1_000_000) if st else 0,
            },
            {"interface": name},
            now_ns,
        )


def _system(now_ns: int) -> Iterable[Sample]:
    boot = psutil.boot_time()
    yield Sample(
        "system",
        {
            "boot_time_seconds": boot,
            "uptime_seconds": max(0.0, time.time() - boot),
            "processes": len(psutil.pids()),
        },
        time_ns=now_ns,
    )


def _battery(now_ns: int) -> Iterable[Sample]:
    sensors_battery = getattr(psutil, "sensors_battery", None)
    if sensors_battery is None:
        return
    try:
        battery = sensors_battery()
    except (OSError, RuntimeError):
        return
    if battery is None:
        return  # a desktop
    fields: dict[str, int | float] = {
        "charge_percent": battery.percent,
        "plugged": int(bool(battery.power_plugged)),
    }
    if isinstance(battery.secsleft, int) and battery.secsleft >= 0:
        fields["seconds_left"] = battery.secsleft
    yield Sample("battery", fields, time_ns=now_ns)


# Virtual machines and many office PCs expose no sensor at all, and finding that out
# scans /sys/class/hwmon and the thermal zones every round (a tenth of a round's CPU).
# With none found, look again only this often: sensors come with drivers, not by the minute.
NO_SENSORS_RECHECK_NS = 600 * 10**9
_no_sensors_until_ns = 0


def _temperatures(now_ns: int) -> Iterable[Sample]:
    global _no_sensors_until_ns
    sensors_temperatures = getattr(psutil, "sensors_temperatures", None)  # Linux and FreeBSD only
    if sensors_temperatures is None or now_ns < _no_sensors_until_ns:
        return
    try:
        readings = sensors_temperatures()
    except (OSError, RuntimeError):
        return
    if not readings:
        _no_sensors_until_ns = now_ns + NO_SENSORS_RECHECK_NS
    for chip, entries in readings.items():
        for i, entry in enumerate(entries):
            yield Sample(
                "temperature",
                {"celsius": entry.current},
                {"chip": chip, "sensor": entry.label or str(i)},
                now_ns,
            )


def _top_processes(count: int, now_ns: int) -> list[State]:
    """The processes using the most CPU and memory, as info States (never metric tags)."""
    if count <= 0:
        return []
    procs: list[tuple[str, int, float, int]] = []
    for proc in psutil.process_iter():
        try:
            with proc.oneshot():
                procs.append((proc.name(), proc.pid, proc.cpu_percent(), proc.memory_info().rss))
        except (psutil.Error, OSError):
            continue  # ended meanwhile, not ours to read, or an OS that cannot say (Wine)
    by_cpu = sorted(procs, key=lambda p: p[2], reverse=True)[:count]
    by_mem = sorted(procs, key=lambda p: p[3], reverse=True)[:count]
    return [
        State(
            "host",
            "top_cpu_processes",
            True,
            Severity.INFO,
            _describe(by_cpu),
            observed_ns=now_ns,
        ),
        State(
            "host",
            "top_memory_processes",
            True,
            Severity.INFO,
            _describe(by_mem),
            observed_ns=now_ns,
        ),
    ]


def _describe(procs: list[tuple[str, int, float, int]]) -> str:
    text = "; ".join(
        f"{name} (pid {pid}) {cpu:.0f}% CPU {rss / 2**20:.0f} MiB" for name, pid, cpu, rss in procs
    )
    return text[:1000]
