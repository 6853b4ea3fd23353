"""Per-agent sequence numbers: which batches arrived, which are missing, which came twice.

Every batch carries a sequence number that survives agent restarts. `SequenceTracker`
remembers, per agent, the highest number seen and the ranges below it still missing:
a number above the highest opens a gap, a late arrival inside a gap fills (un-counts)
it, and anything else at or below the highest is a duplicate, a QoS 1 redelivery that
ingest drops. Numbers below the tracked window (`floor`) cannot be judged and are
accepted; VictoriaMetrics' dedup collapses them if they were stored before.

A window belongs to one life of the agent's spool (`Batch.spool_id`, made by each agent
process, agent/spool.py). A batch from a life not seen before (a restarted agent; a
re-imaged PC, a deleted spool, an id enrolled again elsewhere, whose numbers start over
from 1; an agent restarted on a full disk, which takes again numbers it had sent without
storing them) starts a new window: its
numbers are judged afresh instead of being dropped as repeats of the old life's, and the
old life's still-missing batches are written off as lost. A late batch of a spool already
replaced is stored without judging (VictoriaMetrics' dedup collapses a repeat).

The state lives in the collector's store (`agent_sequence`) so that a restarted or
killed collector does not store a redelivered batch twice, and so that several
collector processes, which each see only their share of an agent's batches, count gaps
over the union of what they all saw: `save()` merges this process's view into the
stored one under a row lock and takes the merged view back.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    bindparam,
    select,
)

from collector.db import execute_many

# Ranges kept per agent; beyond this the oldest gap is written off as lost for good.
MAX_RANGES: Final = 64
# Replaced spools remembered per agent, so their late batches are not taken for a new spool.
MAX_RETIRED: Final = 8

metadata = MetaData()
agent_sequence = Table(
    "agent_sequence",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("floor", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    Column("missing", Text, nullable=False),  # JSON [[start, end), ...]
    Column("lost", BigInteger, nullable=False),  # gaps dropped from `missing` to bound it
    Column("duplicates", Integer, nullable=False),
    Column("spool_id", String(64), nullable=False, server_default=""),  # the life this window is of
    Column("since_ns", BigInteger, nullable=False, server_default="0"),  # when that window began
    Column("retired", Text, nullable=False, server_default="[]"),  # JSON: spools replaced since
)

Range = tuple[int, int]  # half-open [start, end)


class Verdict(enum.Enum):
    """What one sequence number means for the batch that carries it."""

    NEW = "new"  # store it
    FILLED = "filled"  # store it: a late arrival that closes part of a gap
    UNKNOWN = "unknown"  # store it: below the tracked window, cannot tell
    DUPLICATE = "duplicate"  # drop it: seen before


@dataclass(slots=True)
class AgentSequence:
    """What is known about one agent's sequence numbers."""

    floor: int
    high: int
    missing: list[Range] = field(default_factory=list)
    lost: int = 0
    duplicates: int = 0
    spool_id: str = ""  # the spool whose numbers this window tracks ("" from agents before it)
    since_ns: int = 0  # the collector's time of the window's first batch: the newer window wins a merge
    retired: list[str] = field(default_factory=list)  # spools replaced before, oldest first

    def copy(self) -> AgentSequence:
        return AgentSequence(
            self.floor,
            self.high,
            list(self.missing),
            self.lost,
            self.duplicates,
            self.spool_id,
            self.since_ns,
            list(self.retired),
        )

    def restarted(self, seq: int, spool_id: str, received_ns: int) -> AgentSequence:
        """A new window for a new spool's first batch `seq`; this one's missing batches are written off."""
        return AgentSequence(
            floor=seq,
            high=seq,
            lost=self.gaps,
            duplicates=self.duplicates,
            spool_id=spool_id,
            since_ns=received_ns,
            retired=_retire(self.retired, self.spool_id),
        )

    @property
    def gaps(self) -> int:
        """Batches never received: still-open gaps plus gaps written off."""
        return self.lost + sum(end - start for start, end in self.missing)

    def observe(self, seq: int) -> Verdict:
        """Record `seq` and say whether its batch is new."""
        if seq > self.high:
            if seq > self.high + 1:
                self.missing.append((self.high + 1, seq))
                self._bound()
            self.high = seq
            return Verdict.NEW
        if seq < self.floor:
            return Verdict.UNKNOWN
        for index, (start, end) in enumerate(self.missing):
            if start <= seq < end:
                pieces = [r for r in ((start, seq), (seq + 1, end)) if r[0] < r[1]]
                self.missing[index : index + 1] = pieces
                return Verdict.FILLED
        self.duplicates += 1
        return Verdict.DUPLICATE

    def _bound(self) -> None:
        while len(self.missing) > MAX_RANGES:
            start, end = self.missing.pop(0)
            self.lost += end - start
            self.floor = end


def _complement(ranges: list[Range], low: int, high: int) -> list[Range]:
    """The half-open ranges in [low, high) not covered by sorted, disjoint `ranges`."""
    result: list[Range] = []
    at = low
    for start, end in ranges:
        if start > at:
            result.append((at, min(start, high)))
        at = max(at, end)
    if at < high:
        result.append((at, high))
    return [r for r in result if r[0] < r[1]]


def _seen(state: AgentSequence) -> list[Range]:
    return _complement(state.missing, state.floor, state.high + 1)


def _retire(retired: list[str], spool_id: str) -> list[str]:
    kept = [r for r in retired if r != spool_id] + [spool_id]
    return kept[-MAX_RETIRED:]


def _newer(a: AgentSequence, b: AgentSequence) -> bool:
    """True if `a` tracks a later spool than `b` (their spool ids differ)."""
    if b.spool_id in a.retired:
        return True
    if a.spool_id in b.retired:
        return False
    # Two collectors each saw a different spool first: the window that began later is the new life.
    return (a.since_ns, a.spool_id) > (b.since_ns, b.spool_id)


def merge(a: AgentSequence, b: AgentSequence) -> AgentSequence:
    """The view of an agent's sequence after seeing everything `a` and `b` saw."""
    if a.spool_id != b.spool_id:
        new, old = (a, b) if _newer(a, b) else (b, a)
        retired = _retire([r for r in old.retired if r not in new.retired] + new.retired, old.spool_id)
        merged = new.copy()
        merged.retired = [r for r in retired if r != new.spool_id][-MAX_RETIRED:]
        # what the old life never delivered stays counted, whoever saw it
        merged.lost = max(new.lost, old.gaps)
        merged.duplicates = max(new.duplicates, old.duplicates)
        return merged
    if not a.missing and not b.missing and a.floor <= b.high + 1 and b.floor <= a.high + 1:
        # Two unbroken runs that touch: one unbroken run. Every flush merges each agent
        # twice, and nearly every agent is in this case.
        return AgentSequence(
            min(a.floor, b.floor),
            max(a.high, b.high),
            [],
            max(a.lost, b.lost),
            max(a.duplicates, b.duplicates),
            a.spool_id,
            _earliest(a.since_ns, b.since_ns),
            a.retired if a.retired == b.retired else _union(a.retired, b.retired),
        )
    seen = sorted(_seen(a) + _seen(b))
    union: list[Range] = []
    for start, end in seen:
        if union and start <= union[-1][1]:
            union[-1] = (union[-1][0], max(union[-1][1], end))
        else:
            union.append((start, end))
    low, high = min(a.floor, b.floor), max(a.high, b.high)
    merged = AgentSequence(
        floor=low,
        high=high,
        missing=_complement(union, low, high + 1),
        lost=max(a.lost, b.lost),
        duplicates=max(a.duplicates, b.duplicates),
        spool_id=a.spool_id,
        since_ns=_earliest(a.since_ns, b.since_ns),
        retired=_union(a.retired, b.retired),
    )
    merged._bound()
    return merged


def _earliest(a: int, b: int) -> int:
    return min(a, b) if a and b else a or b


def _union(a: list[str], b: list[str]) -> list[str]:
    return ([r for r in a if r not in b] + b)[-MAX_RETIRED:]


class SequenceTracker:
    """Every agent's AgentSequence in this process, with the agents changed since the last save.

    Ingest observes from its MQTT thread while its flush thread takes, marks and adopts:
    each method holds the tracker's lock, so no observation is lost between a copy and
    the clearing of the changed set, or between a merge and its adoption.
    """

    def __init__(self) -> None:
        self._agents: dict[str, AgentSequence] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()

    def observe(self, agent_id: str, seq: int, spool_id: str = "", received_ns: int = 0) -> Verdict:
        """Record a batch's sequence number; the first one seen from an agent, or from a new
        spool of it, starts a window."""
        with self._lock:
            state = self._agents.get(agent_id)
            self._dirty.add(agent_id)
            if state is None:
                self._agents[agent_id] = AgentSequence(
                    floor=seq, high=seq, spool_id=spool_id, since_ns=received_ns
                )
                return Verdict.NEW
            if spool_id == state.spool_id:
                return state.observe(seq)
            if spool_id in state.retired:
                return Verdict.UNKNOWN  # a late batch of a spool since replaced
            self._agents[agent_id] = state.restarted(seq, spool_id, received_ns)
            return Verdict.NEW

    def get(self, agent_id: str) -> AgentSequence | None:
        return self._agents.get(agent_id)

    def load(self, engine: Engine) -> None:
        """Replace this process's view with the stored one (at startup)."""
        with engine.connect() as conn:
            rows = conn.execute(select(agent_sequence)).all()
        with self._lock:
            for row in rows:
                self._agents[row.agent_id] = _from_row(row)

    def take_dirty(self) -> dict[str, AgentSequence]:
        """Copies of the agents changed since the last call, for `save()` outside the lock."""
        with self._lock:
            dirty = {
                agent_id: s.copy()
                for agent_id in self._dirty
                if (s := self._agents.get(agent_id)) is not None
            }
            self._dirty.clear()
        return dirty

    def mark_dirty(self, agent_ids: Iterable[str]) -> None:
        """Save these agents again next time (their last save did not commit)."""
        with self._lock:
            self._dirty.update(agent_ids)

    def adopt(self, merged: dict[str, AgentSequence]) -> None:
        """Take the merged views `save()` returned, keeping anything observed meanwhile."""
        with self._lock:
            for agent_id, stored in merged.items():
                current = self._agents.get(agent_id)
                self._agents[agent_id] = stored if current is None else merge(current, stored)


def save(conn: Connection, views: dict[str, AgentSequence]) -> tuple[dict[str, AgentSequence], int, int]:
    """Merge `views` into the stored rows (locked); return the merged views, gaps opened and gaps filled.

    Runs inside the caller's transaction, which must hold the write lock (SQLite: BEGIN
    IMMEDIATE; PostgreSQL: the FOR UPDATE here).
    """
    if not views:
        return {}, 0, 0
    stored: dict[str, AgentSequence] = {}
    for chunk in _chunks(sorted(views), 500):
        query = select(agent_sequence).where(agent_sequence.c.agent_id.in_(chunk))
        if conn.dialect.name != "sqlite":
            query = query.with_for_update()
        for row in conn.execute(query):
            stored[row.agent_id] = _from_row(row)
    merged: dict[str, AgentSequence] = {}
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    opened = filled = 0
    for agent_id, view in views.items():
        before = stored.get(agent_id)
        after = view if before is None else merge(before, view)
        merged[agent_id] = after
        delta = after.gaps - (before.gaps if before else 0)
        opened += max(delta, 0)
        filled += max(-delta, 0)
        if before is None:
            inserts.append({"agent_id": agent_id, **_to_row(after)})
        else:
            updates.append({"key": agent_id, **_to_row(after)})
    if inserts:
        conn.execute(agent_sequence.insert(), inserts)
    if updates:
        execute_many(conn, _UPDATE, updates, _ROW_COLUMNS)
    return merged, opened, filled


def stored_gaps(conn: Connection) -> dict[str, int]:
    """Batches never received, per agent that has any, over everything every collector saw."""
    table = agent_sequence.c
    # Most agents have no gap: their rows are not read (_to_row writes no gap as "[]").
    with_gaps = select(agent_sequence).where((table.missing != "[]") | (table.lost > 0))
    return {row.agent_id: _from_row(row).gaps for row in conn.execute(with_gaps)}


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_ranges = msgspec.json.Decoder(list[tuple[int, int]])
_ROW_COLUMNS: Final = (  # what _to_row gives
    "floor",
    "high",
    "missing",
    "lost",
    "duplicates",
    "spool_id",
    "since_ns",
    "retired",
)
_spools = msgspec.json.Decoder(list[str])
_UPDATE: Final = agent_sequence.update().where(agent_sequence.c.agent_id == bindparam("key"))


def _from_row(row: Row[Any]) -> AgentSequence:
    missing = [] if row.missing == "[]" else list(_ranges.decode(row.missing))  # no gap: most rows
    retired = [] if row.retired == "[]" else _spools.decode(row.retired)  # never restarted: most rows
    return AgentSequence(
        row.floor, row.high, missing, row.lost, row.duplicates, row.spool_id, row.since_ns, retired
    )


def _to_row(state: AgentSequence) -> dict[str, object]:
    return {
        "floor": state.floor,
        "high": state.high,
        "missing": msgspec.json.encode(state.missing).decode() if state.missing else "[]",
        "lost": state.lost,
        "duplicates": state.duplicates,
        "spool_id": state.spool_id,
        "since_ns": state.since_ns,
        "retired": msgspec.json.encode(state.retired).decode() if state.retired else "[]",
    }
