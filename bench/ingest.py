"""Ingest benchmark: simulated agents -> Mosquitto -> one collector -> VictoriaMetrics.

Everything runs privately on free ports in a temporary directory. In one run it measures

1. the ceiling: pre-built line protocol posted straight to VictoriaMetrics /api/v2/write
   in the collector's body size, one request at a time (as the collector writes). Twice:
   at the start over 100 agents' series (6,000 series VictoriaMetrics keeps hot), and at
   the end over the same 10,000 agents' 600,000 series the collector wrote, which is what
   writing this fleet directly would cost; the saturation ratio is taken against the latter;
2. sustained: N agents at a fixed offered rate (default 10,000 agents x 60 samples / 30 s
   = 20,000 samples/s) for some seconds; zero loss is checked by counting, per batch,
   the `fake_seq` sample in VictoriaMetrics; CPU of the collector process per 1,000
   samples; publish -> queryable latency from probe batches polled with PromQL;
3. saturation: `--flood-rounds` batches from every agent, encoded and framed as MQTT
   packets beforehand and sent as fast as the broker takes them (bench/raw_mqtt.py), for
   one collector process and then again with a second in the same group (`--collectors`);
   samples/s from the first publish until the last one is queryable, the ratio to the
   ceiling. Real agents publish from their own PCs; here the sender shares the two cores,
   so it is kept as cheap as the ceiling's poster of pre-built bodies, and its CPU is
   printed beside the collectors'.

    python -m bench.ingest [--agents 10000] [--rate 20000] [--seconds 30] [--flood-rounds 8]
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


def publish_nth(
    publisher: fake_agents.Publisher, index: int, agents: int, first_seq: int, base_ns: int
) -> None:
    """Publish the `index`-th batch of a round-robin over `agents`, starting at `first_seq`."""
    agent, seq = index % agents, first_seq + index // agents
    publisher.publish_raw(
        f"deskwatch/v1/{fake_agents.agent_id(agent)}/metrics", encode(bench_batch(agent, seq, base_ns))
    )
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
    messages = []
    for index in range(agents * rounds):
        agent, seq = index % agents, first_seq + index // agents
        topic = f"deskwatch/v1/{fake_agents.agent_id(agent)}/metrics"
        messages.append((topic, encode(bench_batch(agent, seq, base_ns))))
    return raw_mqtt.frame(messages)


def flood(url: str, packets: list[bytes]) -> tuple[float, float]:
    """Publish `packets` as fast as the broker takes them; return (seconds taken, publisher CPU seconds)."""
    publisher = raw_mqtt.RawPublisher(url, client_id="bench-flood")
    cpu, started = time.process_time(), time.perf_counter()
    publisher.send(packets)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    publisher.close()
    return took, cpu


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
        "--flood-rounds", type=int, default=8, help="batches each agent publishes in a saturation phase"
    )
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
            pid = collector.proc.pid

            # Sustained phase.
            batches_per_second = args.rate / SAMPLES
            latencies: list[float] = []
            stop = threading.Event()
            prober = threading.Thread(target=probe_latency, args=(vm, broker.url, stop, latencies))
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            prober.start()
            sent = publish_at_rate(broker.url, args.agents, batches_per_second, args.seconds, base_ns, 0)
            done = wait_stored(vm, sent, timeout=120 + args.seconds)
            stop.set()
            prober.join()
            cpu1 = cpu_seconds(pid)
            samples = sent * SAMPLES
            print(
                f"sustained: {args.agents:,} agents, offered {args.rate:,.0f} samples/s "
                f"for {args.seconds:.0f} s: "
                f"{samples / (done - t0):,.0f} samples/s end to end, {sent:,} of {sent:,} batches stored "
                f"(zero loss)"
            )
            print(f"collector CPU: {(cpu1 - cpu0) / samples * 1000 * 1000:.2f} ms per 1,000 samples")
            sustained = samples / (done - t0)
            record(
                "ingest",
                f"sustained, {args.agents:,} agents, zero loss",
                sustained,
                "samples/s",
                f"offered {args.rate:,.0f}/s",
                ">= 20,000/s",
                sustained >= 20_000 * 0.97,
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

            # Saturation: one collector, then more in the same group, each flooded in turn.
            collectors = [collector]
            first_seq = int(args.seconds * batches_per_second) // args.agents + 1
            stored = sent
            results: list[tuple[int, float, float]] = []  # (collectors, samples/s, CPU ms per 1,000)
            while True:
                pids = [c.proc.pid for c in collectors if c.proc is not None]
                packets = flood_packets(args.agents, args.flood_rounds, first_seq, base_ns)
                total = len(packets)
                others = {"mosquitto": broker.pid, "victoriametrics": vm.pid}
                others_before = {name: cpu_seconds(pid) for name, pid in others.items()}
                cpu_before, t2 = sum(cpu_seconds(p) for p in pids), time.perf_counter()
                took, publisher_cpu = flood(broker.url, packets)
                del packets
                stored += total
                done = wait_stored(vm, stored, timeout=300)
                cpu = (sum(cpu_seconds(p) for p in pids) - cpu_before) / (total * SAMPLES) * 1e6
                rate = total * SAMPLES / (done - t2)
                results.append((len(collectors), rate, cpu))
                print(
                    f"saturation, {len(collectors)} collector process(es): {total:,} batches published "
                    f"in {took:.1f} s (publisher CPU {publisher_cpu / (total * SAMPLES) * 1e6:.2f} ms "
                    f"per 1,000 samples), all stored at {rate:,.0f} samples/s end to end; "
                    f"collector CPU {cpu:.2f} ms per 1,000 samples"
                )
                print(
                    "  beside them, per 1,000 samples: "
                    + ", ".join(
                        f"{name} {(cpu_seconds(pid) - others_before[name]) / (total * SAMPLES) * 1e6:.2f} ms"
                        for name, pid in others.items()
                    )
                )
                first_seq += args.flood_rounds
                if len(collectors) == args.collectors:
                    break
                collectors.append(make_collector(work, len(collectors) + 1, broker.url, vm.url))
                collectors[-1].start()
            dead_letters = sum(c.metric("deskwatch_ingest_decode_errors_total") for c in collectors)
            for c in collectors:
                c.stop()
            print(f"dead letters: {dead_letters:.0f}")
            # The fleet's own series, now all known to VictoriaMetrics, written directly.
            top = ceiling(vm, range(args.agents), first_seq + 1, base_ns)
            print(f"ceiling, the same {args.agents:,} agents' series (direct write): {top:,.0f} samples/s")
            for count, rate, cpu in results:
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
