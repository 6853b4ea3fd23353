"""Inventories in the collector's store: written from births inside ingest's transaction, read for lookups.

`record()` runs in the same transaction as presence, before the birth is acknowledged
to the broker, so a stored inventory is never lost and an unstored one is redelivered.
Each inventory is written in a savepoint: one that cannot be stored is logged and
skipped, and never holds up the ingest of everything else.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from agent.protocol import Inventory, Presence, inventory_digest
from collector.inventory.diff import Change, ChangeKind, diff
from collector.inventory.schema import inventory, inventory_change, inventory_index
from collector.presence import agent

log = logging.getLogger(__name__)

_decoder = msgspec.json.Decoder(Inventory)
_encoder = msgspec.json.Encoder()


class IndexKey(enum.StrEnum):
    """What a lookup matched on."""

    AGENT = "agent"
    HOST = "host"
    USER = "user"
    IP = "ip"
    MAC = "mac"
    SERIAL = "serial"


def normalize(query: str) -> str:
    """A query or an indexed value as compared: trimmed, lower case, MACs with colons."""
    text = query.strip().lower()
    if len(text) == 17 and text.count("-") == 5:  # Windows writes MACs 00-1A-2B-...
        text = text.replace("-", ":")
    try:
        return str(ipaddress.ip_address(text))  # one spelling per address (IPv6 zeros)
    except ValueError:
        return text


def index_entries(agent_id: str, host: str, inv: Inventory) -> set[tuple[str, str]]:
    """(key, value) pairs a PC is found by: id, host (and its short name), users, addresses, MACs, serial."""
    entries = {(IndexKey.AGENT.value, normalize(agent_id))}
    if host:
        entries.add((IndexKey.HOST.value, normalize(host)))
        entries.add((IndexKey.HOST.value, normalize(host.split(".")[0])))
    entries.update((IndexKey.USER.value, normalize(u)) for u in inv.users)
    for interface in inv.network.interfaces:
        if interface.mac:
            entries.add((IndexKey.MAC.value, normalize(interface.mac)))
        entries.update((IndexKey.IP.value, normalize(a)) for a in interface.addresses)
    if inv.hardware.serial:
        entries.add((IndexKey.SERIAL.value, normalize(inv.hardware.serial)))
    return {(k, v[:256]) for k, v in entries if v}


def record(conn: Connection, messages: Sequence[tuple[Presence, int]]) -> int:
    """Store the inventories of births in `messages`; returns how many were new or changed."""
    stored = 0
    for message, received_ns in messages:
        if message.inventory is None:
            continue
        try:
            with conn.begin_nested():
                stored += _record_one(conn, message, message.inventory, received_ns)
        except Exception:
            log.exception("cannot store the inventory of %s; it is skipped", message.agent_id)
    return stored


def _record_one(conn: Connection, message: Presence, inv: Inventory, received_ns: int) -> int:
    digest = inventory_digest(inv)
    row = conn.execute(sa.select(inventory).where(inventory.c.agent_id == message.agent_id)).one_or_none()
    if row is not None and (row.digest == digest or row.collected_ns > inv.collected_ns):
        return 0  # the same inventory again (a reconnect, another collector) or an older one
    host = message.facts.host if message.facts else (row.host if row is not None else "")
    values = {
        "digest": digest,
        "collected_ns": inv.collected_ns,
        "received_ns": received_ns,
        "host": host,
        "document": _encoder.encode(inv).decode(),
    }
    if row is None:
        conn.execute(inventory.insert().values(agent_id=message.agent_id, **values))
        changes = diff(None, inv)
    else:
        done = conn.execute(
            sa.update(inventory)
            .where(inventory.c.agent_id == message.agent_id, inventory.c.digest == row.digest)
            .values(**values)
        )
        if done.rowcount == 0:
            return 0  # another collector stored it between our read and write, and wrote the history
        changes = diff(_decoder.decode(row.document), inv)
    _add_history(conn, message.agent_id, inv.collected_ns, changes)
    conn.execute(sa.delete(inventory_index).where(inventory_index.c.agent_id == message.agent_id))
    entries = index_entries(message.agent_id, host, inv)
    conn.execute(
        inventory_index.insert(), [{"agent_id": message.agent_id, "key": k, "value": v} for k, v in entries]
    )
    return 1


def _add_history(conn: Connection, agent_id: str, time_ns: int, changes: Iterable[Change]) -> None:
    rows = [
        {
            "agent_id": agent_id,
            "time_ns": time_ns,
            "kind": c.kind.value,
            "subject": c.subject[:256],
            "before": c.before[:256],
            "after": c.after[:256],
        }
        for c in changes
    ]
    if rows:
        conn.execute(inventory_change.insert(), rows)


@dataclass(frozen=True, slots=True)
class Stored:
    """The newest inventory of one agent as stored."""

    agent_id: str
    host: str
    received_ns: int
    inventory: Inventory


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    time_ns: int
    kind: ChangeKind
    subject: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Match:
    """An agent a query found, and what it matched."""

    agent_id: str
    key: IndexKey
    value: str


class InventoryStore:
    """Reading inventories, history and the index for the API and reports."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def latest(self, agent_id: str) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(inventory).where(inventory.c.agent_id == agent_id)).one_or_none()
        return _stored(row) if row is not None else None

    def all_latest(self) -> list[Stored]:
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(sa.select(inventory).order_by(inventory.c.agent_id))]

    def history(self, agent_id: str, limit: int = 50) -> list[HistoryEntry]:
        """The newest changes of one agent first."""
        query = (
            sa.select(inventory_change)
            .where(inventory_change.c.agent_id == agent_id)
            .order_by(inventory_change.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                HistoryEntry(r.time_ns, ChangeKind(r.kind), r.subject, r.before, r.after)
                for r in conn.execute(query)
            ]

    def find(self, query: str, limit: int = 20) -> list[Match]:
        """Agents whose id, host, user, IP, MAC or serial is `query`, else whose host or user starts so."""
        value = normalize(query)
        if not value:
            return []
        with self.engine.connect() as conn:
            rows = list(conn.execute(sa.select(inventory_index).where(inventory_index.c.value == value)))
            # agents that never sent an inventory are still found by id and host (presence facts)
            known = conn.execute(
                sa.select(agent.c.agent_id, agent.c.host).where(
                    sa.or_(sa.func.lower(agent.c.agent_id) == value, sa.func.lower(agent.c.host) == value)
                )
            )
            matches = _unique(Match(r.agent_id, IndexKey(r.key), r.value) for r in rows)
            matches += _unique(
                Match(r.agent_id, IndexKey.AGENT if r.agent_id.lower() == value else IndexKey.HOST, value)
                for r in known
            )
            if not matches and len(value) >= 3:
                pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                partial = conn.execute(
                    sa.select(inventory_index)
                    .where(
                        inventory_index.c.key.in_(
                            [IndexKey.HOST.value, IndexKey.USER.value, IndexKey.AGENT.value]
                        ),
                        inventory_index.c.value.like(pattern, escape="\\"),
                    )
                    .limit(limit * 4)
                )
                matches = _unique(Match(r.agent_id, IndexKey(r.key), r.value) for r in partial)
        by_agent: dict[str, Match] = {}
        for m in matches:
            by_agent.setdefault(m.agent_id, m)
        return list(by_agent.values())[:limit]

    def find_by(self, key: IndexKey, query: str) -> list[Match]:
        """Agents whose `key` (agent id, host, user, IP, MAC, serial) is exactly `query`."""
        value = normalize(query)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(inventory_index).where(
                    inventory_index.c.key == key.value, inventory_index.c.value == value
                )
            )
            matches = _unique(Match(r.agent_id, key, r.value) for r in rows)
            if key in (IndexKey.AGENT, IndexKey.HOST):  # agents that never sent an inventory
                column = agent.c.agent_id if key is IndexKey.AGENT else agent.c.host
                known = conn.execute(sa.select(agent.c.agent_id).where(sa.func.lower(column) == value))
                matches += _unique(Match(r.agent_id, key, value) for r in known)
        by_agent: dict[str, Match] = {}
        for m in matches:
            by_agent.setdefault(m.agent_id, m)
        return list(by_agent.values())

    def agents_of_user(self, user: str) -> list[str]:
        """Agents on which `user` is logged in, per their newest inventories."""
        query = sa.select(inventory_index.c.agent_id).where(
            inventory_index.c.key == IndexKey.USER.value, inventory_index.c.value == normalize(user)
        )
        with self.engine.connect() as conn:
            return sorted({r.agent_id for r in conn.execute(query)})


def _unique(matches: Iterable[Match]) -> list[Match]:
    return list(dict.fromkeys(matches))


def _stored(row: sa.Row[tuple[object, ...]]) -> Stored:
    return Stored(row.agent_id, row.host, row.received_ns, _decoder.decode(row.document))
