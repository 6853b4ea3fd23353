"""A store made before silences kept who removed them gets the columns, and its silences read as
never removed (collector/migrations/versions/incidents_0002_silence_removed_by.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from collector.db import alembic_config, make_engine, migrate
from collector.incidents.silence_store import SilenceStore
from collector.incidents.silences import SilenceKind
from tests.incidents.fleet import T0, S


def test_an_older_store_gets_the_removal_columns_and_keeps_its_silences(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        command.upgrade(alembic_config(engine), "incidents_0001")
        with engine.begin() as conn:  # the silences table as incidents_0001 made it before the change
            conn.execute(sa.text("ALTER TABLE silences DROP COLUMN removed_by"))
            conn.execute(sa.text("ALTER TABLE silences DROP COLUMN removed_ns"))
            conn.execute(
                sa.text(
                    "INSERT INTO silences (kind, site, starts_ns, ends_ns, created_by, created_ns) "
                    "VALUES ('silence', 'hq', :t, :e, 'maria', :t)"
                ),
                {"t": T0, "e": T0 + 600 * S},
            )
        migrate(engine)
        columns = {c["name"] for c in sa.inspect(engine).get_columns("silences")}
        assert {"removed_by", "removed_ns"} <= columns
        store = SilenceStore(engine)
        (old,) = store.active(T0 + S)
        assert old.created_by == "maria" and old.removed_by == "" and old.removed_ns == 0
        assert store.remove(old.id, removed_by="hal", now_ns=T0 + 2 * S)
        assert store.active(T0 + 3 * S) == [] and store.current(T0 + 3 * S) == []
        gone = store.get(old.id)
        assert gone is not None and (gone.removed_by, gone.removed_ns) == ("hal", T0 + 2 * S)
        assert [s.id for s in store.removed_since(T0)] == [old.id]
        assert not store.remove(old.id, removed_by="ada", now_ns=T0 + 4 * S)  # once, by hal
        new = store.add(SilenceKind.MAINTENANCE, T0, T0 + 60 * S, device="SN1", created_by="ada", now_ns=T0)
        assert [s.id for s in store.active(T0 + S)] == [new.id]
    finally:
        engine.dispose()
