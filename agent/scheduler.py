"""Runs each source on its own interval with jitter and turns every round into a spooled batch.

A round that is still running when the next one is due is not stacked: the due round is
skipped and counted as an overrun. A source that raises loses only its own round; the
error is logged with its traceback and counted.

A round whose batch cannot be spooled (disk full, I/O error) is not dropped: it keeps the
sequence number the spool used up for it and goes straight to the broker (`send_unspooled`,
QoS 1) while the agent is connected, carrying the State `spool_writable` (subject `spool`)
false. So a PC whose disk stays full reports that state every round, the collector dates it
from the first such round, and the rule `agent_spool` opens its ticket once the failure has
lasted its `min_duration_seconds`. Offline as well, the round is lost, but never silently:
the collector counts its number as a gap and the agent counts it
(`agent_spool_rounds_lost_total`). Every failure to write is counted
(`agent_spool_write_failures_total`) and logged once when it starts and once when it ends.
The first batch the spool takes again carries the State true (with how many rounds went
without the spool and how many were lost), which resolves the ticket.

Each batch also carries the agent's own figures (cycle time per source, spool depth,
publish failures, dropped batches), so the helpdesk can see a struggling agent in the same
place as the PC it watches.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import psutil

from agent import protocol
from agent.errors import BatchNotSpooled
from agent.protocol import NS, Batch, Sample, Severity, State
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
        send_unspooled: Callable[[int, bytes], bool] = lambda seq, payload: False,
    ) -> None:
        self.agent_id = agent_id
        self.site = site
        self.sources = list(sources)
        self.spool = spool
        self.jitter_seconds = jitter_seconds
        self.on_batch = on_batch
        self.publish_failures = publish_failures
        self.connected = connected
        self.send_unspooled = send_unspooled  # publish a batch the spool could not take; False if offline
        self.rounds_lost_total = 0  # rounds neither spooled nor sent (offline while the spool failed)
        self._process = psutil.Process()
        self._spool_error = ""  # why the last batch could not be spooled; "" once one was
        self._failing_since_ns = 0  # when the spool stopped taking batches
        self._unspooled_rounds = 0  # rounds the spool could not take since then
        self._lost_rounds = 0  # of those, rounds that could not be sent either

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
        self.emit(source, observations, now_ns)

    def spool_state(self, now_ns: int, writable: bool) -> State | None:
        """The State `spool_writable` a batch carries: false in every batch the spool could not
        take, true in the first one it takes again; None when there is nothing to say."""
        if writable and not self._spool_error:
            return None
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self._failing_since_ns / NS))
        counts = (
            f"{self._unspooled_rounds} rounds not spooled since {since}, "
            f"{self._unspooled_rounds - self._lost_rounds} of them sent without the spool, "
            f"{self._lost_rounds} lost"
        )
        if not writable:
            text = f"{self._spool_error}; {counts}"
            return State("spool", "spool_writable", False, Severity.WARNING, text[:1000], {}, now_ns)
        text = f"the spool is writable again; {counts}"
        return State("spool", "spool_writable", True, Severity.INFO, text[:1000], {}, now_ns)

    def emit(self, source: SourceRun, observations: Sequence[Sample | State], now_ns: int) -> int | None:
        """Spool one batch with the round's observations plus the agent's own figures and return
        its number; if the spool cannot take it, send it without the spool (None if lost)."""
        samples, states = split(observations, now_ns)
        created_ns = time.time_ns()

        def payload(seq: int, spool_state: State | None) -> bytes:
            return protocol.encode(
                Batch(
                    v=protocol.PROTOCOL_VERSION,
                    agent_id=self.agent_id,
                    seq=seq,
                    created_ns=created_ns,
                    site=self.site,
                    samples=[*samples, *self.self_metrics(source, now_ns, seq)],
                    states=[*states, spool_state] if spool_state is not None else states,
                    spool_id=self.spool.spool_id,
                )
            )

        try:
            # Made as if the write succeeds: after a failure, the first batch stored says it is over.
            seq = self.spool.put(created_ns, lambda seq: payload(seq, self.spool_state(now_ns, True)))
        except BatchNotSpooled as err:
            return self._not_spooled(err, now_ns, payload)
        if self._spool_error:
            log.info(
                "spool writable again after %d rounds not spooled (%d sent without it, %d lost)",
                self._unspooled_rounds,
                self._unspooled_rounds - self._lost_rounds,
                self._lost_rounds,
            )
            self._spool_error, self._unspooled_rounds, self._lost_rounds = "", 0, 0
        self.on_batch()
        return seq

    def _not_spooled(
        self, err: BatchNotSpooled, now_ns: int, payload: Callable[[int, State | None], bytes]
    ) -> int | None:
        """The spool could not take this round: say so once, and send the round without it if connected."""
        if not self._spool_error:
            self._failing_since_ns = now_ns
            log.warning(
                "%s; rounds go to the broker without the spool while connected, and are lost "
                "(each counted, and a gap for the collector) while not, until it can be written",
                err,
            )
        self._spool_error = str(err)
        self._unspooled_rounds += 1
        sent = False
        if err.seq is not None:
            try:
                # Made again, now saying the spool is not writable; the number stays the one used up.
                sent = self.send_unspooled(err.seq, payload(err.seq, self.spool_state(now_ns, False)))
            except (sqlite3.Error, OSError):  # the spool cannot even be read for the agent's figures
                log.debug("batch %d could not be made without the spool", err.seq, exc_info=True)
        if sent:
            return err.seq
        self._lost_rounds += 1
        self.rounds_lost_total += 1
        return None

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
                    "spool_rounds_lost_total": self.rounds_lost_total,
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
