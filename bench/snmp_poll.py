"""Benchmark: poll every recorded walk through the profiles, next to net-snmp's snmpbulkwalk.

    /tmp/probe-venv/bin/python -m bench.snmp_poll [--fleet 100] [--rounds 3]

1. Per walk: our poll (GET + multi-column GETBULK through client.py and the profiles) and,
   in the same run against the same snmpsim, net-snmp reading the same data: one
   `snmpget` of the scalars plus one `snmpbulkwalk -Cr25` per table the profiles read.
   Reported: ms per device (median of --rounds), the ratio, CPU ms per poll (ours: this
   process; net-snmp: its child processes).
2. A fleet of --fleet simulated printers (copies of the printer walks, one community each,
   spread over two snmpsim processes) polled concurrently by one Poller, as the agent does:
   wall time and CPU time of the agent process. Targets: < 10 s wall, < 5 s CPU.

snmpsim answers from Python too, so both sides wait for the same slow-ish responder;
the ratio compares the clients, not the absolute speed of a real printer.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from agent.snmp.client import Client
from agent.snmp.poll import poll
from agent.snmp.profile import Profile, builtin_profiles, enterprise_names
from agent.snmp.target import Auth, Target
from agent.sources import snmp as source
from bench.report import record
from tests.support.snmpsim import SnmpSim, walk_paths


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def netsnmp_requests(
    profiles: list[Profile], sys_object_id: str | None, sys_descr: str | None
) -> tuple[list[str], list[str]]:
    """(scalar OIDs, table roots) the matching profiles read, as net-snmp arguments."""
    selected = [p for p in profiles if p.matches(sys_object_id, sys_descr)]
    scalars = list(dict.fromkeys(c.oid for p in selected for c in p.scalars))
    tables = list(
        dict.fromkeys(".".join(c.oid.split(".")[:-1]) for p in selected for t in p.tables for c in t.columns)
    )
    return scalars, tables


def netsnmp_poll(port: int, community: str, scalars: list[str], tables: list[str]) -> None:
    base = ["-v2c", "-c", community, "-On", "-t", "2", "-r", "1", f"127.0.0.1:{port}"]
    subprocess.run(["snmpget", *base, *scalars], capture_output=True, check=False)
    for table in tables:
        subprocess.run(["snmpbulkwalk", "-Cr25", *base, table], capture_output=True, check=True)


async def our_poll(
    client: Client, port: int, community: str
) -> tuple[float, float, tuple[str | None, str | None]]:
    names = enterprise_names()
    cpu0, t0 = _self_cpu(), time.perf_counter()
    report = await poll(client, Target("127.0.0.1", port, Auth(community=community)), PROFILES, names)
    assert report.reachable, report.reason
    identity = report.identity
    return time.perf_counter() - t0, _self_cpu() - cpu0, (identity.sys_object_id, identity.sys_descr)


PROFILES = builtin_profiles()


def per_device(rounds: int) -> None:
    walks = walk_paths()
    sim = SnmpSim()
    for path in walks.values():
        sim.add_walk(path)
    with sim:
        head = ("walk", "ours ms", "net-snmp ms", "ratio", "our CPU ms", "net-snmp CPU ms")
        print("{:24} {:>8} {:>11} {:>6} {:>10} {:>15}".format(*head))
        totals = [0.0, 0.0, 0.0, 0.0]

        async def run() -> None:
            client = Client()
            try:
                for name in sorted(walks):
                    ours, cpu, ident = [], [], (None, None)
                    for _ in range(rounds):
                        wall, used, ident = await our_poll(client, sim.port, name)
                        ours.append(wall)
                        cpu.append(used)
                    scalars, tables = netsnmp_requests(PROFILES, *ident)
                    theirs, their_cpu = [], []
                    for _ in range(rounds):
                        c0, t0 = _children_cpu(), time.perf_counter()
                        netsnmp_poll(sim.port, name, scalars, tables)
                        theirs.append(time.perf_counter() - t0)
                        their_cpu.append(_children_cpu() - c0)
                    row = [statistics.median(x) * 1000 for x in (ours, theirs, cpu, their_cpu)]
                    totals[:] = [a + b for a, b in zip(totals, row, strict=True)]
                    ours_ms, theirs_ms, cpu_ms, their_cpu_ms = row
                    print(
                        f"{name:24} {ours_ms:8.1f} {theirs_ms:11.1f} {ours_ms / theirs_ms:6.2f} "
                        f"{cpu_ms:10.1f} {their_cpu_ms:15.1f}"
                    )
            finally:
                client.close()

        asyncio.run(run())
        n = len(walks)
        print(
            f"{'mean per device':24} {totals[0] / n:8.1f} {totals[1] / n:11.1f} {totals[0] / totals[1]:6.2f} "
            f"{totals[2] / n:10.1f} {totals[3] / n:15.1f}"
        )
        print("  net-snmp = 1 snmpget + 1 snmpbulkwalk per table (process start included), same snmpsim")
        ratio = totals[0] / totals[1]
        baseline = f"net-snmp {totals[1] / n:.1f} ms, CPU {totals[3] / n:.1f} ms"
        record(
            "snmp_poll", "poll per device (mean)", totals[0] / n, "ms", baseline, "<= 2x net-snmp", ratio <= 2
        )
        record("snmp_poll", "CPU per poll (mean)", totals[2] / n, "ms", baseline)


def fleet(size: int, simulators: int = 2) -> None:
    printers = [p for name, p in sorted(walk_paths().items()) if "/printers/" in str(p)]
    sims = [SnmpSim() for _ in range(simulators)]
    targets = []
    for i in range(size):
        sim = sims[i % simulators]
        community = sim.add_walk(printers[i % len(printers)], f"printer{i:03d}")
        targets.append((sim, community))
    for sim in sims:
        sim.start(timeout=120)
    try:
        settings = source.Settings(
            timeout_seconds=5,
            retries=1,
            concurrency=size,
            discovery=source.Discovery(cups=False, windows_spooler=False, gateway=False),
        )

        async def run() -> tuple[float, float, int]:
            poller = source.Poller()
            try:
                await poller.poll_all(
                    settings, [Target("127.0.0.1", targets[0][0].port, Auth(community="printer000"))], 0
                )
                fleet_targets = [
                    Target("127.0.0.1", s.port, Auth(community=c), timeout_seconds=5) for s, c in targets
                ]
                cpu0, t0 = _self_cpu(), time.perf_counter()
                reports = await poller.poll_all(settings, fleet_targets, 1)
                wall, cpu = time.perf_counter() - t0, _self_cpu() - cpu0
                return wall, cpu, sum(r.reachable for r in reports)
            finally:
                poller.close()

        wall, cpu, ok = asyncio.run(run())
        print(f"fleet: {size} printers on {simulators} snmpsim processes, polled concurrently by one Poller")
        print(
            f"  wall {wall:.2f} s (target < 10 s), agent CPU {cpu:.2f} s (target < 5 s), {ok}/{size} answered"
        )
        record(
            "snmp_poll",
            f"{size} printers at once: wall",
            wall,
            "s",
            f"{ok}/{size} answered",
            "< 10 s",
            wall < 10,
        )
        record("snmp_poll", f"{size} printers at once: CPU", cpu, "s", "", "< 5 s", cpu < 5)
    finally:
        for sim in sims:
            sim.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.snmp_poll")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fleet", type=int, default=100)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # a slow simulator may time a device out: counted below
    if args.rounds:
        per_device(args.rounds)
    if args.fleet:
        fleet(args.fleet)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main(sys.argv[1:]))
