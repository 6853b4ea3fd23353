"""incidents: incidents, timeline events, silences, API tokens, notification outbox, external tickets

Revision ID: incidents_0001
Revises:
"""

from __future__ import annotations

from alembic import op

from collector.incidents import schema

revision = "incidents_0001"
down_revision = None
branch_labels = ("incidents",)
depends_on = None

_TABLES = ("incidents", "incident_events", "silences", "api_tokens", "notifications", "external_tickets")


def upgrade() -> None:
    # The first revision creates the tables as schema.py declares them; later revisions
    # must spell out their changes instead of reading schema.py.
    bind = op.get_bind()
    schema.metadata.create_all(bind, tables=[schema.metadata.tables[t] for t in _TABLES])


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)
