"""diagnostics: the command signing key and the audit log of commands sent to agents

Revision ID: diagnostics_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "diagnostics_0001"
down_revision = None
branch_labels = ("diagnostics",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "diagnostic_signing_key",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("private_key", sa.LargeBinary, nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "diagnostic_command",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("command_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=True),
        sa.Column("requested_ns", sa.BigInteger, nullable=False),
        sa.Column("finished_ns", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("duration_seconds", sa.Float, nullable=True),
        sa.Column("result", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_diagnostic_command_agent", "diagnostic_command", ["agent_id", "requested_ns"])


def downgrade() -> None:
    op.drop_index("ix_diagnostic_command_agent", "diagnostic_command")
    op.drop_table("diagnostic_command")
    op.drop_table("diagnostic_signing_key")
