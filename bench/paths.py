"""What ingest's performance layer buys: the collector's CPU on each of its paths, side by side.

The collector has two optional speed-ups over plain Python and paho, each with a switch
that turns it off (collector/ingest.py, collector/line_protocol.py):

- collector/lean_paho.py, paho's Client with a short receive path (DESKWATCH_PLAIN_PAHO=1:
  paho's own Client);
- collector/_lines.c, the C fast lane that writes the lines straight from the JSON
  (DESKWATCH_NO_C_LINES=1: msgspec decodes every sample and Python writes the lines).

For each of the four combinations a fresh collector process (its own store, its own
Mosquitto; one VictoriaMetrics for the run, its series made hot first) takes, after
every agent has announced itself with one batch (bench/ingest.py's setup):

1. the design load: 10,000 agents x 60 samples / 30 s = 20,000 samples/s for
   `--seconds`, one batch at a time evenly spaced as a fleet's arrive: the collector's
   CPU in % of one core, and per 1,000 samples;
2. saturation: `--flood-rounds` batches of every agent offered at `--saturation-rate`,
   more than one process takes: its CPU per 1,000 samples while it cannot keep up, and
   the samples/s it stored end to end.

The combinations run in turn, `--repeats` times (this machine's speed drifts within
minutes, so each figure is given for every repeat), the shipped one (lean paho, C lane)
first in each turn: it is the baseline of the same run the others are compared with.
Batches go out over bench/raw_mqtt.py, so the sender costs next to nothing.

Last, in one process: the fast lane against msgspec's decode + the Python builder per
batch, and how many of this traffic's batches the lane hands back to the latter (the
only batches a builder of decoded batches sees in the collector).

    python -m bench.paths [--agents 10000] [--seconds 20] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import raw_mqtt
from bench.ingest import SAMPLES, cpu_seconds, flood, flood_packets, load_step, stored_batches, wait_stored
from bench.report import record
from tests.support.collector_process import CollectorProcess
from tests.support.services import Mosquitto, VictoriaMetrics

DESIGN_RATE = 20_000  # samples/s: 10,000 agents x 60 samples every 30 s

# name -> the environment that selects it
PATHS: dict[str, dict[str, str]] = {
    "lean paho + C lane (shipped)": {},
    "plain paho + C lane": {"DESKWATCH_PLAIN_PAHO": "1"},
    "lean paho + Python lines": {"DESKWATCH_NO_C_LINES": "1"},
    "plain paho + Python lines": {"DESKWATCH_PLAIN_PAHO": "1", "DESKWATCH_NO_C_LINES": "1"},
}
BASELINE = next(iter(PATHS))


@dataclass
class Figures:
    """One path's measurements over the repeats."""

    design_core: list[float] = field(default_factory=list)  # % of one core at the design load
    design_ms: list[float] = field(default_factory=list)  # ms of CPU per 1,000 samples there
    saturated_ms: list[float] = field(default_factory=list)  # ms per 1,000 samples at saturation
    saturated_rate: list[float] = field(default_factory=list)  # samples/s end to end there


def run_path(
    work: Path,
    vm: VictoriaMetrics,
    env: dict[str, str],
    args: argparse.Namespace,
    first_seq: int,
    base_ns: int,
) -> tuple[float, float, float, float, int]:
    """One fresh collector on one path.

    Returns the design load's % of a core and ms per 1,000 samples, the saturated ms per
    1,000 samples and samples/s, and how many sequence numbers of every agent it used.
    """
    stored = counted(vm)
    broker = Mosquitto(work / "mosquitto")
    broker.start()
    collector = CollectorProcess(
        work / "collector",
        broker.url,
        vm.url,
        client_id="bench-paths",
        group="bench",
        extra="[log]\nlevel = 'warning'\n",
        flush_interval_seconds=0.2,  # the shipped defaults
        presence_check_seconds=10,
        default_interval_seconds=30.0,
        env=env,
    )
    try:
        collector.start()
        seq = first_seq
        # Every agent announces itself (presence and sequence rows: a one-off, not measured).
        flood(broker.url, flood_packets(args.agents, 1, seq, base_ns))
        seq += 1
        stored += args.agents
        wait_stored(vm, stored, timeout=300)
        # The design load, paced as agents publish on their interval.
        rounds = max(1, round(DESIGN_RATE * args.seconds / SAMPLES / args.agents))
        packets = flood_packets(args.agents, rounds, seq, base_ns)
        seq += rounds
        # One packet to a write, evenly spaced, as 10,000 agents' batches arrive: the collector
        # wakes up for each one (a burst would let it read many at once, which is saturation's case).
        publisher = raw_mqtt.RawPublisher(broker.url, client_id="bench-design")
        cpu, started = cpu_seconds(collector.pid), time.perf_counter()
        try:
            publisher.send(packets, per_write=1, rate=DESIGN_RATE / SAMPLES)
        finally:
            publisher.close()
        sent = time.perf_counter() - started
        stored += len(packets)
        wait_stored(vm, stored, timeout=120)
        cpu = cpu_seconds(collector.pid) - cpu
        design_core = cpu / sent * 100
        design_ms = cpu / (len(packets) * SAMPLES) * 1e6
        # Saturation: more offered than one process takes.
        packets = flood_packets(args.agents, args.flood_rounds, seq, base_ns)
        seq += args.flood_rounds
        step = load_step(broker, vm, [collector], packets, args.saturation_rate, stored)
        log = collector.log()
        if "Traceback" in log:
            raise RuntimeError(f"the collector failed: {log[-2000:]}")
        return design_core, design_ms, step.collector_cpu, step.rate, seq - first_seq
    finally:
        collector.stop()
        broker.stop()


def counted(vm: VictoriaMetrics) -> int:
    """The bench batches VictoriaMetrics holds, once the count stops moving."""
    last = -1
    while True:
        now = stored_batches(vm, "pc-0")
        if now == last:
            return now
        last = now
        time.sleep(0.5)


_MICRO = """
import sys, time
from agent.protocol import MAX_ITEMS_PER_BATCH, Batch, decode, encode
from collector import fastlane, line_protocol
from tests.support import fake_agents
rounds = int(sys.argv[2])
payloads = [
    encode(fake_agents.make_batch(a % 200, a, 1_700_000_000_000_000_000 + a, with_state=a % 3 == 0))
    for a in range(rounds)
]
keep = fastlane.wanted([("cpu", "value")])
way = sys.argv[1]
native = line_protocol.native_module()
if way == "share":
    args = (keep, fastlane._batch_tags, fastlane._raw_series, fastlane._raw_series_parts, MAX_ITEMS_PER_BATCH)
    print(sum(native.scan_batch(p, *args) is None for p in payloads) / len(payloads))
    sys.exit()
def run():
    for p in payloads:
        if way == "lane":
            fastlane.decode_batch(p, keep)
        else:
            line_protocol.batch_body(decode(p, Batch))
run()
best = min((lambda t: (run(), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
print(best / rounds * 1e6)
"""


def lane_per_batch(rounds: int = 2_000) -> tuple[float, float, float]:
    """The fast lane against the ordinary way on this bench's batches, in a child process each.

    µs per 60-sample batch for the fast lane and for msgspec's decode + the Python builder,
    and the share of the batches the lane hands back to the latter.
    """
    results = []
    for way in ("lane", "decode", "share"):
        answer = subprocess.run(
            [sys.executable, "-c", _MICRO, way, str(rounds)],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(float(answer.stdout.strip()))
    return results[0], results[1], results[2]


def spread(values: list[float], digits: int = 1) -> str:
    """The median and every value, as `7.9 (7.6, 8.1)`."""
    each = ", ".join(f"{v:,.{digits}f}" for v in values)
    return f"{statistics.median(values):,.{digits}f} ({each})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20, help="length of the design-load phase")
    parser.add_argument("--flood-rounds", type=int, default=3, help="batches of every agent at saturation")
    parser.add_argument("--saturation-rate", type=float, default=400_000, help="offered samples/s")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--only",
        type=int,
        nargs="*",
        choices=range(1, len(PATHS)),
        help="measure only these of the other paths (1-3, in the order above); the shipped one always runs",
    )
    args = parser.parse_args()
    paths = {
        name: env
        for index, (name, env) in enumerate(PATHS.items())
        if index == 0 or args.only is None or index in args.only
    }

    figures = {name: Figures() for name in paths}
    with tempfile.TemporaryDirectory(prefix="bench-paths-") as tmp:
        work = Path(tmp)
        vm = VictoriaMetrics(work / "vm")
        vm.start()
        try:
            base_ns = time.time_ns() - 2 * 3600 * 10**9  # all bench timestamps fall in the last 3 h
            # The fleet's series made hot once, so no path pays for creating them.
            warm = Mosquitto(work / "warm")
            warm.start()
            try:
                collector = CollectorProcess(work / "warm-collector", warm.url, vm.url, client_id="warm")
                collector.start()
                flood(warm.url, flood_packets(args.agents, 1, 0, base_ns))
                wait_stored(vm, args.agents, timeout=300)
                collector.stop()
            finally:
                warm.stop()
            seq = 1
            for repeat in range(args.repeats):
                for index, (name, env) in enumerate(paths.items()):
                    core, design, saturated, rate, used = run_path(
                        work / f"run-{repeat}-{index}", vm, env, args, seq, base_ns
                    )
                    seq += used
                    got = figures[name]
                    got.design_core.append(core)
                    got.design_ms.append(design)
                    got.saturated_ms.append(saturated)
                    got.saturated_rate.append(rate)
                    print(
                        f"  {name}: design load {core:.1f} % of a core ({design:.2f} ms/1,000 samples); "
                        f"saturated {saturated:.2f} ms/1,000 samples, {rate:,.0f} samples/s end to end",
                        flush=True,
                    )
        finally:
            vm.stop()

    base = figures[BASELINE]
    base_core = statistics.median(base.design_core)
    base_saturated = statistics.median(base.saturated_ms)
    print(
        f"\ncollector CPU by path, median (each of {args.repeats} runs), {args.agents:,} agents; "
        f"baseline: {BASELINE}, same run"
    )
    print(
        f"{'path':<30} {'design load 20,000/s: % of a core':<36} {'ms/1,000':<22} "
        f"{'saturated: ms/1,000 samples':<30} samples/s end to end"
    )
    for name, got in figures.items():
        core, saturated = statistics.median(got.design_core), statistics.median(got.saturated_ms)
        print(
            f"{name:<30} {spread(got.design_core):<36} {spread(got.design_ms, 2):<22} "
            f"{spread(got.saturated_ms, 2):<30} {spread(got.saturated_rate, 0)}"
        )
        if name == BASELINE:
            continue
        extra_core = core - base_core
        extra_saturated = saturated / base_saturated - 1
        print(
            f"{'':<30} vs the shipped path: {extra_core:+.1f} points of a core at the design load, "
            f"{extra_saturated:+.0%} CPU per sample at saturation"
        )
        record(
            "paths",
            f"{name}: design load, % of a core",
            core,
            "%",
            f"{BASELINE}: {base_core:.1f} %",
        )
        record(
            "paths",
            f"{name}: saturated, ms per 1,000 samples",
            saturated,
            "ms",
            f"{BASELINE}: {base_saturated:.2f} ms ({extra_saturated:+.0%})",
        )
    lane, body_py, share = lane_per_batch()
    print(
        f"\nper 60-sample batch, in one process: fast lane {lane:.0f} µs; decoded + Python {body_py:.0f} µs"
    )
    print(f"the lane hands back {share:.1%} of these batches (decoded and built in Python)")
    record(
        "paths",
        "fast lane, per 60-sample batch",
        lane,
        "µs",
        f"decoded + Python {body_py:.0f} µs; {share:.1%} of batches handed back",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
