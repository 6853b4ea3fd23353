"""The on-disk store of batches that the broker has not acknowledged yet.

Every batch is written here before it is published and deleted only after the broker's
PUBACK, so a broker outage of a day or a reboot in the middle of one loses nothing.
The sequence counter lives in the same file and is advanced in the same transaction as
the insert, so numbers continue across restarts and never repeat among stored batches.

Every batch carries a `spool_id`, the life of the spool that numbered it, and the
collector judges repeats and gaps within one life (collector/sequence.py). A life is one
agent process: made at random when the spool is opened and written to the file with the
first batch the process stores. So when the file is lost (a re-imaged PC, a deleted spool,
an id enrolled again on another PC) and numbers start over from 1, the collector sees a
new life and starts a new window for it; and numbers a process used up without storing
them (`burned`, while the disk was full, some of them published without the spool) never
collide with the numbers the next process takes from the file, which cannot know them:
those go out under the next process's own life. Batches already stored keep the life they
were numbered under (it is inside their payload), so a backlog drained by the next
process is judged in its own window, or stored as a replaced life's late batch.

Durability: SQLite in WAL mode with synchronous=FULL, i.e. one fsync per committed batch
(a few per minute): a batch that `put()` returned for survives a power cut. The store is
bounded by the bytes of the batches it holds; when a new batch would pass the bound,
the oldest are deleted and counted in `dropped_total`, which the agent reports in its
next batch. SQLite reuses the freed pages, so the file does not grow past the bound by
much.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.errors import BatchNotSpooled, SpoolError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch (
    seq INTEGER PRIMARY KEY,
    created_ns INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('next_seq', 1), ('dropped_total', 0), ('bytes', 0);
CREATE TABLE IF NOT EXISTS identity (spool_id TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """What `deskwatch-agent spool` shows and the self-metrics report."""

    depth: int
    bytes: int
    oldest_seq: int | None
    oldest_created_ns: int | None
    next_seq: int
    dropped_total: int
    max_bytes: int


class Spool:
    """Batches waiting for the broker, oldest first, bounded by size."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._start(path, max_bytes, _open(path), "")

    def _start(self, path: Path, max_bytes: int, db: sqlite3.Connection, unopened: str) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.burned = 0  # numbers used up by batches that could not be stored, since the last stored one
        self.write_failures_total = 0  # batches this process could not store
        self._db = db
        self._unopened = unopened  # why the file could not be opened (Spool.for_agent), "" once it is
        # This process's life: every batch it numbers carries it, stored or not. It reaches
        # the file only with the first batch stored, so opening the spool writes nothing.
        self.spool_id = secrets.token_hex(8)
        self._life_stored = False

    @classmethod
    def for_agent(cls, path: Path, max_bytes: int) -> Spool:
        """The agent's spool; if the file cannot be opened, one that keeps trying it.

        An agent started on a disk that is already full (SQLite must size its WAL index at
        open) or on a spool it may not write still measures and sends: until the file opens,
        every batch is refused as one the disk cannot take (BatchNotSpooled), so the agent
        publishes it without the spool and reports `spool_writable` false, as it does when
        the disk fills later. Each batch tries the file again; once it opens, numbering goes
        on from the file under a new life, since the numbers used up meanwhile are nowhere
        on disk.
        """
        try:
            return cls(path, max_bytes)
        except SpoolError as err:
            memory = sqlite3.connect(":memory:", isolation_level=None)
            memory.executescript(_SCHEMA)
            spool = cls.__new__(cls)
            spool._start(path, max_bytes, memory, str(err))
            return spool

    @property
    def opened(self) -> bool:
        """False while the file could not be opened yet (Spool.for_agent)."""
        return not self._unopened

    def _open_late(self) -> None:
        """Open the file a for_agent spool could not open; raise SpoolError if it still cannot be."""
        try:
            db = _open(self.path)
        except SpoolError as err:
            self._unopened = str(err)
            raise
        self._db.close()
        self._db, self._unopened = db, ""
        self.spool_id, self.burned, self._life_stored = secrets.token_hex(8), 0, False

    def stored_spool_id(self) -> str | None:
        """The life of the newest batches stored (of the last process that stored one), if any."""
        row = self._db.execute("SELECT spool_id FROM identity").fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._db.close()

    def put(self, created_ns: int, make_payload: Callable[[int], bytes]) -> int:
        """Store the batch `make_payload(seq)` under the next sequence number and return it.

        If it cannot be stored (disk full, I/O error) BatchNotSpooled is raised, carrying
        the number, which is used up all the same (`burned`): the agent publishes the batch
        under it without the spool if it can, and otherwise the collector counts the lost
        batch as a gap. The file cannot record that while it cannot be written: the next
        batch this process stores carries the number after the burned ones, and the next
        process, which may take them again, numbers under a life of its own (`spool_id`).
        """
        seq: int | None = None
        try:
            if self._unopened:
                self._open_late()
            with self._transaction():
                seq = self._meta("next_seq") + self.burned
                payload = make_payload(seq)
                if not self._life_stored:
                    self._db.execute("DELETE FROM identity")
                    self._db.execute("INSERT INTO identity VALUES (?)", (self.spool_id,))
                self._db.execute("INSERT INTO batch VALUES (?, ?, ?)", (seq, created_ns, payload))
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (seq + 1,))
                self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'bytes'", (len(payload),))
                self._trim()
        except SpoolError as err:  # the file still cannot be opened
            seq = self._meta("next_seq") + self.burned
            self.burned += 1
            self.write_failures_total += 1
            raise BatchNotSpooled(str(err), seq) from err
        except (sqlite3.Error, OSError) as err:
            self.burned += 1
            self.write_failures_total += 1
            raise BatchNotSpooled(f"cannot write spool {self.path}: {err}", seq) from err
        self.burned = 0
        self._life_stored = True
        return seq

    def _trim(self) -> None:
        """Drop the oldest batches until the store fits its bound again (never the newest)."""
        while self._meta("bytes") > self.max_bytes:
            row = self._db.execute(
                "SELECT seq, length(payload) FROM batch WHERE seq < (SELECT max(seq) FROM batch) "
                "ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                return
            self._db.execute("DELETE FROM batch WHERE seq = ?", (row[0],))
            self._db.execute("UPDATE meta SET value = value - ? WHERE key = 'bytes'", (row[1],))
            self._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'dropped_total'")

    def oldest(self, after_seq: int = 0, limit: int = 100) -> list[tuple[int, bytes]]:
        """Up to `limit` batches with a sequence number above `after_seq`, oldest first."""
        rows = self._db.execute(
            "SELECT seq, payload FROM batch WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        ).fetchall()
        return [(int(seq), bytes(payload)) for seq, payload in rows]

    def remove(self, seq: int) -> None:
        """Forget a batch the broker acknowledged; SpoolError if the file cannot be written."""
        try:
            with self._transaction():
                row = self._db.execute("SELECT length(payload) FROM batch WHERE seq = ?", (seq,)).fetchone()
                if row is None:
                    return  # acknowledged twice (a redelivery) or dropped meanwhile
                self._db.execute("DELETE FROM batch WHERE seq = ?", (seq,))
                self._db.execute("UPDATE meta SET value = value - ? WHERE key = 'bytes'", (row[0],))
        except (sqlite3.Error, OSError) as err:
            raise SpoolError(f"cannot write spool {self.path}: {err}") from err

    def stats(self) -> SpoolStats:
        depth, oldest_seq, oldest_ns = self._db.execute(
            "SELECT count(*), min(seq), min(created_ns) FROM batch"
        ).fetchone()
        return SpoolStats(
            depth=int(depth),
            bytes=self._meta("bytes"),
            oldest_seq=oldest_seq,
            oldest_created_ns=oldest_ns,
            next_seq=self._meta("next_seq"),
            dropped_total=self._meta("dropped_total"),
            max_bytes=self.max_bytes,
        )

    def _meta(self, key: str) -> int:
        value: int = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]
        return value

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


def _open(path: Path) -> sqlite3.Connection:
    """The spool file's database, made if it is not there; SpoolError if it cannot be opened."""
    db: sqlite3.Connection | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
    except (OSError, sqlite3.Error) as err:
        if db is not None:
            db.close()
        raise SpoolError(f"cannot open spool {path}: {err}") from err
    return db


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error (the connection runs in autocommit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error:
                self._rollback()  # a COMMIT that failed (disk full) must not leave the transaction open
                raise
        self._rollback()

    def _rollback(self) -> None:
        if not self._db.in_transaction:
            return  # SQLite rolled back by itself (as it may on SQLITE_FULL)
        with contextlib.suppress(sqlite3.Error):  # nothing more to undo
            self._db.execute("ROLLBACK")
