"""presence: dead letters keep a bounded prefix with the payload's size and hash, within a byte budget.

Revision ID: presence_0003_dead_letter_bounds
Revises: presence_0002_spool_id
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "presence_0003_dead_letter_bounds"
down_revision = "presence_0002_spool_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letter") as table:
        table.add_column(sa.Column("size", sa.BigInteger, nullable=False, server_default="0"))
        table.add_column(sa.Column("sha256", sa.String(64), nullable=False, server_default=""))
    # Letters from before were kept whole: their size is their length (no hash was taken).
    op.execute("UPDATE dead_letter SET size = length(payload)")
    total = op.create_table(
        "dead_letter_total",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("dropped", sa.BigInteger, nullable=False),
    )
    kept = (
        op.get_bind().execute(sa.text("SELECT coalesce(sum(length(payload)), 0) FROM dead_letter")).scalar()
    )
    op.bulk_insert(total, [{"id": 1, "bytes": int(kept or 0), "dropped": 0}])


def downgrade() -> None:
    op.drop_table("dead_letter_total")
    with op.batch_alter_table("dead_letter") as table:
        table.drop_column("sha256")
        table.drop_column("size")
