"""The silences and maintenance windows the helpdesk has set (their meaning: collector.incidents.silences)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine

from collector.incidents.schema import silences
from collector.incidents.silences import Silence, SilenceKind
from collector.rows import inserted_id, reader


class SilenceStore:
    """Silences in the incident store's database; the engine reads the active ones every cycle."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def active(self, as_of: int) -> list[Silence]:
        """Silences in force at `as_of`."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(silences).where(silences.c.ends_ns > as_of, silences.c.starts_ns <= as_of)
            )
            return [_silence(r._mapping) for r in rows]

    def add(
        self,
        kind: SilenceKind,
        starts_ns: int,
        ends_ns: int,
        *,
        site: str = "",
        device: str = "",
        agent_id: str = "",
        condition: str = "",
        reason: str = "",
        created_by: str = "",
        now_ns: int = 0,
    ) -> Silence:
        with self.engine.begin() as conn:
            silence_id = inserted_id(
                conn.execute(
                    silences.insert().values(
                        kind=kind,
                        site=site,
                        device=device,
                        agent_id=agent_id,
                        condition=condition,
                        starts_ns=starts_ns,
                        ends_ns=ends_ns,
                        reason=reason,
                        created_by=created_by,
                        created_ns=now_ns or starts_ns,
                    )
                )
            )
            row = conn.execute(sa.select(silences).where(silences.c.id == silence_id)).one()
            return _silence(row._mapping)

    def current(self, as_of: int) -> list[Silence]:
        """Silences that have not ended yet."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(silences).where(silences.c.ends_ns > as_of).order_by(silences.c.id))
            return [_silence(r._mapping) for r in rows]

    def remove(self, silence_id: int) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(silences.delete().where(silences.c.id == silence_id)).rowcount == 1


_silence = reader(Silence)
