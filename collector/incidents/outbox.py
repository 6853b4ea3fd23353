"""The notification outbox: notices waiting for their connector, and what became of them.

A notice is queued (`enqueue`) in the same transaction as the incident change it
announces, so a crash never loses or invents one; the notifier (collector.notify) takes
the due ones, delivers them and records the result here. Each attempt's outcome also
goes on the incident's timeline, and a receiving ticket system's own id is kept so
later notices reach the same ticket.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from collector.incidents.model import Incident, Router, incident_document
from collector.incidents.reconcile import EventKind, Notice
from collector.incidents.schema import append_event, external_tickets, notifications
from collector.rows import reader


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


def _no_routes(_: Incident) -> Sequence[str]:
    return ()


class Outbox:
    """The notices of every incident, in the incident store's database."""

    def __init__(self, engine: Engine, router: Router = _no_routes) -> None:
        self.engine = engine
        self.router = router

    def enqueue(self, conn: sa.Connection, incident: Incident, notice: Notice, as_of: int) -> None:
        """Queue `notice` of `incident` for each connector that hears of it, in `conn`'s transaction."""
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
            return [_outgoing(r._mapping) for r in conn.execute(query)]

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
            append_event(
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
                append_event(
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


_outgoing = reader(Outgoing)
