"""Agent footprint: RSS, PSS and CPU of deskwatch-agent next to prometheus-node-exporter and
zabbix-agent, measured in the same run the same way.

Each runs for the same time (default 180 s) at a 10 s interval: the agent collects its
host and network sources and publishes to a private Mosquitto; node exporter is scraped
and zabbix_agentd is asked for a comparable set of items every 10 s, so each does its
real work. Memory comes from /proc/PID/smaps_rollup (summed over a program's processes),
CPU from /proc/PID/stat. Targets (issue 3): agent PSS <= 25 MiB, CPU <= node exporter's.

    python -m bench.agent_footprint [--seconds 180]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.report import record
from tests.support.agent_process import agent_env, write_config
from tests.support.services import REPO, Mosquitto, free_port, wait_for_port

CLK_TCK = os.sysconf("SC_CLK_TCK")
ZABBIX_KEYS = [
    "system.cpu.util",
    "system.cpu.load[all,avg1]",
    "vm.memory.size[available]",
    "vm.memory.size[total]",
    "system.swap.size[,pfree]",
    "vfs.fs.size[/,pused]",
    "vfs.fs.size[/,free]",
    "net.if.in[lo]",
    "net.if.out[lo]",
    "system.uptime",
    "proc.num[]",
    "vfs.dev.read[,ops]",
    "net.tcp.port[127.0.0.1,{port}]",
]


@dataclass
class Figures:
    name: str
    rss_mib: float
    pss_mib: float
    cpu_percent: float


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    pids = [pid]
    for p in pids:
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        pids.extend(int(c) for c in children)
    return pids


def memory(pids: list[int]) -> tuple[float, float]:
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, *rest = line.split()
                if key == "Rss:":
                    rss += int(rest[0])
                elif key == "Pss:":
                    pss += int(rest[0])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def cpu_seconds(pids: list[int]) -> float:
    """CPU time so far in clock ticks (utime + stime): 10 ms steps, dead threads included."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def run_seconds(pids: list[int]) -> float:
    """CPU time so far from the scheduler's own accounting (/proc/PID/task/TID/schedstat, ns).

    Both agents use ~0.1 % of a core, ~15 clock ticks in a 180 s window, so ticks cannot
    tell them apart; the scheduler counts nanoseconds. It covers live threads only, which
    here is all of them (thread pools and the MQTT thread live as long as the program).
    """
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9


def measure(name: str, pid: int, seconds: float, work: Callable[[], None] | None, interval: float) -> Figures:
    """Let the program settle, then sample it for `seconds`, calling `work` every `interval`."""
    time.sleep(3)
    start_ticks, start_cpu, start = cpu_seconds(tree(pid)), run_seconds(tree(pid)), time.monotonic()
    peaks: list[tuple[float, float]] = []
    next_work = start
    while time.monotonic() - start < seconds:
        if work is not None and time.monotonic() >= next_work:
            work()
            next_work += interval
        peaks.append(memory(tree(pid)))
        time.sleep(1)
    elapsed = time.monotonic() - start
    cpu = (run_seconds(tree(pid)) - start_cpu) / elapsed * 100
    ticks = (cpu_seconds(tree(pid)) - start_ticks) / elapsed * 100
    print(f"{name}: CPU {cpu:.4f} % by the scheduler's count, {ticks:.3f} % in clock ticks")
    rss = sum(p[0] for p in peaks) / len(peaks)
    pss = sum(p[1] for p in peaks) / len(peaks)
    return Figures(name, rss, pss, cpu)


def zabbix_port() -> int:
    """A free port in the range zabbix_agentd accepts (1024-32767)."""
    for port in range(21050, 32767):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for zabbix_agentd")


def zabbix_get(port: int, key: str) -> bytes:
    payload = key.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"ZBXD\x01" + struct.pack("<Q", len(payload)) + payload)
        return sock.recv(65536)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--interval", type=float, default=10)
    args = parser.parse_args()
    for binary in ("prometheus-node-exporter", "zabbix_agentd"):
        if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "prometheus-node-exporter", "zabbix-agent"],
                check=True,
                capture_output=True,
            )
    work = Path(tempfile.mkdtemp(prefix="deskwatch-bench-"))
    results: list[Figures] = []
    procs: list[subprocess.Popen[bytes]] = []

    # Each program is measured alone, one after the other, so none steals the others' CPU.
    with Mosquitto(work / "broker") as broker:
        config = write_config(
            work / "agent.toml",
            agent_id="bench-pc",
            broker=broker.url,
            spool=work / "spool.db",
            interval=args.interval,
            gateway_port=broker.port,
        )
        config.write_text(
            config.read_text().replace("[host]\ntop_processes = 0", "[host]\ntop_processes = 5")
        )
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(config), "--log-level", "WARNING"],
            env=agent_env(),
            cwd=REPO,
        )
        procs.append(agent)
        results.append(measure("deskwatch-agent", agent.pid, args.seconds, None, args.interval))
        agent.terminate()
        agent.wait()

    port = free_port()
    node = subprocess.Popen(
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs.append(node)
    wait_for_port(port)
    url = f"http://127.0.0.1:{port}/metrics"
    results.append(
        measure(
            "prometheus-node-exporter",
            node.pid,
            args.seconds,
            lambda: urllib.request.urlopen(url, timeout=10).read(),
            args.interval,
        )
    )
    node.terminate()
    node.wait()

    zport = zabbix_port()
    zconf = work / "zabbix_agentd.conf"
    zconf.write_text(
        f"ListenPort={zport}\nListenIP=127.0.0.1\nServer=127.0.0.1\nServerActive=\n"
        f"PidFile={work}/zabbix.pid\nLogFile={work}/zabbix.log\nAllowRoot=1\nStartAgents=3\n"
    )
    zabbix = subprocess.Popen(
        ["zabbix_agentd", "-f", "-c", str(zconf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    procs.append(zabbix)
    wait_for_port(zport)
    keys = [k.format(port=zport) for k in ZABBIX_KEYS]
    results.append(
        measure(
            "zabbix-agent",
            zabbix.pid,
            args.seconds,
            lambda: [zabbix_get(zport, k) for k in keys],
            args.interval,
        )
    )
    zabbix.terminate()
    zabbix.wait()
    for p in procs:
        if p.poll() is None:
            p.kill()

    print(f"\nagent footprint: {args.seconds:.0f} s each at a {args.interval:g} s interval")
    print(f"{'program':<26}{'RSS MiB':>9}{'PSS MiB':>9}{'CPU %':>8}")
    for r in results:
        print(f"{r.name:<26}{r.rss_mib:>9.1f}{r.pss_mib:>9.1f}{r.cpu_percent:>8.3f}")
    ours, node_fig = results[0], results[1]
    zabbix_fig = results[2]
    baseline = (
        f"node exporter {node_fig.pss_mib:.1f} MiB / {node_fig.cpu_percent:.3f} %, "
        f"zabbix-agent {zabbix_fig.pss_mib:.1f} MiB / {zabbix_fig.cpu_percent:.3f} %"
    )
    record("agent_footprint", "agent PSS", ours.pss_mib, "MiB", baseline, "<= 25 MiB", ours.pss_mib <= 25)
    record("agent_footprint", "agent RSS", ours.rss_mib, "MiB", baseline)
    record(
        "agent_footprint",
        "agent CPU",
        ours.cpu_percent,
        "% of a core",
        baseline,
        "<= node exporter",
        ours.cpu_percent <= node_fig.cpu_percent,
    )
    print(
        f"targets: PSS <= 25 MiB: {'met' if ours.pss_mib <= 25 else 'MISSED'}; "
        f"CPU <= node exporter's: {'met' if ours.cpu_percent <= node_fig.cpu_percent else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
