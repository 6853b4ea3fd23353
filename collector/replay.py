"""`deskwatch-collector deadletter replay`: dead letters through the collector's own ingest path.

A letter is decoded, sequence-checked, written to the metrics database and recorded in
the store exactly as a live message would be (`Ingest.replay`), in this process and
without the broker: replaying needs no write right on agents' topics (the broker's ACL
gives the collector none) and cannot be lost to a broker that drops or refuses a
publish. A letter is deleted only once what it carries is stored (or was stored before);
one still refused, one kept only in part, or one that could not be stored stays, with
the reason. Replayed batches reach the metrics, the sequence state and presence, not the
incident rules: they are about the past.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from collector import deadletter
from collector.config import CollectorConfig
from collector.errors import CollectorError
from collector.ingest import Ingest, ReplayOutcome
from collector.inventory import store as inventory_store
from collector.selfmetrics import SelfMetrics
from collector.service import ingest_settings
from collector.writer import DirectSink, LineStore, MetricsWriter


class Result(enum.StrEnum):
    STORED = "stored"  # and deleted
    DUPLICATE = "duplicate"  # stored before; deleted
    REFUSED = "refused"  # still not a valid message; kept
    INCOMPLETE = "incomplete"  # only a prefix was kept; kept
    FAILED = "failed"  # could not be stored now (database down); kept


@dataclass(frozen=True, slots=True)
class Replay:
    letter_id: int
    result: Result
    reason: str = ""

    @property
    def deleted(self) -> bool:
        return self.result in (Result.STORED, Result.DUPLICATE)


def replay(
    config: CollectorConfig, engine: Engine, letter_ids: Sequence[int], sink: LineStore | None = None
) -> list[Replay]:
    """Replay each letter in order; stop at the first that cannot be stored (the rest would fail too)."""
    metrics = SelfMetrics()
    if sink is None:
        sink = DirectSink(MetricsWriter(config.metrics, metrics, _token(config)))
    ingest = Ingest(ingest_settings(config), engine, sink, metrics)
    ingest.add_presence_writer(inventory_store.record)
    results: list[Replay] = []
    for letter_id in letter_ids:
        letter = deadletter.get(engine, letter_id)
        if not letter.complete:
            reason = f"only the first {len(letter.payload)} of its {letter.size} bytes were kept"
            results.append(Replay(letter_id, Result.INCOMPLETE, reason))
            continue
        try:
            outcome = ingest.replay(letter.topic, letter.payload, letter.received_ns)
        except CollectorError as err:
            results.append(Replay(letter_id, Result.FAILED, str(err)))
            break
        if outcome.outcome is ReplayOutcome.REFUSED:
            results.append(Replay(letter_id, Result.REFUSED, outcome.reason))
            continue
        deadletter.remove(engine, letter_id)
        results.append(Replay(letter_id, Result(outcome.outcome.value), outcome.reason))
    return results


def _token(config: CollectorConfig) -> str:
    return os.environ.get(config.metrics.token_env, "") if config.metrics.token_env else ""
