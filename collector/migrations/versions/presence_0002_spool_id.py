"""presence: each agent's sequence window belongs to one life of its spool (Batch.spool_id).

Revision ID: presence_0002_spool_id
Revises: presence_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "presence_0002_spool_id"
down_revision = "presence_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_sequence") as table:
        table.add_column(sa.Column("spool_id", sa.String(64), nullable=False, server_default=""))
        table.add_column(sa.Column("since_ns", sa.BigInteger, nullable=False, server_default="0"))
        table.add_column(sa.Column("retired", sa.Text, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("agent_sequence") as table:
        table.drop_column("retired")
        table.drop_column("since_ns")
        table.drop_column("spool_id")
