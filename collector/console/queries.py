"""The console's own read queries: the queue in its order with its counts, and search suggestions.

The incident store lists newest first; the helpdesk works most severe first, and within
a severity the one waiting longest first, with counts for the filters. Suggestions are
prefix matches on the lookup index (user, host, IP, MAC, serial, agent id), answered
from its value index with a range scan, so they stay quick at 10,000 PCs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from collector.incidents.reconcile import IncidentStatus
from collector.incidents.schema import incidents
from collector.inventory.schema import inventory_index
from collector.inventory.store import IndexKey, normalize
from collector.presence import agent

SEVERITIES = ("critical", "warning", "info")
OPEN = (IncidentStatus.OPEN.value, IncidentStatus.ACKNOWLEDGED.value)


@dataclass(frozen=True, slots=True)
class QueueFilter:
    site: str = ""
    category: str = ""
    severity: str = ""
    status: str = ""  # "" both open and acknowledged, else one of them
    assignee: str = ""
    quiet: bool = False  # also the silenced and those explained by another incident
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class QueueRow:
    """What a queue row shows of a ticket."""

    id: int
    severity: str
    status: str
    scope: str
    site: str
    agent_id: str
    device: str
    summary: str
    opened_ns: int
    assignee: str
    silenced: bool
    suppressed_by: str
    affected: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]  # in queue order
    total: int
    by_severity: dict[str, int]
    by_status: dict[str, int]
    quiet_hidden: int  # open ones the filter hides because they are silenced or explained
    sites: list[str]
    categories: list[str]
    assignees: list[str]


def _conditions(f: QueueFilter, *, with_quiet: bool | None = None) -> list[sa.ColumnElement[bool]]:
    c = incidents.c
    conds: list[sa.ColumnElement[bool]] = [c.status.in_([f.status] if f.status in OPEN else OPEN)]
    for column, value in (("site", f.site), ("category", f.category), ("severity", f.severity)):
        if value:
            conds.append(c[column] == value)
    if f.assignee:
        conds.append(c.assignee == f.assignee)
    quiet = f.quiet if with_quiet is None else with_quiet
    if not quiet:
        conds.append(sa.not_(_QUIET))
    return conds


_QUIET = sa.or_(incidents.c.silenced == sa.true(), incidents.c.suppressed_by != "")
_ROW = (
    incidents.c.id,
    incidents.c.severity,
    incidents.c.status,
    incidents.c.scope,
    incidents.c.site,
    incidents.c.agent_id,
    incidents.c.device,
    incidents.c.summary,
    incidents.c.opened_ns,
    incidents.c.assignee,
    incidents.c.silenced,
    incidents.c.suppressed_by,
    incidents.c.affected,
)


def queue(engine: Engine, f: QueueFilter) -> QueuePage:
    """One page of the queue, most severe first, then the one waiting longest; three queries."""
    c = incidents.c
    rank = sa.case({s: i for i, s in enumerate(SEVERITIES)}, value=c.severity, else_=len(SEVERITIES))
    with engine.connect() as conn:
        rows = [
            QueueRow(
                r.id,
                r.severity,
                r.status,
                r.scope,
                r.site,
                r.agent_id,
                r.device,
                r.summary,
                r.opened_ns,
                r.assignee,
                bool(r.silenced),
                r.suppressed_by,
                tuple(json.loads(r.affected)),
            )
            for r in conn.execute(
                sa.select(*_ROW)
                .where(*_conditions(f))
                .order_by(rank, c.opened_ns, c.id)
                .limit(f.limit)
                .offset(f.offset)
            )
        ]
        # the counts, quiet or not, in one pass over the open tickets the other filters keep
        quiet = sa.case((_QUIET, 1), else_=0).label("quiet")
        counts = conn.execute(
            sa.select(c.severity, c.status, quiet, sa.func.count())
            .where(*_conditions(f, with_quiet=True))
            .group_by(c.severity, c.status, quiet)
        ).all()
        facets = conn.execute(
            sa.select(c.site, c.category, c.assignee).where(c.status.in_(OPEN)).distinct()
        ).all()
    by_severity: dict[str, int] = {}
    by_status: dict[str, int] = {}
    hidden = 0
    for severity, status, is_quiet, count in counts:
        if is_quiet and not f.quiet:
            hidden += int(count)
            continue
        by_severity[str(severity)] = by_severity.get(str(severity), 0) + int(count)
        by_status[str(status)] = by_status.get(str(status), 0) + int(count)
    return QueuePage(
        rows,
        sum(by_severity.values()),
        by_severity,
        by_status,
        hidden,
        sorted({r.site for r in facets if r.site}),
        sorted({r.category for r in facets if r.category}),
        sorted({r.assignee for r in facets if r.assignee}),
    )


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One PC a partial query may mean: what matched, what tells it apart, the selector that picks it."""

    agent_id: str
    matched: str  # "user maria.k"
    host: str
    users: list[str]
    addresses: list[str]

    @property
    def selector(self) -> str:
        return f"agent:{self.agent_id}"


def _prefix(column: sa.ColumnElement[str], value: str) -> sa.ColumnElement[bool]:
    # a range, not LIKE: it uses the column's b-tree index on SQLite and PostgreSQL alike
    return sa.and_(column >= value, column < value + "\U0010ffff")


def suggest(engine: Engine, query: str, limit: int = 8) -> list[Suggestion]:
    """PCs whose id, host, user, IP, MAC or serial starts with `query`, exact matches first."""
    value = normalize(query)
    if not value:
        return []
    ix = inventory_index.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ix.agent_id, ix.key, ix.value)
            .where(_prefix(ix.value, value))
            .order_by(ix.value != value, sa.func.length(ix.value), ix.value)
            .limit(limit * 4)
        ).all()
        matched: dict[str, str] = {}
        for r in rows:
            matched.setdefault(r.agent_id, f"{r.key} {r.value}")
        if len(matched) < limit:  # agents that never sent an inventory: by id as they report it
            for r in conn.execute(
                sa.select(agent.c.agent_id).where(_prefix(agent.c.agent_id, query.strip())).limit(limit)
            ):
                matched.setdefault(r.agent_id, f"agent {r.agent_id}")
        chosen = list(matched)[:limit]
        details: dict[str, dict[str, list[str]]] = {a: {} for a in chosen}
        if chosen:
            for r in conn.execute(
                sa.select(ix.agent_id, ix.key, ix.value).where(
                    ix.agent_id.in_(chosen),
                    ix.key.in_([IndexKey.HOST.value, IndexKey.USER.value, IndexKey.IP.value]),
                )
            ):
                details[r.agent_id].setdefault(r.key, []).append(r.value)
    found = []
    for agent_id in chosen:
        d = details[agent_id]
        hosts = sorted(d.get(IndexKey.HOST.value, []), key=len, reverse=True)
        found.append(
            Suggestion(
                agent_id,
                matched[agent_id],
                hosts[0] if hosts else "",
                sorted(d.get(IndexKey.USER.value, [])),
                sorted(d.get(IndexKey.IP.value, []))[:3],
            )
        )
    return found


def assignees(engine: Engine, names: Sequence[str]) -> list[str]:
    """Who tickets can be assigned to: the console's users and anyone already assigned."""
    with engine.connect() as conn:
        taken = conn.execute(
            sa.select(incidents.c.assignee).where(incidents.c.assignee != "").distinct().limit(200)
        )
        return sorted(set(names) | {str(r[0]) for r in taken})
