"""The dead-letter store: every message ingest rejected, with its topic, time and reason.

Kept in the collector's store (`dead_letter`), so `deskwatch-collector deadletter` sees
the rejects of every collector process sharing it. Bounded: beyond `max_entries` the
oldest are deleted. A replay publishes the original payload to its original topic, so
it takes the normal path through ingest and, if it is still bad, comes back here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
)

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
    Column("payload", LargeBinary, nullable=False),
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected message; `reason_code` is the short label the self-metrics count by."""

    received_ns: int
    topic: str
    reason_code: str
    reason: str
    payload: bytes
    id: int = 0


def add(conn: Connection, letters: Sequence[DeadLetter], max_entries: int) -> None:
    """Store `letters` and delete the oldest beyond `max_entries`, inside the caller's transaction."""
    if not letters:
        return
    conn.execute(
        dead_letter.insert(),
        [
            {
                "received_ns": d.received_ns,
                "topic": d.topic,
                "reason_code": d.reason_code,
                "reason": d.reason,
                "payload": d.payload,
            }
            for d in letters
        ],
    )
    newest = conn.execute(select(func.max(dead_letter.c.id))).scalar_one()
    conn.execute(delete(dead_letter).where(dead_letter.c.id <= newest - max_entries))


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


def replay(engine: Engine, letter_ids: Sequence[int], publish: Callable[[str, bytes], None]) -> int:
    """Publish each letter's payload to its topic again and delete it; return how many were replayed."""
    replayed = 0
    for letter_id in letter_ids:
        letter = get(engine, letter_id)
        publish(letter.topic, letter.payload)
        with engine.begin() as conn:
            conn.execute(delete(dead_letter).where(dead_letter.c.id == letter_id))
        replayed += 1
    return replayed


def _letter(row: object) -> DeadLetter:
    mapping = row._mapping  # type: ignore[attr-defined]
    return DeadLetter(
        id=mapping["id"],
        received_ns=mapping["received_ns"],
        topic=mapping["topic"],
        reason_code=mapping["reason_code"],
        reason=mapping["reason"],
        payload=bytes(mapping["payload"]),
    )
