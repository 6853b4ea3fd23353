"""The collector's relational store: engine creation and schema migrations.

SQLite (WAL) is the default, a file beside the collector; PostgreSQL by URL when several
collector workers share one store. The schema is owned by Alembic migrations shipped in
`collector/migrations/versions/`; `migrate()` brings any database to the newest schema.
Each subsystem (presence, incidents, ...) has its own migration branch, so they evolve
without stepping on each other; `upgrade heads` applies them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///var/deskwatch/collector.db"
SQLITE_BUSY_MS = 30_000  # how long a statement waits for another writer's lock


def make_engine(url: str = DEFAULT_URL) -> Engine:
    """An engine for `url`; SQLite gets WAL with synchronous=FULL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: WAL commits are fsynced, so a row ingest acknowledged (and the broker then
            # forgot) survives a power cut; NORMAL may lose the last commits. A few commits a second.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # A burst of writes (a dead-letter flood) grows the WAL; after each checkpoint it is
            # cut back to 4 MiB so the store's disk use follows what it keeps, not its history.
            cursor.execute("PRAGMA journal_size_limit=4194304")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver deskwatch ships with; plain postgresql:// means it.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the database behind `engine` to the newest schema of every subsystem."""
    command.upgrade(alembic_config(engine), "heads")


def give_back_wal(engine: Engine, wait_ms: int = 200) -> None:
    """Checkpoint SQLite's WAL and cut it to zero bytes, waiting at most `wait_ms` for readers.

    After a burst of large writes (a dead-letter flood) the WAL holds megabytes that
    journal_size_limit only trims once a checkpoint completes, which readers can put off;
    the store's disk use should follow what it keeps. A checkpoint that readers still hold
    up is left for the next time: the wait is bounded, ingest never stalls on it.
    PostgreSQL: nothing to do.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its first statement.

    SQLite's default deferred transaction takes the lock only at the first write, and a
    read-then-write transaction that loses the race to another process fails at once
    instead of waiting; BEGIN IMMEDIATE waits (busy timeout) instead. PostgreSQL needs
    nothing here: callers lock rows with SELECT ... FOR UPDATE.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


_compiled: dict[tuple[ClauseElement, str, tuple[str, ...]], SQLCompiler] = {}


def execute_many(
    conn: Connection,
    statement: ClauseElement,
    rows: Sequence[Mapping[str, Any]],
    set_columns: tuple[str, ...] = (),
) -> int:
    """Run `statement` once per row, handing the rows to the database driver as they are; the rows it changed.

    SQLAlchemy turns each row's parameters into the driver's form in Python, and ingest
    updates a row per agent per flush: that was a tenth of its time. The statement is
    compiled once per dialect (`set_columns`: an UPDATE's SET columns, bound by their
    names) and must be a module-level constant. Only for plain values (ints, strings)
    that need no conversion on the way to the database; every row has the same keys.
    """
    key = (statement, conn.dialect.name, set_columns)
    compiled = _compiled.get(key)
    if compiled is None:
        built = statement.compile(dialect=conn.dialect, column_keys=list(set_columns) or None)
        compiled = _compiled[key] = cast(SQLCompiler, built)
    defaults = compiled.params  # values the statement binds itself
    names = compiled.positiontup
    params: list[Any]
    if names is None:  # named parameters (psycopg)
        params = [{**defaults, **row} for row in rows]
    elif len(names) > 1 and rows and all(name in rows[0] for name in names):  # positional, all in the rows
        take = itemgetter(*names)
        params = [take(row) for row in rows]
    else:  # positional (sqlite3), some bound by the statement
        params = [tuple(row[name] if name in row else defaults[name] for name in names) for row in rows]
    return int(conn.exec_driver_sql(compiled.string, params).rowcount)
