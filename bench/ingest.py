"""Ingest benchmark: simulated agents -> Mosquitto -> one collector -> VictoriaMetrics.

Everything runs privately on free ports in a temporary directory. In one run it measures

1. the ceiling: pre-built line protocol posted straight to VictoriaMetrics /api/v2/write
   in the collector's body size, one request at a time (as the collector writes). Twice:
   at the start over 100 agents' series (6,000 series VictoriaMetrics keeps hot), and at
   the end over the same 10,000 agents' 600,000 series the collector wrote, which is what
   writing this fleet directly would cost; the saturation ratio is taken against the latter;
2. sustained: after every agent has announced itself with one batch (as in a running
   fleet; taking in agents never seen before is a one-off), N agents at a fixed offered
   rate (default 10,000 agents x 60 samples / 30 s = 20,000 samples/s) for some seconds.
   Kept up means zero loss, checked by counting, per batch, the `fake_seq` sample in
   VictoriaMetrics, and everything stored within 2 s of the last publish; CPU of the
   collector process per 1,000 samples; publish -> queryable latency from probe batches
   polled with PromQL;
3. saturation: a rising load, for one collector process and then with a second in the
   same group (`--collectors`). Each step publishes `--flood-rounds` batches from every
   agent at an offered rate, `--rate-step` more than the step before, until the
   collectors no longer keep up (under 90 % of the offered rate, or data still arriving
   2 s after the last publish) twice in a row at the same rate (this machine's speed
   drifts, and one stall is not saturation); the best samples/s from first publish to
   last queryable is compared with the ceiling. The batches are encoded and framed as MQTT packets
   before each step and sent over a raw connection (bench/raw_mqtt.py): real agents
   publish from their own PCs, while here the sender shares the two cores, so it is kept
   as cheap as the ceiling's poster of pre-built bodies. A paced load keeps the broker's
   queue short, as agents publishing on their interval do; a backlog dumped at once
   would measure Mosquitto saving a deep queue to disk instead. Every step prints the
   CPU per sample of the collectors, Mosquitto, VictoriaMetrics and the sender.

    python -m bench.ingest [--agents 10000] [--rate 20000] [--seconds 30] [--flood-rounds 4]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.protocol import Batch, encode
from bench import raw_mqtt
from bench.report import record
from collector.line_protocol import batch_lines
from tests.support import fake_agents
from tests.support.collector_process import CollectorProcess
from tests.support.services import Mosquitto, VictoriaMetrics

SAMPLES = fake_agents.SAMPLES_PER_BATCH
BODY_LINES = 20_000  # the collector's default [metrics] batch_lines
# Kept up: everything stored this soon after the last publish (VictoriaMetrics alone takes
# ~1 s to make data queryable); the sustained phase and every saturation step are judged by it.
KEPT_UP_LAG_SECONDS = 2.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def stored_batches(vm: VictoriaMetrics, agent_prefix: str = "") -> int:
    fake_agents.flush_vm(vm.url)
    selector = f'fake_seq{{agent_id=~"{agent_prefix}.*"}}' if agent_prefix else "fake_seq"
    result = fake_agents.query(vm.url, f"sum(count_over_time({selector}[3h]))")
    return int(float(result[0]["value"][1])) if result else 0


def bench_batch(agent: int, seq: int, base_ns: int) -> Batch:
    """Batch `seq` of agent `agent`; every phase numbers and times its batches this way."""
    return fake_agents.make_batch(agent, seq, base_ns + seq * 10**9 + agent * 1000)


def nth_message(index: int, agents: int, first_seq: int, base_ns: int) -> tuple[str, bytes]:
    """Topic and payload of the `index`-th batch of a round-robin over `agents`, starting at `first_seq`."""
    agent, seq = index % agents, first_seq + index // agents
    return f"deskwatch/v1/{fake_agents.agent_id(agent)}/metrics", encode(bench_batch(agent, seq, base_ns))


def publish_nth(
    publisher: fake_agents.Publisher, index: int, agents: int, first_seq: int, base_ns: int
) -> None:
    """Publish the `index`-th batch of a round-robin over `agents`, starting at `first_seq`."""
    publisher.publish_raw(*nth_message(index, agents, first_seq, base_ns))
    if index % 500 == 0:
        publisher.wait()


def ceiling(vm: VictoriaMetrics, agents: range, first_seq: int, base_ns: int, seconds: float = 8.0) -> float:
    """Samples/s of `agents`' pre-built line protocol posted to VictoriaMetrics one request at a time."""
    bodies: list[bytes] = []
    lines: list[str] = []
    seq = first_seq
    while len(bodies) < 40:
        for agent in agents:
            lines.extend(batch_lines(bench_batch(agent, seq, base_ns)))
            if len(lines) >= BODY_LINES:
                bodies.append("\n".join(lines).encode())
                lines = []
        seq += 1
    conn = http.client.HTTPConnection("127.0.0.1", vm.port, timeout=30)
    sent = 0
    started = time.perf_counter()
    index = 0
    # Bodies may repeat: VictoriaMetrics deduplicates in background merges, so ingest costs the same.
    while time.perf_counter() - started < seconds:
        body = bodies[index % len(bodies)]
        conn.request("POST", "/api/v2/write?bucket=deskwatch&org=deskwatch", body)
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"VictoriaMetrics answered {resp.status}")
        sent += body.count(b"\n") + 1
        index += 1
    return sent / (time.perf_counter() - started)


def publish_at_rate(
    url: str, agents: int, batches_per_second: float, seconds: float, base_ns: int, first_seq: int
) -> int:
    """Publish round-robin over `agents` at a fixed rate; return how many batches went out."""
    publisher = fake_agents.Publisher(url)
    total = int(batches_per_second * seconds)
    started = time.perf_counter()
    for index in range(total):
        publish_nth(publisher, index, agents, first_seq, base_ns)
        ahead = started + (index + 1) / batches_per_second - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    publisher.close()
    return total


def probe_latency(vm: VictoriaMetrics, url: str, stop: threading.Event, out: list[float]) -> None:
    """Publish one probe batch at a time and poll PromQL until it is queryable."""
    publisher = fake_agents.Publisher(url)
    seq = 0
    first = True  # a new series takes VictoriaMetrics up to ~10 s to index: not counted
    while not stop.is_set():
        agent = 99_000
        batch = fake_agents.make_batch(agent, seq, time.time_ns())
        sent = time.perf_counter()
        publisher.publish(batch)
        query = f'last_over_time(fake_seq{{agent_id="{batch.agent_id}"}}[10m])'
        while not stop.is_set():
            result = fake_agents.query(vm.url, query)
            if result and int(float(result[0]["value"][1])) == seq:
                if not first:
                    out.append(time.perf_counter() - sent)
                first = False
                break
            time.sleep(0.02)
        seq += 1
        stop.wait(0.1)
    publisher.close()


def wait_stored(vm: VictoriaMetrics, expected: int, timeout: float) -> float:
    """Wait until VictoriaMetrics holds `expected` bench batches; return when that was (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if stored_batches(vm, "pc-0") >= expected:
            return time.perf_counter()
        time.sleep(0.25)
    raise RuntimeError(f"only {stored_batches(vm, 'pc-0')} of {expected} batches stored after {timeout} s")


def flood_packets(agents: int, rounds: int, first_seq: int, base_ns: int) -> list[bytes]:
    """`rounds` batches of every agent, round-robin, encoded and framed as PUBLISH packets."""
    return raw_mqtt.frame([nth_message(i, agents, first_seq, base_ns) for i in range(agents * rounds)])


def flood(url: str, packets: list[bytes], rate: float = 0.0) -> None:
    """Publish `packets` at `rate` messages/s, or as fast as the broker takes them, until all are acked."""
    publisher = raw_mqtt.RawPublisher(url, client_id="bench-flood")
    try:
        publisher.send(packets, rate=rate)
    finally:
        publisher.close()


@dataclass
class Step:
    """One saturation step: a fixed set of batches published at an offered rate."""

    rate: float  # samples/s from the first publish until the last batch is queryable
    lag: float  # seconds from the last publish until then
    collector_cpu: float  # ms per 1,000 samples, all collectors
    others_cpu: dict[str, float]  # the same for Mosquitto, VictoriaMetrics and the sender

    def kept_up(self, offered: float) -> bool:
        return self.rate >= 0.9 * offered and self.lag < KEPT_UP_LAG_SECONDS

    def __str__(self) -> str:
        others = ", ".join(f"{name} {cpu:.2f}" for name, cpu in self.others_cpu.items())
        return (
            f"{self.rate:,.0f} samples/s end to end (all stored {self.lag:.1f} s after the last publish); "
            f"CPU per 1,000 samples: collectors {self.collector_cpu:.2f} ms, {others} ms"
        )


def load_step(
    broker: Mosquitto,
    vm: VictoriaMetrics,
    collectors: list[CollectorProcess],
    packets: list[bytes],
    offered: float,
    stored: int,
) -> Step:
    """Publish `packets` at `offered` samples/s and wait until VictoriaMetrics holds them all."""
    pids = {"collectors": [c.pid for c in collectors], "mosquitto": [broker.pid], "victoriametrics": [vm.pid]}
    before = {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()}
    sender_cpu, started = time.process_time(), time.perf_counter()
    flood(broker.url, packets, rate=offered / SAMPLES)
    sent_at, sender_cpu = time.perf_counter(), time.process_time() - sender_cpu
    done = wait_stored(vm, stored + len(packets), timeout=300)
    samples = len(packets) * SAMPLES
    cpu = {
        name: (sum(cpu_seconds(p) for p in group) - before[name]) / samples * 1e6
        for name, group in pids.items()
    }
    collector_cpu = cpu.pop("collectors")
    cpu["sender"] = sender_cpu / samples * 1e6
    return Step(samples / (done - started), done - sent_at, collector_cpu, cpu)


def make_collector(work: Path, index: int, broker_url: str, vm_url: str) -> CollectorProcess:
    """Collector `index`: all share one store and one group, as several collectors on one machine do."""
    return CollectorProcess(
        work / f"collector-{index}",
        broker_url,
        vm_url,
        client_id=f"collector-{index}",
        db_url=f"sqlite:///{work / 'store.db'}",
        group="bench",
        extra="[log]\nlevel = 'warning'\n",
        flush_interval_seconds=0.2,  # the shipped defaults
        presence_check_seconds=10,
        default_interval_seconds=30.0,  # the agents' interval: none turns stale mid-run
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=20_000, help="offered samples/s in the sustained phase")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--flood-rounds", type=int, default=4, help="batches each agent publishes in a saturation step"
    )
    parser.add_argument("--start-rate", type=float, default=100_000, help="samples/s of the first step")
    parser.add_argument("--rate-step", type=float, default=25_000, help="samples/s added each step")
    parser.add_argument(
        "--collectors", type=int, default=2, help="the most collector processes the saturation phase runs"
    )
    args = parser.parse_args()
    if args.agents > 90_000:
        parser.error("--agents must stay below 90,000 (ids above are the ceiling's and the probe's)")

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        broker, vm = Mosquitto(work / "mosquitto"), VictoriaMetrics(work / "vm")
        broker.start()
        vm.start()
        try:
            base_ns = time.time_ns() - 2 * 3600 * 10**9  # all bench timestamps fall in the last 3 h
            hot = ceiling(vm, range(90_000, 90_100), 0, base_ns)
            print(f"ceiling, 100 agents' series (direct write, 20,000-line bodies): {hot:,.0f} samples/s")

            collector = make_collector(work, 1, broker.url, vm.url)
            collector.start()
            assert collector.proc is not None
            pid = collector.pid

            # Every agent announces itself first with one batch, as the agents of a running
            # fleet have: taking in 10,000 agents never seen before (their presence and
            # sequence rows) is a one-off at first start, not the load to sustain.
            flood(broker.url, flood_packets(args.agents, 1, 0, base_ns))
            wait_stored(vm, args.agents, timeout=300)
            stored = args.agents

            # Sustained phase.
            batches_per_second = args.rate / SAMPLES
            latencies: list[float] = []
            stop = threading.Event()
            prober = threading.Thread(target=probe_latency, args=(vm, broker.url, stop, latencies))
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            prober.start()
            sent = publish_at_rate(broker.url, args.agents, batches_per_second, args.seconds, base_ns, 1)
            published = time.perf_counter()
            done = wait_stored(vm, stored + sent, timeout=120 + args.seconds)
            stored += sent
            stop.set()
            prober.join()
            cpu1 = cpu_seconds(pid)
            samples = sent * SAMPLES
            # Kept up as a saturation step is (KEPT_UP_LAG_SECONDS); the end-to-end figure
            # counts that drain too.
            sustained, drain = samples / (published - t0), done - published
            print(
                f"sustained: {args.agents:,} agents, offered {args.rate:,.0f} samples/s "
                f"for {args.seconds:.0f} s: {sustained:,.0f} samples/s taken, all {sent:,} batches stored "
                f"{drain:.1f} s after the last publish (zero loss; {samples / (done - t0):,.0f}/s counting "
                f"that drain)"
            )
            print(f"collector CPU: {(cpu1 - cpu0) / samples * 1000 * 1000:.2f} ms per 1,000 samples")
            record(
                "ingest",
                f"sustained, {args.agents:,} agents, zero loss",
                sustained,
                "samples/s",
                f"offered {args.rate:,.0f}/s; all stored {drain:.1f} s after the last publish",
                ">= 20,000/s",
                sustained >= 20_000 * 0.97 and drain < KEPT_UP_LAG_SECONDS,
            )
            record("ingest", "collector CPU per 1,000 samples", (cpu1 - cpu0) / samples * 1e6, "ms")
            if latencies:
                ordered = sorted(latencies)
                p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                print(
                    f"publish -> queryable: p50 {statistics.median(ordered) * 1000:.0f} ms, "
                    f"p99 {p99 * 1000:.0f} ms ({len(ordered)} probes)"
                )
                record("ingest", "publish -> queryable p50", statistics.median(ordered) * 1000, "ms")
                record("ingest", "publish -> queryable p99", p99 * 1000, "ms")

            # Saturation: one collector, then more in the same group, each taking a rising load.
            first_seq = 1 + -(-sent // args.agents)  # after the sustained phase's last round
            collectors = [collector]
            results: list[tuple[int, Step]] = []
            offered = args.start_rate
            while True:
                best: Step | None = None
                again = False
                while True:
                    packets = flood_packets(args.agents, args.flood_rounds, first_seq, base_ns)
                    first_seq += args.flood_rounds
                    step = load_step(broker, vm, collectors, packets, offered, stored)
                    stored += len(packets)
                    print(f"  {len(collectors)} collector(s), offered {offered:,.0f}/s: {step}")
                    best = step if best is None or step.rate > best.rate else best
                    if step.kept_up(offered):
                        offered += args.rate_step
                        again = False
                    elif again:
                        break
                    else:  # one stall (a background merge, a noisy neighbour) is not saturation
                        again = True
                results.append((len(collectors), best))
                print(f"saturation, {len(collectors)} collector process(es): {best}")
                if len(collectors) == args.collectors:
                    break
                collectors.append(make_collector(work, len(collectors) + 1, broker.url, vm.url))
                collectors[-1].start()
                offered = best.rate
            dead_letters = sum(c.metric("deskwatch_ingest_decode_errors_total") for c in collectors)
            for c in collectors:
                c.stop()
            print(f"dead letters: {dead_letters:.0f}")
            # The fleet's own series, now all known to VictoriaMetrics, written directly.
            top = ceiling(vm, range(args.agents), first_seq + 1, base_ns)
            print(f"ceiling, the same {args.agents:,} agents' series (direct write): {top:,.0f} samples/s")
            for count, best in results:
                rate, cpu = best.rate, best.collector_cpu
                share = f"{rate / top:.0%} of it ({rate / hot:.0%} of the 100-agent one)"
                print(f"  {count} collector(s): {share}")
                record(
                    "ingest",
                    f"saturation, end to end, {count} collector process{'es' if count > 1 else ''}",
                    rate,
                    "samples/s",
                    f"direct write of the same series {top:,.0f}/s = {rate / top:.0%} "
                    f"(100 agents' series {hot:,.0f}/s = {rate / hot:.0%}); CPU {cpu:.2f} ms/1,000",
                    ">= 40% of ceiling",
                    rate / top >= 0.4,
                )
        finally:
            vm.stop()
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
