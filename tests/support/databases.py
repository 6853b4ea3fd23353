"""Collector stores for tests: a SQLite file, or a fresh database in the machine's PostgreSQL.

The collector runs on SQLite by default and on PostgreSQL when several collectors share
one store; store code is tested on both. PostgreSQL is the server this machine runs on
127.0.0.1:5432 (trust auth); each test gets its own database, dropped after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from collector.db import make_engine, migrate

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped after."""
    name = f"dw_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty collector store, once on each database the collector supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with postgres_url() as url:
            yield url


@pytest.fixture
def store(store_url: str) -> Iterator[sa.Engine]:
    """A migrated collector store on each supported database."""
    engine = make_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()
