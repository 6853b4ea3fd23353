"""bench/rules: rule evaluation alongside ingest, time to incident and webhook, and a storm.

    /tmp/probe-venv/bin/python -m bench.rules [--agents 10000] [--rounds 2]

Prints, side by side from one run:
  * decode baseline: msgspec decode of the same batches (what ingest spends anyway),
    and FleetState intake (`observe_batch`) of them, as samples/s;
  * one evaluation cycle (rules + correlation + reconcile + store) over the whole fleet;
  * time from a condition's first observation to an open incident and to a webhook
    delivery at a real local HTTP receiver (excluding the wait for the next cycle);
  * the storm: `--agents` agents in 50 sites, 20 % failing internet_reachable within one
    minute -> the number of incidents opened and the time per cycle.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from agent import protocol
from agent.protocol import Batch, Sample, Severity, State
from bench.report import record
from collector.db import make_engine, migrate
from collector.incidents.engine import IncidentEngine
from collector.incidents.model import IncidentFilter
from collector.incidents.outbox import Outbox
from collector.incidents.store import IncidentStore
from collector.notify.notifier import Notifier
from collector.notify.webhook import Webhook, WebhookSettings
from collector.rules import load_settings

S = 1_000_000_000
T0 = 1_760_000_000 * S
SITES = 50


def agent_batch(i: int, t: int, seq: int, internet_ok: bool = True) -> Batch:
    """~60 samples like a real host source: cpu, memory, 4 disks, 50 per-core/net/process fields."""
    agent = f"pc-{i:05}"
    samples = [
        Sample("cpu", {"used_percent": 20.0 + i % 50}, {}, t),
        Sample("memory", {"used_percent": 40.0, "available_bytes": 8e9}, {}, t),
        *[
            Sample("disk", {"used_percent": 50.0, "free_bytes": 1e11, "total_bytes": 2e11}, {"mount": m}, t)
            for m in ("/", "/home", "/var", "/data")
        ],
        *[Sample("cpu_core", {"used_percent": 10.0}, {"core": str(c)}, t) for c in range(8)],
        *[
            Sample("net", {"bytes_recv_total": 1e9, "bytes_sent_total": 1e8}, {"interface": f"eth{n}"}, t)
            for n in range(2)
        ],
        *[Sample("process", {"cpu_percent": 1.0, "rss_bytes": 1e8}, {"name": f"p{p}"}, t) for p in range(42)],
    ]
    states = [
        State("gateway", "gateway_reachable", True, Severity.INFO, "", {}, t),
        State("dns:intranet", "dns_resolves", True, Severity.INFO, "", {}, t),
        State("internet", "internet_reachable", internet_ok, Severity.WARNING, "", {}, t),
    ]
    return Batch(
        v=1,
        agent_id=agent,
        seq=seq,
        created_ns=t,
        site=f"site-{i % SITES:02}",
        samples=samples,
        states=states,
    )


class Receiver:
    def __init__(self) -> None:
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(204)
                self.end_headers()
                outer.got.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-rules-"))
    db = make_engine(f"sqlite:///{workdir / 'incidents.db'}")
    migrate(db)
    receiver = Receiver()
    store = IncidentStore(db, Outbox(db, lambda _: ["hook"]))
    engine = IncidentEngine(store, load_settings())
    notifier = Notifier(store.outbox, {"hook": Webhook(WebhookSettings(url=receiver.url), b"k")})

    # 1. intake against the decode baseline
    payloads = [protocol.encode(agent_batch(i, T0, 0)) for i in range(args.agents)]
    per_batch = len(agent_batch(0, T0, 0).samples)
    t = time.perf_counter()
    batches = [protocol.decode(p, Batch) for p in payloads]
    decode_s = time.perf_counter() - t
    intake = []
    for r in range(args.rounds):
        now = T0 + r * 30 * S
        fresh = [agent_batch(i, now, r) for i in range(args.agents)] if r else batches
        t = time.perf_counter()
        for b in fresh:
            engine.observe_batch(b, now)
        intake.append(time.perf_counter() - t)
    samples = args.agents * per_batch
    print(f"agents {args.agents}, {per_batch} samples + 3 states per batch, {samples} samples per round")
    print(f"decode baseline      {samples / decode_s:>12,.0f} samples/s")
    print(
        f"FleetState intake    {samples / statistics.median(intake):>12,.0f} samples/s",
        f"(median of {args.rounds})",
    )
    intake_rate = samples / statistics.median(intake)
    record(
        "rules",
        "engine intake",
        intake_rate,
        "samples/s",
        f"decode {samples / decode_s:,.0f}/s",
        ">= 20,000/s",
        intake_rate >= 20_000,
    )

    # 2. one full evaluation cycle, nothing wrong
    now = T0 + args.rounds * 30 * S
    t = time.perf_counter()
    engine.evaluate(now)
    quiet_cycle = time.perf_counter() - t
    print(f"evaluation cycle     {quiet_cycle * 1000:>12,.0f} ms for the whole fleet (quiet)")
    record("rules", f"evaluation cycle, {args.agents:,} agents", quiet_cycle * 1000, "ms")

    # 3. first observation -> incident -> webhook
    now += 30 * S
    jam = Batch(
        v=1,
        agent_id="pc-00001",
        seq=99,
        created_ns=now,
        site="site-01",
        states=[State("SNBENCH", "printer_paper_jam", False, Severity.WARNING, "jam", {}, now)],
    )
    t = time.perf_counter()
    engine.observe_batch(jam, now)
    engine.evaluate(now)
    to_incident = time.perf_counter() - t
    assert store.list_incidents(IncidentFilter(device="SNBENCH"))[1] == 1
    notifier.deliver_due()
    receiver.got.wait(10)
    to_webhook = time.perf_counter() - t
    print(
        f"observation->incident{to_incident * 1000:>12,.0f} ms (+ up to one cycle, "
        f"{engine.settings.incidents.cycle_seconds:.0f} s, waiting for the evaluation)"
    )
    print(
        f"observation->webhook {to_webhook * 1000:>12,.0f} ms (+ the same wait and the notifier's 1 s poll)"
    )
    record("rules", "observation -> incident", to_incident * 1000, "ms", "", "+ up to one cycle")
    record("rules", "observation -> webhook", to_webhook * 1000, "ms", "", "+ one cycle and 1 s poll")

    # 4. the storm: 20 % fail internet within one minute, cycles every 10 s
    before = store.list_incidents(IncidentFilter())[1]
    failing = set(random.Random(7).sample(range(args.agents), args.agents // 5))
    order = sorted(failing)
    cycles, intake_storm = [], []
    storm_start = now + 30 * S
    for step in range(7):  # 60 s of failures arriving, one evaluation every 10 s
        t_sim = storm_start + step * 10 * S
        chunk = order[step * len(order) // 6 : (step + 1) * len(order) // 6] if step < 6 else []
        t = time.perf_counter()
        for i in chunk:
            engine.observe_batch(agent_batch(i, t_sim, 100 + step, internet_ok=False), t_sim)
        intake_storm.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.evaluate(t_sim)
        cycles.append(time.perf_counter() - t)
    for extra in range(1, 6):  # past the hold-down: anything left per agent would open now
        t = time.perf_counter()
        engine.evaluate(storm_start + (60 + extra * 30) * S)
        cycles.append(time.perf_counter() - t)
    opened = store.list_incidents(IncidentFilter())[1] - before
    found, _ = store.list_incidents(IncidentFilter(limit=10))
    print(f"storm: {len(failing)} of {args.agents} agents fail internet_reachable within 60 s")
    print(
        f"  incidents opened   {opened:>12} (target <= 5):",
        [i.key for i in found if i.condition != "printer_paper_jam"],
    )
    print(
        f"  cycle time         {statistics.median(cycles) * 1000:>12,.0f} ms median,",
        f"{max(cycles) * 1000:,.0f} ms max",
    )
    record(
        "rules",
        f"storm: {len(failing)} of {args.agents} agents fail -> incidents",
        opened,
        "",
        "",
        "<= 5",
        opened <= 5,
    )
    record("rules", "storm: cycle time (max)", max(cycles) * 1000, "ms")
    receiver.server.shutdown()


if __name__ == "__main__":
    main()
