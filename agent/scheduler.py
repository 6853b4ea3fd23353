"""Runs each source on its own interval with jitter and turns every round into a spooled batch.

A round that is still running when the next one is due is not stacked: the due round is
skipped and counted as an overrun. A source that raises loses only its own round; the
error is logged with its traceback and counted. A round whose batch cannot be spooled
(disk full) is lost too, but never silently: its sequence number is used up, so the
collector counts a gap; the failure is counted (`agent_spool_write_failures_total`), logged
once when it starts and once when it ends, and the State `spool_writable` (subject
`spool`) goes out in the next batch that gets through, false while it failed and then
true once, so the helpdesk sees it and a rule can ticket it. Each batch also carries the agent's own
figures (cycle time per source, spool depth, publish failures, dropped batches), so the
helpdesk can see a struggling agent in the same place as the PC it watches.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import psutil

from agent import protocol
from agent.errors import SpoolError
from agent.protocol import Batch, Sample, Severity, State
from agent.spool import Spool

log = logging.getLogger(__name__)

Collect = Callable[[Any, int], Any]  # async (settings, now_ns) -> Sequence[Sample | State]


@dataclass(slots=True)
class SourceRun:
    """One enabled source and its counters."""

    name: str
    collect: Collect
    settings: msgspec.Struct
    interval_seconds: float
    rounds_total: int = 0
    overruns_total: int = 0
    errors_total: int = 0
    last_cycle_seconds: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Scheduler:
    """Owns the rounds of every source and hands their batches to the spool."""

    def __init__(
        self,
        agent_id: str,
        site: str,
        sources: Sequence[SourceRun],
        spool: Spool,
        jitter_seconds: float = 0.0,
        on_batch: Callable[[], None] = lambda: None,
        publish_failures: Callable[[], int] = lambda: 0,
        connected: Callable[[], bool] = lambda: False,
    ) -> None:
        self.agent_id = agent_id
        self.site = site
        self.sources = list(sources)
        self.spool = spool
        self.jitter_seconds = jitter_seconds
        self.on_batch = on_batch
        self.publish_failures = publish_failures
        self.connected = connected
        self._process = psutil.Process()
        self._spool_error = ""  # why the last batch could not be spooled; "" once one was
        self._lost_rounds = 0  # rounds lost since the spool last took a batch
        self._recovered = 0  # lost rounds still to report as over (the State goes back to ok once)

    async def run(self, stop: asyncio.Event) -> None:
        """Run every source until `stop` is set."""
        loops = [asyncio.create_task(self._loop(source, stop), name=source.name) for source in self.sources]
        await stop.wait()
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)

    async def _loop(self, source: SourceRun, stop: asyncio.Event) -> None:
        try:
            next_due = time.monotonic() + random.uniform(0, self.jitter_seconds)
            while not stop.is_set():
                await asyncio.sleep(max(0.0, next_due - time.monotonic()))
                if source.task is not None and not source.task.done():
                    source.overruns_total += 1
                    log.warning(
                        "source %s still running after %.0f s; round skipped",
                        source.name,
                        source.interval_seconds,
                    )
                else:
                    source.task = asyncio.create_task(self._round(source))
                next_due += source.interval_seconds
                now = time.monotonic()
                if next_due < now:  # the loop itself was held up (suspend, a stalled disk)
                    next_due = now + source.interval_seconds
        finally:
            if source.task is not None and not source.task.done():
                source.task.cancel()

    async def _round(self, source: SourceRun) -> None:
        started = time.monotonic()
        now_ns = time.time_ns()
        observations: Sequence[Sample | State] = ()
        try:
            observations = await source.collect(source.settings, now_ns)
        except Exception:  # a failing source loses only its own round
            source.errors_total += 1
            log.exception("source %s failed", source.name)
        source.rounds_total += 1
        source.last_cycle_seconds = time.monotonic() - started
        try:
            self.emit(source, observations, now_ns)
        except SpoolError as err:
            self._spool_failed(err)

    def _spool_failed(self, err: SpoolError) -> None:
        """A round is lost: count it and say so once when the failures start."""
        self._lost_rounds += 1
        if not self._spool_error:
            log.warning(
                "%s; rounds are lost (each counted, and a gap for the collector) until it can be written",
                err,
            )
        self._spool_error = str(err)

    def spool_state(self, now_ns: int) -> State | None:
        """What the next batch says about the spool: a problem while batches are lost, then fine once."""
        if self._spool_error:
            text = f"{self._spool_error}; {self._lost_rounds} rounds lost so far"
            return State("spool", "spool_writable", False, Severity.WARNING, text[:1000], {}, now_ns)
        if self._recovered:
            text = f"the spool is writable again; {self._recovered} rounds were lost"
            return State("spool", "spool_writable", True, Severity.INFO, text, {}, now_ns)
        return None

    def emit(self, source: SourceRun, observations: Sequence[Sample | State], now_ns: int) -> int:
        """Spool one batch with the round's observations plus the agent's own figures (SpoolError if not)."""
        samples, states = split(observations, now_ns)
        spool_state = self.spool_state(now_ns)
        if spool_state is not None:
            states.append(spool_state)
        created_ns = time.time_ns()

        def payload(seq: int) -> bytes:
            return protocol.encode(
                Batch(
                    v=protocol.PROTOCOL_VERSION,
                    agent_id=self.agent_id,
                    seq=seq,
                    created_ns=created_ns,
                    site=self.site,
                    samples=[*samples, *self.self_metrics(source, now_ns, seq)],
                    states=states,
                    spool_id=self.spool.spool_id,
                )
            )

        seq = self.spool.put(created_ns, payload)
        if self._spool_error:
            log.info("spool writable again after %d lost rounds", self._lost_rounds)
            self._spool_error, self._recovered, self._lost_rounds = "", self._lost_rounds, 0
        elif spool_state is not None:
            self._recovered = 0  # "fine again" went out
        self.on_batch()
        return seq

    def self_metrics(self, source: SourceRun, now_ns: int, seq: int) -> list[Sample]:
        """The agent's own health: per-source cycle and counters, spool, publishing, footprint.

        `batch_seq` repeats the batch's own sequence number as a number VictoriaMetrics
        keeps, so anyone can compare what an agent sent with what was stored.
        """
        stats = self.spool.stats()
        cpu = self._process.cpu_times()
        return [
            Sample(
                "agent_source",
                {
                    "cycle_seconds": source.last_cycle_seconds,
                    "rounds_total": source.rounds_total,
                    "overruns_total": source.overruns_total,
                    "errors_total": source.errors_total,
                    "batch_seq": seq,
                },
                {"source": source.name},
                now_ns,
            ),
            Sample(
                "agent",
                {
                    "spool_depth_batches": stats.depth,
                    "spool_bytes": stats.bytes,
                    "spool_dropped_total": stats.dropped_total,
                    "spool_write_failures_total": self.spool.write_failures_total,
                    "publish_failures_total": self.publish_failures(),
                    "mqtt_connected": int(self.connected()),
                    "rss_bytes": self._process.memory_info().rss,
                    "cpu_seconds_total": cpu.user + cpu.system,
                },
                time_ns=now_ns,
            ),
        ]


def split(observations: Sequence[Sample | State], now_ns: int) -> tuple[list[Sample], list[State]]:
    """Samples and States apart, each stamped with the round's time where the source left it out."""
    samples: list[Sample] = []
    states: list[State] = []
    for item in observations:
        if isinstance(item, Sample):
            samples.append(item if item.time_ns else msgspec.structs.replace(item, time_ns=now_ns))
        else:
            states.append(item if item.observed_ns else msgspec.structs.replace(item, observed_ns=now_ns))
    return samples, states
