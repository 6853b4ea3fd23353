"""Each agent online, offline (graceful), lost or stale, from births, Last Wills and batches.

The retained `<prefix>/<agent_id>/state` topic carries the birth (`online`), the Last
Will the broker publishes when an agent vanishes (`offline`, reason `lost`) and the
goodbye of a graceful stop (`offline`, reason `shutdown`) or of a PC going to sleep
(`offline`, reason `sleep`). A batch proves an agent is
alive; no batch for `stale_intervals` of its interval makes it stale. The status lives
in the collector's store (`agent`); every change is a compare-and-set there, so when
several collectors see the same message exactly one of them reports the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    MetaData,
    Row,
    String,
    Table,
    bindparam,
    case,
    func,
    select,
    update,
)

from agent.protocol import AgentFacts, Presence
from collector.db import execute_many
from collector.observers import AgentStatus, PresenceChange

metadata = MetaData()
agent = Table(
    "agent",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("site", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_ns", BigInteger, nullable=False),  # when the collector received what set the status
    Column("last_seen_ns", BigInteger, nullable=False),  # collector time of the newest batch or birth
    Column("interval_seconds", Float, nullable=True),  # from the birth; None until one arrives
    Column("version", String(64), nullable=False, server_default=""),
    Column("host", String(256), nullable=False, server_default=""),
    Column("os", String(256), nullable=False, server_default=""),
)


@dataclass(frozen=True, slots=True)
class Seen:
    """The newest accepted batch of one agent in a flush."""

    site: str
    created_ns: int
    received_ns: int


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent as stored, for /metrics and the API."""

    agent_id: str
    site: str
    status: AgentStatus
    last_seen_ns: int
    interval_seconds: float | None


def status_of(message: Presence) -> AgentStatus:
    """The status a presence message announces: a goodbye is offline (or asleep), anything else lost."""
    if message.status == "online":
        return AgentStatus.ONLINE
    if message.reason == "shutdown":
        return AgentStatus.OFFLINE
    return AgentStatus.ASLEEP if message.reason == "sleep" else AgentStatus.LOST


def _rows(conn: Connection, agent_ids: Iterable[str]) -> dict[str, Row[Any]]:
    ids = sorted(set(agent_ids))
    found: dict[str, Row[Any]] = {}
    for start in range(0, len(ids), 500):
        for row in conn.execute(select(agent).where(agent.c.agent_id.in_(ids[start : start + 500]))):
            found[row.agent_id] = row
    return found


def _facts(facts: AgentFacts | None) -> dict[str, Any]:
    if facts is None:
        return {}
    return {
        "interval_seconds": facts.interval_seconds,
        "version": facts.version,
        "host": facts.host,
        "os": facts.os,
    }


def apply(
    conn: Connection, messages: Sequence[tuple[Presence, int]], seen: dict[str, Seen]
) -> list[PresenceChange]:
    """Record presence messages (with their receive time) and accepted batches; return the changes."""
    if not messages and seen and _still_online(conn, seen):
        return []
    rows = _rows(conn, [m.agent_id for m, _ in messages] + list(seen))
    changes: list[PresenceChange] = []

    def change(
        agent_id: str,
        site: str,
        status: AgentStatus,
        prev: Row[Any] | None,
        values: dict[str, Any],
        facts: AgentFacts | None = None,
    ) -> None:
        if prev is None:
            conn.execute(agent.insert().values(agent_id=agent_id, site=site, status=status.value, **values))
            previous = None
        else:
            done = conn.execute(
                update(agent)
                .where(agent.c.agent_id == agent_id, agent.c.status == prev.status)
                .values(site=site, status=status.value, **values)
            )
            if done.rowcount == 0:  # another collector changed it first and reported it
                return
            previous = AgentStatus(prev.status)
        changes.append(
            PresenceChange(
                agent_id, site, status, previous, values["status_ns"], values["last_seen_ns"], facts
            )
        )
        rows[agent_id] = conn.execute(select(agent).where(agent.c.agent_id == agent_id)).one()

    for message, received_ns in messages:
        status = status_of(message)
        # Ordered by the collector's clock, never the PC's: a Last Will carries the time the
        # agent connected, before its birth; a PC whose clock was ahead and is set right, or
        # that is behind a "stale" the collector dated, would otherwise never count again.
        time_ns = received_ns
        row = rows.get(message.agent_id)
        if row is not None and time_ns < row.status_ns:
            continue  # received before what set the current status (another collector's, newer)
        last_seen = row.last_seen_ns if row is not None else 0
        if status is AgentStatus.ONLINE:
            last_seen = max(last_seen, received_ns)
        values = {"status_ns": time_ns, "last_seen_ns": last_seen, **_facts(message.facts)}
        if row is None or row.status != status.value:
            site = message.site or (row.site if row is not None else "")
            change(message.agent_id, site, status, row, values, message.facts)
        else:
            conn.execute(update(agent).where(agent.c.agent_id == message.agent_id).values(**values))

    bumps: list[dict[str, Any]] = []
    for agent_id, batch in seen.items():
        row = rows.get(agent_id)
        if row is None:
            values = {"status_ns": batch.received_ns, "last_seen_ns": batch.received_ns}
            change(agent_id, batch.site, AgentStatus.ONLINE, None, values)
        elif row.status != AgentStatus.ONLINE.value and batch.received_ns > row.status_ns:
            seen = max(batch.received_ns, row.last_seen_ns)
            values = {"status_ns": batch.received_ns, "last_seen_ns": seen}
            change(agent_id, batch.site or row.site, AgentStatus.ONLINE, row, values)
        elif batch.received_ns > row.last_seen_ns:
            bumps.append({"key": agent_id, "seen": batch.received_ns})
    if bumps:
        conn.execute(
            update(agent)
            .where(agent.c.agent_id == bindparam("key"), agent.c.last_seen_ns < bindparam("seen"))
            .values(last_seen_ns=bindparam("seen")),
            bumps,
        )
    return changes


def _still_online(conn: Connection, seen: dict[str, Seen]) -> bool:
    """Move last seen forward for the agents that sent batches; True if all of them were online.

    That is every flush but the few after a status change, and then nothing else changes:
    one statement instead of reading each agent's row first. Otherwise `apply` goes the
    long way (the bumps made here are the ones it would make).
    """
    if not conn.dialect.supports_sane_multi_rowcount:
        return False
    rows = [{"key": agent_id, "seen": batch.received_ns} for agent_id, batch in seen.items()]
    return execute_many(conn, _BUMP_ONLINE, rows) == len(seen)


_seen_ns = bindparam("seen", type_=BigInteger)
_BUMP_ONLINE: Final = (
    update(agent)
    .where(agent.c.agent_id == bindparam("key"), agent.c.status == AgentStatus.ONLINE.value)
    .values(last_seen_ns=case((agent.c.last_seen_ns < _seen_ns, _seen_ns), else_=agent.c.last_seen_ns))
)


def expire(
    conn: Connection, now_ns: int, stale_intervals: float, default_interval_seconds: float
) -> list[PresenceChange]:
    """Mark online agents with no batch for `stale_intervals` of their interval as stale.

    One statement for the whole fleet: a 10,000-agent check is one index scan in the
    database, not 10,000 round trips from Python.
    """
    interval = func.coalesce(func.nullif(agent.c.interval_seconds, 0), default_interval_seconds)
    expired = conn.execute(
        update(agent)
        .where(
            agent.c.status == AgentStatus.ONLINE.value,
            agent.c.last_seen_ns + interval * (stale_intervals * 1e9) < now_ns,
        )
        .values(status=AgentStatus.STALE.value, status_ns=now_ns)
        .returning(agent.c.agent_id, agent.c.site, agent.c.last_seen_ns)
    )
    return sorted(
        (
            PresenceChange(
                agent_id=row.agent_id,
                site=row.site,
                status=AgentStatus.STALE,
                previous=AgentStatus.ONLINE,
                time_ns=now_ns,
                last_seen_ns=row.last_seen_ns,
            )
            for row in expired
        ),
        key=lambda change: change.agent_id,
    )


_STATUSES = {status.value: status for status in AgentStatus}


def agents(conn: Connection) -> list[AgentRow]:
    """Every known agent and its status (read for /metrics every presence check: only what it shows)."""
    columns = (agent.c.agent_id, agent.c.site, agent.c.status, agent.c.last_seen_ns, agent.c.interval_seconds)
    return [
        AgentRow(agent_id, site, _STATUSES[status], last_seen_ns, interval)
        for agent_id, site, status, last_seen_ns, interval in conn.execute(
            select(*columns).order_by(agent.c.agent_id)
        )
    ]


class PresenceExporter(Collector):
    """`deskwatch_agent_up{agent_id,site}` and friends, from the snapshot `update()` last stored."""

    def __init__(self) -> None:
        self._agents: list[AgentRow] = []
        self._gaps: dict[str, int] = {}

    def update(self, rows: list[AgentRow], gaps: dict[str, int]) -> None:
        self._agents, self._gaps = rows, gaps

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows, gaps = self._agents, self._gaps
        up = GaugeMetricFamily(
            "deskwatch_agent_up",
            "1 if the agent is online, 0 if offline, lost or stale",
            labels=["agent_id", "site"],
        )
        status = GaugeMetricFamily(
            "deskwatch_agent_status",
            "Always 1; the status label says online, offline, lost or stale",
            labels=["agent_id", "site", "status"],
        )
        seen = GaugeMetricFamily(
            "deskwatch_agent_last_seen_timestamp_seconds",
            "When the collector last heard from the agent (batch or birth)",
            labels=["agent_id", "site"],
        )
        gap = GaugeMetricFamily(
            "deskwatch_agent_sequence_gaps",
            "Batches of the agent that never arrived (late arrivals subtracted)",
            labels=["agent_id", "site"],
        )
        totals = GaugeMetricFamily("deskwatch_agents", "Known agents by status", labels=["status"])
        counts = dict.fromkeys(AgentStatus, 0)
        for row in rows:
            labels = [row.agent_id, row.site]
            up.add_metric(labels, 1.0 if row.status is AgentStatus.ONLINE else 0.0)
            status.add_metric([*labels, row.status.value], 1.0)
            seen.add_metric(labels, row.last_seen_ns / 1e9)
            gap.add_metric(labels, float(gaps.get(row.agent_id, 0)))
            counts[row.status] += 1
        for key, value in counts.items():
            totals.add_metric([key.value], float(value))
        yield from (up, status, seen, gap, totals)
