"""The dead-letter store: every message ingest rejected, with its topic, time and reason.

Kept in the collector's store (`dead_letter`), so `deskwatch-collector deadletter` sees
the rejects of every collector process sharing it. Bounded three ways, so no sender can
fill the store's disk with rejects (which would stop ingest acknowledging anything):
of each payload only the first `max_payload_bytes` are kept, with its full size and
SHA-256; at most `max_entries` letters; at most `max_total_bytes` of kept payloads in all
(a running total in `dead_letter_total`). Beyond either bound the oldest letters are
deleted and counted (`dropped`, `deskwatch_deadletter_dropped_total`).

A letter kept whole can be replayed (collector/replay.py): it goes through the
collector's own ingest path, not the broker, and is deleted once it is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)

from collector.bounds import PositiveInt
from collector.errors import DeadLetterNotFound

metadata = MetaData()
dead_letter = Table(
    "dead_letter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_ns", BigInteger, nullable=False),
    Column("topic", Text, nullable=False),
    Column("reason_code", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # the first max_payload_bytes of it
    Column("size", BigInteger, nullable=False, server_default="0"),  # the payload's whole length
    Column("sha256", String(64), nullable=False, server_default=""),  # of the whole payload
)
# One row (id 1): the bytes of payload all letters keep, and how many letters were dropped.
dead_letter_total = Table(
    "dead_letter_total",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("bytes", BigInteger, nullable=False),
    Column("dropped", BigInteger, nullable=False),
)
# Topics come from the broker and reasons quote what was sent: both kept bounded too.
MAX_TOPIC_CHARS = 1_024
MAX_REASON_CHARS = 2_000


class DeadLetterSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The dead-letter store: bounded per letter, in count and in bytes."""

    max_entries: PositiveInt = 100_000
    # Of each rejected payload this much is kept (with its size and SHA-256); the default
    # keeps whole every payload that could be a valid message (256 KiB, the protocol's bound),
    # so any such letter can be replayed.
    max_payload_bytes: PositiveInt = 256 * 1024
    # Kept payload bytes of all letters together; beyond it the oldest are dropped and counted.
    max_total_bytes: PositiveInt = 256 * 1024**2


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected message; `reason_code` is the short label the self-metrics count by.

    `payload` may be a prefix of what arrived: `size` and `sha256` describe the whole
    (0 and "" for a letter made in this process, before it is stored).
    """

    received_ns: int
    topic: str
    reason_code: str
    reason: str
    payload: bytes
    id: int = 0
    size: int = 0
    sha256: str = ""

    @property
    def complete(self) -> bool:
        """True if the whole payload was kept (it can be replayed)."""
        return len(self.payload) == self.size or (self.size == 0 and not self.sha256)


def add(conn: Connection, letters: Sequence[DeadLetter], settings: DeadLetterSettings) -> int:
    """Store `letters` within the bounds (caller's transaction); return how many old ones were dropped."""
    if not letters:
        return 0
    keep = settings.max_payload_bytes
    rows = [
        {
            "received_ns": d.received_ns,
            "topic": d.topic[:MAX_TOPIC_CHARS],
            "reason_code": d.reason_code,
            "reason": d.reason[:MAX_REASON_CHARS],
            "payload": d.payload[:keep],
            "size": len(d.payload),
            "sha256": hashlib.sha256(d.payload).hexdigest(),
        }
        for d in letters
    ]
    conn.execute(dead_letter.insert(), rows)
    added = sum(min(len(d.payload), keep) for d in letters)
    total, dropped_before = _totals(conn)
    total += added
    dropped = 0
    newest = conn.execute(select(func.max(dead_letter.c.id))).scalar_one()
    over_count = select(dead_letter.c.id, func.length(dead_letter.c.payload)).where(
        dead_letter.c.id <= newest - settings.max_entries
    )
    freed = [int(length) for _, length in conn.execute(over_count)]
    if freed:
        conn.execute(delete(dead_letter).where(dead_letter.c.id <= newest - settings.max_entries))
        total -= sum(freed)
        dropped += len(freed)
    while total > settings.max_total_bytes:
        oldest = conn.execute(
            select(dead_letter.c.id, func.length(dead_letter.c.payload)).order_by(dead_letter.c.id).limit(500)
        ).all()
        if not oldest:
            total = 0
            break
        cut = oldest[-1][0]
        for letter_id, length in oldest:
            total -= int(length)
            dropped += 1
            if total <= settings.max_total_bytes:
                cut = letter_id
                break
        conn.execute(delete(dead_letter).where(dead_letter.c.id <= cut))
    conn.execute(
        update(dead_letter_total)
        .where(dead_letter_total.c.id == 1)
        .values(bytes=total, dropped=dropped_before + dropped)
    )
    return dropped


def _totals(conn: Connection) -> tuple[int, int]:
    """(bytes kept, letters dropped); the migration made the row."""
    row = conn.execute(select(dead_letter_total.c.bytes, dead_letter_total.c.dropped)).one()
    return int(row.bytes), int(row.dropped)


@dataclass(frozen=True, slots=True)
class Totals:
    """What the dead-letter store holds and has dropped."""

    letters: int
    bytes: int
    dropped: int


def totals(engine: Engine) -> Totals:
    with engine.connect() as conn:
        letters = int(conn.execute(select(func.count()).select_from(dead_letter)).scalar_one())
        kept, dropped = _totals(conn)
    return Totals(letters, kept, dropped)


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(dead_letter)).scalar_one())


def recent(engine: Engine, limit: int = 50, reason_code: str | None = None) -> list[DeadLetter]:
    """The newest dead letters first, optionally only those with one reason code."""
    query = select(dead_letter).order_by(dead_letter.c.id.desc()).limit(limit)
    if reason_code:
        query = query.where(dead_letter.c.reason_code == reason_code)
    with engine.connect() as conn:
        return [_letter(row) for row in conn.execute(query)]


def get(engine: Engine, letter_id: int) -> DeadLetter:
    """One dead letter by id, or DeadLetterNotFound."""
    with engine.connect() as conn:
        row = conn.execute(select(dead_letter).where(dead_letter.c.id == letter_id)).first()
    if row is None:
        raise DeadLetterNotFound(f"no dead letter with id {letter_id}")
    return _letter(row)


def remove(engine: Engine, letter_id: int) -> None:
    """Delete one letter (it was replayed and stored), keeping the byte total right."""
    with engine.begin() as conn:
        length = conn.execute(
            select(func.length(dead_letter.c.payload)).where(dead_letter.c.id == letter_id)
        ).scalar_one_or_none()
        if length is None:
            return
        conn.execute(delete(dead_letter).where(dead_letter.c.id == letter_id))
        kept, _ = _totals(conn)
        conn.execute(
            update(dead_letter_total)
            .where(dead_letter_total.c.id == 1)
            .values(bytes=max(kept - int(length), 0))
        )


def _letter(row: object) -> DeadLetter:
    mapping = row._mapping  # type: ignore[attr-defined]
    return DeadLetter(
        id=mapping["id"],
        received_ns=mapping["received_ns"],
        topic=mapping["topic"],
        reason_code=mapping["reason_code"],
        reason=mapping["reason"],
        payload=bytes(mapping["payload"]),
        size=mapping["size"],
        sha256=mapping["sha256"],
    )
