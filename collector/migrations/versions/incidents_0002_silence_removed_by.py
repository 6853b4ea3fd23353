"""incidents: a removed silence is kept, with who removed it and when

Removing a silence used to delete its row, so nothing said who had taken it away. Now
the row stays with `removed_by` and `removed_ns` set, and a removed silence covers nothing.

incidents_0001 creates its tables from schema.py as it is now, so a store made since this
change has the columns already; only an older store gets them here.

Revision ID: incidents_0002
Revises: incidents_0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "incidents_0002"
down_revision = "incidents_0001"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[Any]]:  # new objects each time: a Column belongs to one table
    return [
        sa.Column("removed_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("removed_ns", sa.BigInteger, nullable=True),
    ]


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("silences")}
    for column in _columns():
        if column.name not in present:
            op.add_column("silences", column)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM silences WHERE removed_ns IS NOT NULL"))
    with op.batch_alter_table("silences") as batch:
        batch.drop_column("removed_ns")
        batch.drop_column("removed_by")
