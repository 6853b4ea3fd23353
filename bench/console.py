"""Helpdesk console at office-park size: 10,000 agents, 100,000 tickets of history, inventory for all.

Everything real: the store on SQLite and on PostgreSQL, a private VictoriaMetrics with
the last hour of every PC's CPU, memory, disk and checks, a private Mosquitto and one
real agent process answering the helpdesk's checks, the incidents engine holding the
fleet (10,000 agents, 500 printers each seen by 20 PCs), and the console served by
uvicorn as the collector serves it. Times are measured by the client over loopback, so
they include the whole server time (an upper bound of it). Baselines from the same run:
the API's answer for the same thing (the queue as JSON, the lookup as JSON).

Targets (issue 19): queue and caller page p95 < 300 ms, suggestions p95 < 100 ms,
the first check result < 1 s after the click.

    python -m bench.console [--calls 200] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from agent.protocol import (
    PROTOCOL_VERSION,
    AgentFacts,
    Batch,
    Disk,
    Hardware,
    Interface,
    Inventory,
    Network,
    OsInfo,
    Package,
    Presence,
    Sample,
    Severity,
    State,
)
from bench.report import record
from collector.auth import Role
from collector.auth.tokens import TokenStore
from collector.auth.users import UserStore
from collector.broker import MqttSettings
from collector.console.context import ConsoleContext
from collector.console.live import MetricsReader
from collector.console.pages import mount
from collector.db import make_engine, migrate
from collector.diagnostics import Diagnostics, public_key_text, signing_key
from collector.http import provide
from collector.incidents.engine import IncidentEngine
from collector.incidents.schema import incident_events, incidents
from collector.incidents.store import IncidentStore
from collector.inventory import store as inventory_store
from collector.inventory.store import InventoryStore
from collector.observers import AgentStatus, PresenceChange
from collector.presence import agent as agent_table
from tests.diagnostics.conftest import agent_config
from tests.incidents.fleet import serve
from tests.support.agent_process import AgentProcess
from tests.support.databases import postgres_url
from tests.support.services import Mosquitto, VictoriaMetrics

NS = 1_000_000_000
AGENTS = 10_000
TICKETS = 100_000
PRINTERS = 500
SITES = 40
PASSWORD = "bench-password-1"
CALLER = "pc-00000"  # the PC with a real agent behind it: the checks run there
QUICK_AGENT = "per_minute = 6000\nburst = 1000\nmax_concurrent = 4\n"


def agent_id(n: int) -> str:
    return f"pc-{n:05d}"


def site(n: int) -> str:
    return f"site-{n % SITES:02d}"


def inventory(n: int, now: int, extra: int = 0) -> Inventory:
    packages = [Package(f"package-{p:03d}", f"1.{(p + extra) % 7}", now - p * NS) for p in range(60 + extra)]
    return Inventory(
        collected_ns=now + extra,
        hardware=Hardware(
            "Dell",
            "OptiPlex 7010",
            f"SN{n:07d}",
            "Intel Core i5",
            4,
            8,
            16 << 30,
            [Disk("sda", "SSD 512", 512 * 10**9)],
        ),
        os=OsInfo("Windows", "11", "22631", "", now - 86400 * NS),
        boot_ns=now - 3600 * NS,
        users=[f"user.{n:05d}"],
        network=Network(
            [
                Interface(
                    "eth0",
                    "wired",
                    f"02:00:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}",
                    [f"10.{n // 250}.{n % 250}.10"],
                    True,
                    1000,
                )
            ],
            f"10.{n // 250}.0.1",
            ["10.0.0.53"],
        ),
        software_source="registry",
        software=packages,
    )


def fill_store(engine: sa.Engine, now: int) -> None:
    """10,000 agents with inventories (two each, so they have a change history) and 100,000 tickets."""
    with engine.begin() as conn:
        conn.execute(
            agent_table.insert(),
            [
                {
                    "agent_id": agent_id(n),
                    "site": site(n),
                    "status": "online",
                    "status_ns": now,
                    "last_seen_ns": now,
                    "interval_seconds": 30.0,
                    "version": "0.1.0",
                    "host": agent_id(n),
                    "os": "Windows 11",
                }
                for n in range(AGENTS)
            ],
        )
    for extra in (0, 3):  # the second inventory updates and adds packages: the history has changes
        for start in range(0, AGENTS, 1000):
            with engine.begin() as conn:
                births = [
                    (
                        Presence(
                            v=PROTOCOL_VERSION,
                            agent_id=agent_id(n),
                            status="online",
                            time_ns=now,
                            site=site(n),
                            facts=AgentFacts("0.1.0", agent_id(n), "Windows 11", 30.0),
                            inventory=inventory(n, now - 3600 * NS, extra),
                        ),
                        now,
                    )
                    for n in range(start, start + 1000)
                ]
                inventory_store.record(conn, births)
    rng = random.Random(19)
    conditions = [
        ("disk_full", "host", Severity.CRITICAL),
        ("dns_resolves", "network", Severity.WARNING),
        ("supply_low", "supply", Severity.WARNING),
        ("printer_paper_jam", "printer", Severity.CRITICAL),
        ("cpu_high", "host", Severity.INFO),
    ]
    rows, events = [], []
    for i in range(1, TICKETS + 1):
        condition, category, severity = conditions[i % len(conditions)]
        device = f"PRN{i % PRINTERS:04d}" if category in ("supply", "printer") else ""
        pc = "" if device else agent_id(rng.randrange(AGENTS))
        opened = now - rng.randrange(1, 90 * 86400) * NS
        still_open = i > TICKETS - 3000  # 3,000 open, the rest history
        quiet = still_open and i % 10 == 0
        rows.append(
            {
                "id": i,
                "dedup_key": f"{'device/' + device if device else 'agent/' + pc}/{condition}/{i}",
                "rule": condition,
                "condition": condition,
                "category": category,
                "severity": severity.value,
                "scope": "device" if device else "agent",
                "subject": device or pc,
                "site": site(i),
                "agent_id": pc,
                "device": device,
                "summary": f"{condition} #{i}",
                "status": "open" if still_open else "resolved",
                "opened_ns": opened,
                "since_ns": opened,
                "updated_ns": opened,
                "resolved_ns": None if still_open else opened + 3600 * NS,
                "resolved_by": "" if still_open else "auto",
                "silenced": quiet,
                "suppressed_by": "",
                "affected": "[]",
                "tags": "{}",
            }
        )
        events.append({"incident_id": i, "time_ns": opened, "kind": "opened", "actor": "", "text": ""})
        if not still_open:
            events.append(
                {
                    "incident_id": i,
                    "time_ns": opened + 3600 * NS,
                    "kind": "resolved",
                    "actor": "auto",
                    "text": "cleared",
                }
            )
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(incidents.insert(), rows[start : start + 5000])
        for start in range(0, len(events), 10000):
            conn.execute(incident_events.insert(), events[start : start + 10000])
        if conn.dialect.name == "postgresql":  # ids were given: move the sequence past them
            conn.execute(sa.text("SELECT setval('incidents_id_seq', (SELECT max(id) FROM incidents))"))
    if engine.dialect.name == "postgresql":
        # what autovacuum does soon after a bulk load: statistics for the planner
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))


def fleet(store: IncidentStore, now: int) -> IncidentEngine:
    """The incidents engine as a running collector holds it: every agent and printer reported."""
    engine = IncidentEngine(store)
    for n in range(AGENTS):
        engine.observe_presence(
            PresenceChange(
                agent_id(n),
                site(n),
                AgentStatus.ONLINE,
                None,
                now,
                now,
                AgentFacts("0.1.0", agent_id(n), "Windows 11", 30.0),
            )
        )
        printer = f"PRN{n % PRINTERS:04d}"
        states = [
            State("gateway", "gateway_reachable", True, Severity.WARNING, "", {}, now),
            State("dns:intranet", "dns_resolves", n % 50 != 0, Severity.WARNING, "", {}, now),
            State(printer, "snmp_reachable", True, Severity.CRITICAL, "", {"device": printer}, now),
        ]
        samples = [
            Sample("disk", {"used_percent": 40.0 + n % 50}, {"mount": "C:"}, now),
            Sample(
                "printer_supply",
                {"level_percent": float(n % 100)},
                {"device": printer, "supply": "Black Toner", "supply_index": "1"},
                now,
            ),
        ]
        engine.observe_batch(
            Batch(
                v=PROTOCOL_VERSION,
                agent_id=agent_id(n),
                seq=1,
                created_ns=now,
                site=site(n),
                samples=samples,
                states=states,
            ),
            now,
        )
    engine.evaluate(now)  # last_conditions: what is failing now
    return engine


def fill_metrics(url: str, now: int) -> None:
    """The last hour of every PC at 2-minute steps: CPU, memory, disk, three checks; printer supplies."""
    with httpx.Client(base_url=url, timeout=120) as client:
        for start in range(0, AGENTS, 500):
            lines = []
            for n in range(start, start + 500):
                tags = f"agent_id={agent_id(n)},site={site(n)}"
                for step in range(30):
                    t = now - (29 - step) * 120 * NS
                    lines.append(f"cpu,{tags} used_percent={(n + step) % 100} {t}")
                    lines.append(f"memory,{tags} used_percent={30 + step % 40} {t}")
                    lines.append(f"disk,{tags},mount=C: used_percent={40 + n % 50} {t}")
                    for check in ("gateway_reachable", "dns_resolves", "internet_reachable"):
                        lines.append(
                            f"state,{tags},condition={check},severity=warning,subject={check} ok=1 {t}"
                        )
            client.post("/api/v2/write", content="\n".join(lines).encode()).raise_for_status()
        lines = [
            f"printer_supply,agent_id={agent_id(p)},device=PRN{p:04d},supply=Black\\ Toner "
            f"level_percent={p % 100} {now}"
            for p in range(PRINTERS)
        ]
        client.post("/api/v2/write", content="\n".join(lines).encode()).raise_for_status()
        client.get("/internal/force_flush")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def timed(calls: int, request: Callable[[int], httpx.Response]) -> list[float]:
    times = []
    for i in range(calls):
        started = time.perf_counter()
        response = request(i)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.text[:300])
    return times


def check_seconds(client: httpx.Client, csrf: str, runs: int) -> tuple[list[float], list[float]]:
    """For each click: when the first result arrived, and when the triage's did."""
    first_results, triages = [], []
    for _ in range(runs):
        started = time.perf_counter()
        with client.stream(
            "POST",
            f"/pc/{CALLER}/checks",
            data={"csrf": csrf},
            headers={"X-Console-Fragment": "1"},
            timeout=60,
        ) as response:
            first = triage = None
            for chunk in response.iter_text():
                if first is None and "data-check=" in chunk:
                    first = time.perf_counter() - started
                if triage is None and 'data-check="triage"' in chunk:
                    triage = time.perf_counter() - started
            assert first is not None and triage is not None, "no check result arrived"
            first_results.append(first)
            triages.append(triage)
    return first_results, triages


@contextlib.contextmanager
def stack(url: str, workdir: Path) -> Iterator[tuple[str, IncidentStore]]:
    now = time.time_ns()
    engine = make_engine(url)
    migrate(engine)
    print(f"  filling the store ({AGENTS:,} agents with inventories, {TICKETS:,} tickets) ...", flush=True)
    t = time.monotonic()
    fill_store(engine, now)
    print(f"  ... {time.monotonic() - t:.0f} s", flush=True)
    store = IncidentStore(engine)
    users = UserStore(engine)
    users.add("bench", Role.HELPDESK, PASSWORD, now)
    with contextlib.ExitStack() as stack:
        vm: VictoriaMetrics = stack.enter_context(VictoriaMetrics(workdir / "vm"))
        fill_metrics(vm.url, now)
        broker: Mosquitto = stack.enter_context(Mosquitto(workdir / "broker"))
        diagnostics = Diagnostics(
            MqttSettings(broker=broker.url), engine, store, key_file=workdir / "signing-key"
        )
        diagnostics.start()
        stack.callback(diagnostics.stop)
        key = public_key_text(signing_key(engine, workdir / "signing-key"))
        config = agent_config(
            workdir / "agent.toml", agent_id=CALLER, broker=broker.url, key_text=key, commands=QUICK_AGENT
        )
        agent = AgentProcess(config, workdir / "agent.log").start()
        stack.callback(agent.cleanup)
        directory = fleet(store, now)
        metrics = MetricsReader(vm.url)
        stack.callback(metrics.close)
        app = FastAPI()
        mount(
            app,
            ConsoleContext(
                store,
                InventoryStore(engine),
                users,
                directory,
                conditions=lambda: directory.last_conditions,
                diagnostics=diagnostics,
                metrics=metrics,
            ),
        )
        from collector import api
        from collector.api import ApiContext
        from collector.api import lookup as lookup_api
        from collector.inventory.lookup import Sources

        provide(
            app,
            TokenStore(engine),
            ApiContext(store, directory=directory),
            Sources(InventoryStore(engine), store, devices=directory.devices),
        )
        app.include_router(api.router)
        app.include_router(lookup_api.router)
        base = stack.enter_context(serve(app))
        deadline = time.monotonic() + 30
        while not diagnostics.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        yield base, store
    engine.dispose()


def login(base: str) -> tuple[httpx.Client, str]:
    import re

    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token
    done = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": token.group(1)})
    assert done.status_code == 303
    page = client.get("/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    return client, csrf.group(1)


def run(backend: str, url: str, calls: int, workdir: Path) -> None:
    print(f"== {backend}", flush=True)
    with stack(url, workdir) as (base, store):
        client, csrf = login(base)
        token = TokenStore(store.engine).create("viewer", "bench", time.time_ns())
        api = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"})
        rng = random.Random(1)
        pcs = [agent_id(rng.randrange(AGENTS)) for _ in range(calls)]
        client.get("/"), client.get(f"/pc/{CALLER}"), api.get("/api/v1/incidents")  # warm up
        filters = ["", "?severity=critical", "?site=site-07", "?quiet=true", "?status=open&category=supply"]
        queue = timed(calls, lambda i: client.get("/" + filters[i % len(filters)]))
        queue_api = timed(
            calls, lambda i: api.get("/api/v1/incidents", params={"quiet": "false", "status": "open"})
        )
        caller = timed(calls, lambda i: client.get(f"/pc/{pcs[i]}"))
        caller_api = timed(calls, lambda i: api.get("/api/v1/lookup", params={"q": f"agent:{pcs[i]}"}))
        prefixes = ["user.0", "pc-01", "10.3.", "sn00001", "02:00:00:00:1", "user.012", "pc-0999"]
        suggest = timed(
            calls, lambda i: client.get("/search/suggest", params={"q": prefixes[i % len(prefixes)]})
        )
        first_s, triage_s = check_seconds(client, csrf, 10)
        first, triage = [s * 1000 for s in first_s], [s * 1000 for s in triage_s]
        client.close()
        api.close()
    figures = [
        ("queue page", queue, 300, f"API queue JSON p95 {p95(queue_api):.0f} ms"),
        ("caller page /pc/ID", caller, 300, f"API lookup JSON p95 {p95(caller_api):.0f} ms"),
        ("search suggestions", suggest, 100, ""),
        ("first check result after the click", first, 1000, ""),
    ]
    print(
        f"  (the whole triage, network and printers included, arrived after p50 "
        f"{statistics.median(triage):.0f} ms, at most {max(triage):.0f} ms)"
    )
    for name, values, target, baseline in figures:
        value = p95(values)
        print(
            f"  {name:<38} p50 {statistics.median(values):7.1f} ms  p95 {value:7.1f} ms  "
            f"(target < {target} ms){'  baseline: ' + baseline if baseline else ''}"
        )
        record("console", f"{backend}: {name} p95", value, "ms", baseline, f"< {target} ms", value < target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
            workdir = Path(tmp)
            if backend == "sqlite":
                run(backend, f"sqlite:///{workdir / 'store.db'}", args.calls, workdir)
            else:
                with postgres_url() as url:
                    run(backend, url, args.calls, workdir)


if __name__ == "__main__":
    main()
