"""The ticket store: incidents, their timelines, silences, tokens and the notification outbox.

Every write is one short transaction. Opening relies on the unique index over open
incidents (a second worker's insert fails and is dropped: the incident exists), and
every update checks and bumps `version`, so a change that another worker already made
is skipped rather than made twice. Notices are queued in the same transaction as the
change they announce (an outbox), so a crash never loses or invents a notification.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from agent.protocol import Severity
from collector.incidents.reconcile import (
    Action,
    Change,
    Event,
    EventKind,
    IncidentStatus,
    IncidentView,
    Notice,
)
from collector.incidents.schema import (
    api_tokens,
    external_tickets,
    incident_events,
    incidents,
    notifications,
    silences,
)
from collector.incidents.silences import Silence, SilenceKind
from collector.rules.condition import Category, Condition
from collector.state import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident as the API and the notifiers show it."""

    id: int
    key: str
    rule: str
    condition: str
    category: Category
    severity: Severity
    scope: Scope
    subject: str
    site: str
    agent_id: str
    device: str
    summary: str
    status: IncidentStatus
    opened_ns: int
    since_ns: int
    updated_ns: int
    acknowledged_ns: int | None
    acknowledged_by: str
    assignee: str
    resolved_ns: int | None
    resolved_by: str
    flapping: bool
    suppressed_by: str
    silenced: bool
    affected: tuple[str, ...]
    reopen_count: int
    version: int


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    id: int
    incident_id: int
    time_ns: int
    kind: EventKind
    actor: str
    text: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A queued notice for one connector."""

    id: int
    incident_id: int
    connector: str
    notice: Notice
    idempotency_key: str
    payload: str
    attempts: int


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: Sequence[IncidentStatus] = ()
    site: str = ""
    device: str = ""
    agent_id: str = ""
    category: str = ""
    condition: str = ""
    severity: str = ""
    since_ns: int = 0
    limit: int = 50
    offset: int = 0
    # None: all; False: the queue (neither silenced nor explained by another); True: only those
    quiet: bool | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is known about an API token: everything but the token itself."""

    id: int
    name: str
    role: str
    created_ns: int
    revoked: bool


class IncidentNotFound(LookupError):
    pass


class Conflict(RuntimeError):
    """The incident changed state in a way that makes the request impossible (e.g. already resolved)."""


Router = Callable[[Incident], Sequence[str]]


def _no_routes(_: Incident) -> Sequence[str]:
    return ()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IncidentStore:
    """Incidents and everything attached to them, in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, router: Router = _no_routes) -> None:
        self.engine = engine
        self.router = router

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

    def active_silences(self, as_of: int) -> list[Silence]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(silences).where(silences.c.ends_ns > as_of, silences.c.starts_ns <= as_of)
            )
            return [_silence(r._mapping) for r in rows]

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
                _event(conn, incident_id, as_of, event.kind, "", event.text)
            incident = _get(conn, incident_id)
            if change.notice is not None:
                self._queue(conn, incident, change.notice, as_of)
            return incident

    def _queue(self, conn: sa.Connection, incident: Incident, notice: Notice, as_of: int) -> None:
        if notice is Notice.OPENED:
            conn.execute(incidents.update().where(incidents.c.id == incident.id).values(notified=True))
        payload = json.dumps(incident_document(incident, notice))
        for connector in self.router(incident):
            conn.execute(
                notifications.insert().values(
                    incident_id=incident.id,
                    connector=connector,
                    notice=notice,
                    idempotency_key=f"deskwatch-{incident.id}-{incident.version}-{notice}-{connector}",
                    payload=payload,
                    created_ns=as_of,
                    next_attempt_ns=as_of,
                )
            )

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
            _event(conn, incident_id, now_ns, kind, actor, text)
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
            return [
                TimelineEvent(r.id, r.incident_id, r.time_ns, EventKind(r.kind), r.actor, r.text)
                for r in rows
            ]

    # -- silences ------------------------------------------------------------------------

    def add_silence(
        self,
        kind: SilenceKind,
        starts_ns: int,
        ends_ns: int,
        *,
        site: str = "",
        device: str = "",
        agent_id: str = "",
        condition: str = "",
        reason: str = "",
        created_by: str = "",
        now_ns: int = 0,
    ) -> Silence:
        with self.engine.begin() as conn:
            silence_id = _new_id(
                conn.execute(
                    silences.insert().values(
                        kind=kind,
                        site=site,
                        device=device,
                        agent_id=agent_id,
                        condition=condition,
                        starts_ns=starts_ns,
                        ends_ns=ends_ns,
                        reason=reason,
                        created_by=created_by,
                        created_ns=now_ns or starts_ns,
                    )
                )
            )
            row = conn.execute(sa.select(silences).where(silences.c.id == silence_id)).one()
            return _silence(row._mapping)

    def list_silences(self, as_of: int) -> list[Silence]:
        """Silences that have not ended yet."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(silences).where(silences.c.ends_ns > as_of).order_by(silences.c.id))
            return [_silence(r._mapping) for r in rows]

    def remove_silence(self, silence_id: int) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(silences.delete().where(silences.c.id == silence_id)).rowcount == 1

    # -- tokens --------------------------------------------------------------------------

    def create_token(self, role: str, name: str, now_ns: int) -> str:
        """A new random token; only its SHA-256 is stored, so this is the one time it is seen."""
        token = "dw_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    name=name, role=role, token_sha256=hash_token(token), created_ns=now_ns
                )
            )
        return token

    def tokens(self) -> list[TokenInfo]:
        """Every token ever created, revoked ones included, oldest first (never the token itself)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.id))
            return [TokenInfo(r.id, r.name, r.role, r.created_ns, bool(r.revoked)) for r in rows]

    def revoke_token(self, token_id: int) -> bool:
        """Refuse the token from now on; False if there is no such token or it was revoked already."""
        with self.engine.begin() as conn:
            done = conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked == sa.false())
                .values(revoked=True)
            )
            return done.rowcount == 1

    def token_identity(self, token: str) -> tuple[str, str] | None:
        """(role, name) of a valid token, None for an unknown or revoked one."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(api_tokens.c.role, api_tokens.c.name).where(
                    api_tokens.c.token_sha256 == hash_token(token), api_tokens.c.revoked == sa.false()
                )
            ).first()
            return None if row is None else (str(row.role), str(row.name))

    # -- outbox --------------------------------------------------------------------------

    def due_notices(self, now_ns: int, limit: int = 100, connector: str | None = None) -> list[Outgoing]:
        """Undelivered notices whose time has come, oldest first, one per incident and connector.

        A later notice waits for the earlier ones of the same ticket, so the receiver
        sees opened before updated before resolved, and the ticket id from the first;
        it waits for nothing else. The head of each ticket is found in the database, so
        however many notices wait behind a receiver that is down, every other ticket's
        head is still found. `connector`: only that connector's notices.
        """
        pending = sa.and_(notifications.c.delivered_ns.is_(None), notifications.c.gave_up == sa.false())
        if connector is not None:
            pending = sa.and_(pending, notifications.c.connector == connector)
        heads = (
            sa.select(sa.func.min(notifications.c.id))
            .where(pending)
            .group_by(notifications.c.incident_id, notifications.c.connector)
        )
        query = (
            sa.select(notifications)
            .where(notifications.c.id.in_(heads), notifications.c.next_attempt_ns <= now_ns)
            .order_by(notifications.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                Outgoing(
                    r.id,
                    r.incident_id,
                    r.connector,
                    Notice(r.notice),
                    r.idempotency_key,
                    r.payload,
                    r.attempts,
                )
                for r in conn.execute(query)
            ]

    def delivered(self, notice: Outgoing, now_ns: int, external_id: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                notifications.update()
                .where(notifications.c.id == notice.id)
                .values(delivered_ns=now_ns, attempts=notifications.c.attempts + 1, last_error="")
            )
            if external_id:
                exists = conn.execute(
                    sa.select(external_tickets.c.external_id).where(
                        external_tickets.c.incident_id == notice.incident_id,
                        external_tickets.c.connector == notice.connector,
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        external_tickets.insert().values(
                            incident_id=notice.incident_id,
                            connector=notice.connector,
                            external_id=external_id,
                        )
                    )
            _event(
                conn,
                notice.incident_id,
                now_ns,
                EventKind.NOTIFIED,
                notice.connector,
                f"{notice.notice} delivered" + (f" (ticket {external_id})" if external_id else ""),
            )

    def failed(self, notice: Outgoing, now_ns: int, error: str, retry_at_ns: int | None) -> None:
        """Record a failed attempt; `retry_at_ns` None means give up."""
        with self.engine.begin() as conn:
            conn.execute(
                notifications.update()
                .where(notifications.c.id == notice.id)
                .values(
                    attempts=notifications.c.attempts + 1,
                    last_error=error[:1000],
                    next_attempt_ns=retry_at_ns or now_ns,
                    gave_up=retry_at_ns is None,
                )
            )
            if retry_at_ns is None or notice.attempts == 0:
                _event(
                    conn,
                    notice.incident_id,
                    now_ns,
                    EventKind.NOTIFY_FAILED,
                    notice.connector,
                    f"{notice.notice}: {error}" + ("" if retry_at_ns else " (gave up)"),
                )

    def external_id(self, incident_id: int, connector: str) -> str:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(external_tickets.c.external_id).where(
                    external_tickets.c.incident_id == incident_id, external_tickets.c.connector == connector
                )
            ).scalar_one_or_none()
            return value or ""


def incident_document(incident: Incident, notice: Notice | None = None) -> dict[str, Any]:
    """The JSON shape of an incident, shared by the API and the webhook."""
    doc: dict[str, Any] = {
        "id": incident.id,
        "key": incident.key,
        "rule": incident.rule,
        "condition": incident.condition,
        "category": str(incident.category),
        "severity": str(incident.severity),
        "scope": str(incident.scope),
        "subject": incident.subject,
        "site": incident.site,
        "agent_id": incident.agent_id,
        "device": incident.device,
        "summary": incident.summary,
        "status": str(incident.status),
        "opened_ns": incident.opened_ns,
        "since_ns": incident.since_ns,
        "updated_ns": incident.updated_ns,
        "acknowledged_ns": incident.acknowledged_ns,
        "acknowledged_by": incident.acknowledged_by,
        "assignee": incident.assignee,
        "resolved_ns": incident.resolved_ns,
        "resolved_by": incident.resolved_by,
        "flapping": incident.flapping,
        "suppressed_by": incident.suppressed_by,
        "silenced": incident.silenced,
        "affected": list(incident.affected),
        "reopen_count": incident.reopen_count,
        "version": incident.version,
    }
    if notice is not None:
        doc = {"event": str(notice), "incident": doc}
    return doc


def _insert(conn: sa.Connection, c: Condition, change: Change, as_of: int) -> int:
    return _new_id(
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


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


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


def _event(
    conn: sa.Connection, incident_id: int, time_ns: int, kind: EventKind, actor: str, text: str
) -> None:
    conn.execute(
        incident_events.insert().values(
            incident_id=incident_id, time_ns=time_ns, kind=kind, actor=actor, text=text[:4000]
        )
    )


def _get(conn: sa.Connection, incident_id: int) -> Incident:
    row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).one_or_none()
    if row is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    return _incident(row._mapping)


def _incident(r: Any) -> Incident:
    return Incident(
        id=r["id"],
        key=r["dedup_key"],
        rule=r["rule"],
        condition=r["condition"],
        category=Category(r["category"]),
        severity=Severity(r["severity"]),
        scope=Scope(r["scope"]),
        subject=r["subject"],
        site=r["site"],
        agent_id=r["agent_id"],
        device=r["device"],
        summary=r["summary"],
        status=IncidentStatus(r["status"]),
        opened_ns=r["opened_ns"],
        since_ns=r["since_ns"],
        updated_ns=r["updated_ns"],
        acknowledged_ns=r["acknowledged_ns"],
        acknowledged_by=r["acknowledged_by"],
        assignee=r["assignee"],
        resolved_ns=r["resolved_ns"],
        resolved_by=r["resolved_by"],
        flapping=bool(r["flapping"]),
        suppressed_by=r["suppressed_by"],
        silenced=bool(r["silenced"]),
        affected=tuple(json.loads(r["affected"])),
        reopen_count=r["reopen_count"],
        version=r["version"],
    )


def _view(r: Any) -> IncidentView:
    return IncidentView(
        id=r["id"],
        key=r["dedup_key"],
        status=IncidentStatus(r["status"]),
        scope=Scope(r["scope"]),
        subject=r["subject"],
        severity=Severity(r["severity"]),
        affected=tuple(json.loads(r["affected"])),
        suppressed_by=r["suppressed_by"],
        silenced=bool(r["silenced"]),
        flapping=bool(r["flapping"]),
        notified=bool(r["notified"]),
        clear_cycles=r["clear_cycles"],
        clear_tick_ns=r["clear_tick_ns"],
        flips=tuple(json.loads(r["flips"])),
        resolved_ns=r["resolved_ns"] or 0,
        resolved_by=r["resolved_by"],
    )


def _silence(r: Any) -> Silence:
    return Silence(
        id=r["id"],
        kind=SilenceKind(r["kind"]),
        starts_ns=r["starts_ns"],
        ends_ns=r["ends_ns"],
        site=r["site"],
        device=r["device"],
        agent_id=r["agent_id"],
        condition=r["condition"],
        reason=r["reason"],
        created_by=r["created_by"],
    )


__all__ = ["Conflict", "Event", "Incident", "IncidentFilter", "IncidentNotFound", "IncidentStore", "Outgoing"]


@dataclass(frozen=True, slots=True)
class Stats:
    """Aggregates for incident metrics: open counts by (category, severity, site), totals by category."""

    open: dict[tuple[str, str, str], int]
    opened_total: dict[str, int]
    resolved_total: dict[str, int]
    resolve_seconds_sum: dict[str, float]


def stats(store: IncidentStore) -> Stats:
    """Read the aggregates behind the incident metrics in three grouped queries."""
    c = incidents.c
    with store.engine.connect() as conn:
        open_rows = conn.execute(
            sa.select(c.category, c.severity, c.site, sa.func.count())
            .where(c.status != IncidentStatus.RESOLVED)
            .group_by(c.category, c.severity, c.site)
        )
        # Totals count timeline events, not rows, so they only ever grow: a reopened
        # incident adds an opening and later a resolution instead of moving a row between
        # states (a falling "total" would read as a counter reset to PromQL's increase()).
        e, start = incident_events.c, incident_events.alias("start")
        opening = (EventKind.OPENED.value, EventKind.REOPENED.value)
        opened = conn.execute(
            sa.select(c.category, sa.func.count())
            .select_from(incident_events.join(incidents, c.id == e.incident_id))
            .where(e.kind.in_(opening))
            .group_by(c.category)
        )
        began = (
            sa.select(sa.func.max(start.c.time_ns))
            .where(
                start.c.incident_id == e.incident_id, start.c.kind.in_(opening), start.c.time_ns <= e.time_ns
            )
            .scalar_subquery()
        )
        resolved = conn.execute(
            sa.select(c.category, sa.func.count(), sa.func.sum(e.time_ns - began))
            .select_from(incident_events.join(incidents, c.id == e.incident_id))
            .where(e.kind == EventKind.RESOLVED.value)
            .group_by(c.category)
        )
        opened_rows = list(opened)
        resolved_rows = list(resolved)
        return Stats(
            open={(r[0], r[1], r[2]): int(r[3]) for r in open_rows},
            opened_total={r[0]: int(r[1]) for r in opened_rows},
            resolved_total={r[0]: int(r[1]) for r in resolved_rows},
            resolve_seconds_sum={r[0]: float(r[2] or 0) / 1e9 for r in resolved_rows},
        )
