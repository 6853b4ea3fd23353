"""presence: agents and their status, per-agent sequence tracking, dead letters.

Revision ID: presence_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "presence_0001"
down_revision = None
branch_labels = ("presence",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent",
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_ns", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ns", sa.BigInteger, nullable=False),
        sa.Column("interval_seconds", sa.Float, nullable=True),
        sa.Column("version", sa.String(64), nullable=False, server_default=""),
        sa.Column("host", sa.String(256), nullable=False, server_default=""),
        sa.Column("os", sa.String(256), nullable=False, server_default=""),
    )
    op.create_index("ix_agent_status", "agent", ["status"])
    op.create_table(
        "agent_sequence",
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("floor", sa.BigInteger, nullable=False),
        sa.Column("high", sa.BigInteger, nullable=False),
        sa.Column("missing", sa.Text, nullable=False),
        sa.Column("lost", sa.BigInteger, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
    )
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_ns", sa.BigInteger, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_dead_letter_reason_code", "dead_letter", ["reason_code"])


def downgrade() -> None:
    op.drop_table("dead_letter")
    op.drop_table("agent_sequence")
    op.drop_index("ix_agent_status", "agent")
    op.drop_table("agent")
