"""presence: the site each enrolled agent is bound to (`agents enroll --site`, `agents bind`).

Revision ID: presence_0004_agent_site
Revises: presence_0003_dead_letter_bounds
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "presence_0004_agent_site"
down_revision = "presence_0003_dead_letter_bounds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_site",
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("bound_ns", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_site")
