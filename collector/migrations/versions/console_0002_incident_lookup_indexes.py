"""console: indexes for finding one PC's or one device's tickets among all of them

The caller's page and the lookup ask for the tickets of one agent or one device
(open ones, the recent history); without these each such question scans every ticket
of that status, which at 100,000 tickets of history is most of the page's time.

Revision ID: console_0002
Revises: console_0001
Depends on: incidents_0001
"""

from __future__ import annotations

from alembic import op

revision = "console_0002"
down_revision = "console_0001"
branch_labels = None
depends_on = "incidents_0001"


def upgrade() -> None:
    op.create_index("ix_incidents_agent_status", "incidents", ["agent_id", "status", "opened_ns"])
    op.create_index("ix_incidents_device_status", "incidents", ["device", "status", "opened_ns"])


def downgrade() -> None:
    op.drop_index("ix_incidents_device_status", "incidents")
    op.drop_index("ix_incidents_agent_status", "incidents")
