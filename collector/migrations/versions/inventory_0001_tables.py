"""inventory: latest inventory per agent, change history, lookup index.

Revision ID: inventory_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "inventory_0001"
down_revision = None
branch_labels = ("inventory",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory",
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("collected_ns", sa.BigInteger, nullable=False),
        sa.Column("received_ns", sa.BigInteger, nullable=False),
        sa.Column("host", sa.String(256), nullable=False, server_default=""),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_table(
        "inventory_change",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("time_ns", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("before", sa.String(256), nullable=False, server_default=""),
        sa.Column("after", sa.String(256), nullable=False, server_default=""),
    )
    op.create_index("ix_inventory_change_agent", "inventory_change", ["agent_id", "id"])
    op.create_index("ix_inventory_change_time", "inventory_change", ["time_ns"])
    op.create_table(
        "inventory_index",
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(8), primary_key=True),
        sa.Column("value", sa.String(256), primary_key=True),
    )
    op.create_index("ix_inventory_index_value", "inventory_index", ["value"])


def downgrade() -> None:
    op.drop_index("ix_inventory_index_value", "inventory_index")
    op.drop_table("inventory_index")
    op.drop_index("ix_inventory_change_time", "inventory_change")
    op.drop_index("ix_inventory_change_agent", "inventory_change")
    op.drop_table("inventory_change")
    op.drop_table("inventory")
