"""The incident store: incidents and their timelines, in SQLite or PostgreSQL.

Every write is one short transaction. Opening relies on the unique index over open
incidents (a second worker's insert fails and is dropped: the incident exists), and
every update checks and bumps `version`, so a change that another worker already made
is skipped rather than made twice. Notices are queued in the same transaction as the
change they announce (collector.incidents.outbox), so a crash never loses or invents a
notification. Silences, the outbox and API tokens have stores of their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from collector.incidents.model import Conflict, Incident, IncidentFilter, IncidentNotFound, TimelineEvent
from collector.incidents.outbox import Outbox
from collector.incidents.reconcile import Action, Change, EventKind, IncidentStatus, IncidentView, Notice
from collector.incidents.schema import append_event, incident_events, incidents
from collector.rows import inserted_id, reader
from collector.rules.condition import Condition

log = logging.getLogger(__name__)


class IncidentStore:
    """Incidents and everything attached to them, in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, outbox: Outbox | None = None) -> None:
        self.engine = engine
        self.outbox = outbox if outbox is not None else Outbox(engine)

    # -- what the engine reads -----------------------------------------------------------

    def open_views(self) -> list[IncidentView]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(incidents).where(incidents.c.status != IncidentStatus.RESOLVED))
            return [_view(r._mapping) for r in rows]

    def resolved_since(self, since_ns: int) -> list[IncidentView]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(incidents).where(
                    incidents.c.status == IncidentStatus.RESOLVED, incidents.c.resolved_ns >= since_ns
                )
            )
            return [_view(r._mapping) for r in rows]

    # -- what the engine writes ----------------------------------------------------------

    def apply(self, changes: Sequence[Change], as_of: int) -> list[Incident]:
        """Make each change in its own transaction; return the incidents actually changed."""
        changed = []
        for change in changes:
            try:
                incident = self._apply_one(change, as_of)
            except IntegrityError:
                # another worker opened (or reopened) this key first: the incident exists, once
                log.debug("incident %s already open elsewhere", change.key)
                continue
            if incident is not None:
                changed.append(incident)
        return changed

    def _apply_one(self, change: Change, as_of: int) -> Incident | None:
        with self.engine.begin() as conn:
            if change.action is Action.OPEN:
                assert change.condition is not None
                incident_id = _insert(conn, change.condition, change, as_of)
            else:
                assert change.incident_id is not None
                incident_id = change.incident_id
                row = conn.execute(
                    sa.select(incidents.c.version, incidents.c.status).where(incidents.c.id == incident_id)
                ).one_or_none()
                if row is None:
                    return None
                wanted = IncidentStatus.RESOLVED if change.action is Action.REOPEN else None
                if wanted is not None and row.status != wanted:
                    return None  # someone else reopened it
                if change.action is not Action.REOPEN and row.status == IncidentStatus.RESOLVED:
                    return None  # someone else resolved it
                values = _update_values(change, as_of)
                result = conn.execute(
                    incidents.update()
                    .where(incidents.c.id == incident_id, incidents.c.version == row.version)
                    .values(version=incidents.c.version + 1, **values)
                )
                if result.rowcount != 1:
                    return None
            for event in change.events:
                append_event(conn, incident_id, as_of, event.kind, "", event.text)
            incident = _get(conn, incident_id)
            if change.notice is not None:
                self._queue(conn, incident, change.notice, as_of)
            return incident

    def _queue(self, conn: sa.Connection, incident: Incident, notice: Notice, as_of: int) -> None:
        if notice is Notice.OPENED:
            conn.execute(incidents.update().where(incidents.c.id == incident.id).values(notified=True))
        self.outbox.enqueue(conn, incident, notice, as_of)

    # -- what people do through the API --------------------------------------------------

    def acknowledge(self, incident_id: int, actor: str, now_ns: int) -> Incident:
        return self._human(
            incident_id,
            now_ns,
            EventKind.ACKNOWLEDGED,
            actor,
            f"acknowledged by {actor}",
            dict(status=IncidentStatus.ACKNOWLEDGED, acknowledged_ns=now_ns, acknowledged_by=actor),
            Notice.UPDATED,
        )

    def assign(self, incident_id: int, assignee: str, actor: str, now_ns: int) -> Incident:
        return self._human(
            incident_id,
            now_ns,
            EventKind.ASSIGNED,
            actor,
            f"assigned to {assignee}",
            dict(assignee=assignee),
            Notice.UPDATED,
        )

    def comment(self, incident_id: int, actor: str, text: str, now_ns: int) -> Incident:
        return self._human(incident_id, now_ns, EventKind.COMMENT, actor, text, {}, None, allow_resolved=True)

    def resolve(self, incident_id: int, actor: str, text: str, now_ns: int) -> Incident:
        return self._human(
            incident_id,
            now_ns,
            EventKind.RESOLVED,
            actor,
            text or f"resolved by {actor}",
            dict(status=IncidentStatus.RESOLVED, resolved_ns=now_ns, resolved_by=actor),
            Notice.RESOLVED,
        )

    def _human(
        self,
        incident_id: int,
        now_ns: int,
        kind: EventKind,
        actor: str,
        text: str,
        values: dict[str, Any],
        notice: Notice | None,
        allow_resolved: bool = False,
    ) -> Incident:
        with self.engine.begin() as conn:
            current = _get(conn, incident_id)
            if current.status is IncidentStatus.RESOLVED and not allow_resolved:
                raise Conflict(f"incident {incident_id} is already resolved")
            conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id)
                .values(version=incidents.c.version + 1, updated_ns=now_ns, **values)
            )
            append_event(conn, incident_id, now_ns, kind, actor, text)
            incident = _get(conn, incident_id)
            notified = conn.execute(
                sa.select(incidents.c.notified).where(incidents.c.id == incident_id)
            ).scalar_one()
            if notice is not None and notified:
                self._queue(conn, incident, notice, now_ns)
            return incident

    # -- reading for the API -------------------------------------------------------------

    def get(self, incident_id: int) -> Incident:
        with self.engine.connect() as conn:
            return _get(conn, incident_id)

    def list_incidents(self, f: IncidentFilter) -> tuple[list[Incident], int]:
        """One page of incidents, newest first, and how many match in all."""
        query = sa.select(incidents)
        conds: list[sa.ColumnElement[bool]] = []
        if f.status:
            conds.append(incidents.c.status.in_([str(s) for s in f.status]))
        for column, value in (
            ("site", f.site),
            ("device", f.device),
            ("agent_id", f.agent_id),
            ("category", f.category),
            ("condition", f.condition),
            ("severity", f.severity),
        ):
            if value:
                conds.append(incidents.c[column] == value)
        if f.since_ns:
            conds.append(incidents.c.opened_ns >= f.since_ns)
        if f.quiet is not None:
            quiet = sa.or_(incidents.c.silenced.is_(True), incidents.c.suppressed_by != "")
            conds.append(quiet if f.quiet else sa.not_(quiet))
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(incidents).where(*conds)).scalar_one()
            rows = conn.execute(
                query.where(*conds)
                .order_by(incidents.c.opened_ns.desc(), incidents.c.id.desc())
                .limit(f.limit)
                .offset(f.offset)
            )
            return [_incident(r._mapping) for r in rows], int(total)

    def all_since(self, since_ns: int) -> list[Incident]:
        """Every incident opened since `since_ns` or still open, for reports and metrics."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(incidents).where(
                    sa.or_(incidents.c.opened_ns >= since_ns, incidents.c.status != IncidentStatus.RESOLVED)
                )
            )
            return [_incident(r._mapping) for r in rows]

    def timeline(self, incident_id: int) -> list[TimelineEvent]:
        with self.engine.connect() as conn:
            _get(conn, incident_id)
            rows = conn.execute(
                sa.select(incident_events)
                .where(incident_events.c.incident_id == incident_id)
                .order_by(incident_events.c.id)
            )
            return [_timeline_event(r._mapping) for r in rows]


def _insert(conn: sa.Connection, c: Condition, change: Change, as_of: int) -> int:
    return inserted_id(
        conn.execute(
            incidents.insert().values(
                dedup_key=c.key,
                rule=c.rule,
                condition=c.condition,
                category=c.category,
                severity=c.severity,
                scope=c.scope,
                subject=c.subject,
                site=c.site,
                agent_id=c.agent_id,
                device=c.device,
                summary=c.summary[:1000],
                status=IncidentStatus.OPEN,
                opened_ns=as_of,
                since_ns=c.since_ns,
                updated_ns=as_of,
                clear_cycles=0,
                flips="[]",
                flapping=False,
                suppressed_by=c.suppressed_by,
                silenced=change.silenced,
                notified=False,
                affected=json.dumps(list(c.affected)),
                tags=json.dumps(dict(c.tags)),
                reopen_count=0,
                version=1,
            )
        )
    )


def _update_values(change: Change, as_of: int) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        clear_cycles=change.clear_cycles,
        clear_tick_ns=as_of if change.action in (Action.CLEARING, Action.RESOLVE) else 0,
        flips=json.dumps(list(change.flips)),
        flapping=change.flapping,
        suppressed_by=change.suppressed_by,
        silenced=change.silenced,
    )
    if change.events:
        values["updated_ns"] = as_of
    c = change.condition
    if c is not None:
        values.update(severity=c.severity, summary=c.summary[:1000], affected=json.dumps(list(c.affected)))
    if change.action is Action.REOPEN:
        values.update(
            status=IncidentStatus.OPEN,
            resolved_ns=None,
            resolved_by="",
            acknowledged_ns=None,
            acknowledged_by="",
            reopen_count=incidents.c.reopen_count + 1,
            updated_ns=as_of,
            notified=False,
        )  # set again when the "opened" notice is queued
    elif change.action is Action.RESOLVE:
        values.update(status=IncidentStatus.RESOLVED, resolved_ns=as_of, resolved_by="auto", updated_ns=as_of)
    return values


def _get(conn: sa.Connection, incident_id: int) -> Incident:
    row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).one_or_none()
    if row is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    return _incident(row._mapping)


_incident = reader(Incident, columns={"key": "dedup_key"})
_view = reader(IncidentView, columns={"key": "dedup_key"})
_timeline_event = reader(TimelineEvent)
