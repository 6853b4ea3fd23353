"""The collector's SQLite store is durable: what ingest acknowledged survives a power cut."""

from __future__ import annotations

from pathlib import Path

from collector.db import make_engine

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_every_sqlite_connection_fsyncs_its_commits(tmp_path: Path) -> None:
    """A power cut cannot be staged here; the setting that decides it can be read back, per connection."""
    engine = make_engine(f"sqlite:///{tmp_path / 'collector.db'}")
    for _ in range(3):  # fresh pool connections get the pragmas too
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == FULL
        engine.dispose()
