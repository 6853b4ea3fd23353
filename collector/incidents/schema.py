"""The incident store's tables (SQLAlchemy Core); the migration in versions/ creates the same.

One row per incident; `uq_incidents_open_key` is a unique index over `dedup_key`
restricted to rows that are not resolved, so whichever worker inserts second gets an
IntegrityError instead of a duplicate. `version` is bumped by every update and checked
by it (optimistic locking): two workers applying the same change update once.
All times are integer nanoseconds since the epoch, like the wire protocol.
"""

from __future__ import annotations

import sqlalchemy as sa

from collector.incidents.reconcile import EventKind

metadata = sa.MetaData()

NOT_RESOLVED = sa.text("status != 'resolved'")

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dedup_key", sa.String(512), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("condition", sa.String(64), nullable=False),
    sa.Column("category", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(256), nullable=False),
    sa.Column("site", sa.String(64), nullable=False, server_default=""),
    sa.Column("agent_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("device", sa.String(256), nullable=False, server_default=""),
    sa.Column("summary", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("opened_ns", sa.BigInteger, nullable=False),
    sa.Column("since_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("acknowledged_ns", sa.BigInteger),
    sa.Column("acknowledged_by", sa.String(64), nullable=False, server_default=""),
    sa.Column("assignee", sa.String(64), nullable=False, server_default=""),
    sa.Column("resolved_ns", sa.BigInteger),
    sa.Column("resolved_by", sa.String(64), nullable=False, server_default=""),
    sa.Column("clear_cycles", sa.Integer, nullable=False, server_default="0"),
    sa.Column("clear_tick_ns", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("flips", sa.Text, nullable=False, server_default="[]"),  # JSON list of ns
    sa.Column("flapping", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("suppressed_by", sa.String(512), nullable=False, server_default=""),
    sa.Column("silenced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("notified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("affected", sa.Text, nullable=False, server_default="[]"),  # JSON list
    sa.Column("tags", sa.Text, nullable=False, server_default="{}"),  # JSON object
    sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Index(
        "uq_incidents_open_key",
        "dedup_key",
        unique=True,
        sqlite_where=NOT_RESOLVED,
        postgresql_where=NOT_RESOLVED,
    ),
    sa.Index("ix_incidents_status_opened", "status", "opened_ns"),
    sa.Index("ix_incidents_key", "dedup_key", "resolved_ns"),
)

incident_events = sa.Table(
    "incident_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    sa.Column("time_ns", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_incident_events_incident", "incident_id", "id"),
)

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("site", sa.String(64), nullable=False, server_default=""),
    sa.Column("device", sa.String(256), nullable=False, server_default=""),
    sa.Column("agent_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("condition", sa.String(64), nullable=False, server_default=""),
    sa.Column("starts_ns", sa.BigInteger, nullable=False),
    sa.Column("ends_ns", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False, server_default=""),
    sa.Column("created_by", sa.String(64), nullable=False, server_default=""),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    # a removed silence stays, with who removed it (migration incidents_0002)
    sa.Column("removed_by", sa.String(64), nullable=False, server_default=""),
    sa.Column("removed_ns", sa.BigInteger, nullable=True),
    sa.Index("ix_silences_ends", "ends_ns"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, server_default=""),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
)

# The outbox: a notice is written in the same transaction as the incident change, and the
# notifier delivers it later, retrying until the receiver takes it.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    sa.Column("connector", sa.String(64), nullable=False),
    sa.Column("notice", sa.String(16), nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_ns", sa.BigInteger, nullable=False),
    sa.Column("delivered_ns", sa.BigInteger),
    sa.Column("gave_up", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_error", sa.String(1000), nullable=False, server_default=""),
    sa.Index("ix_notifications_due", "delivered_ns", "next_attempt_ns"),
)

# The receiving system's own ticket id, kept so updates and the resolve reach the same ticket.
external_tickets = sa.Table(
    "external_tickets",
    metadata,
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("connector", sa.String(64), primary_key=True),
    sa.Column("external_id", sa.String(256), nullable=False),
)


def append_event(
    conn: sa.Connection, incident_id: int, time_ns: int, kind: EventKind, actor: str, text: str
) -> None:
    """Add a line to an incident's timeline, inside the caller's transaction."""
    conn.execute(
        incident_events.insert().values(
            incident_id=incident_id, time_ns=time_ns, kind=kind, actor=actor, text=text[:4000]
        )
    )
