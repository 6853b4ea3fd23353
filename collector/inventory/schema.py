"""The inventory tables (SQLAlchemy Core); `inventory_0001` creates the same.

`inventory` holds the newest inventory of each agent as its wire JSON plus its digest;
an update is a compare-and-set on the digest, so of several collectors receiving the
same birth exactly one writes the history. `inventory_index` maps normalized host
names, user names, addresses, MACs and serials to agents, for the helpdesk lookup.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

inventory = sa.Table(
    "inventory",
    metadata,
    sa.Column("agent_id", sa.String(64), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("collected_ns", sa.BigInteger, nullable=False),  # agent time
    sa.Column("received_ns", sa.BigInteger, nullable=False),  # collector time
    sa.Column("host", sa.String(256), nullable=False, server_default=""),
    sa.Column("document", sa.Text, nullable=False),  # the Inventory as it came on the wire
)

inventory_change = sa.Table(
    "inventory_change",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("time_ns", sa.BigInteger, nullable=False),  # when the agent saw the new state
    sa.Column("kind", sa.String(16), nullable=False),  # ChangeKind
    sa.Column("subject", sa.String(256), nullable=False),  # package, hardware field, printer
    sa.Column("before", sa.String(256), nullable=False, server_default=""),
    sa.Column("after", sa.String(256), nullable=False, server_default=""),
    sa.Index("ix_inventory_change_agent", "agent_id", "id"),
    sa.Index("ix_inventory_change_time", "time_ns"),
)

inventory_index = sa.Table(
    "inventory_index",
    metadata,
    sa.Column("agent_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(8), primary_key=True),  # IndexKey
    sa.Column("value", sa.String(256), primary_key=True),  # normalized: lower case, MAC with colons
    sa.Index("ix_inventory_index_value", "value"),
)
