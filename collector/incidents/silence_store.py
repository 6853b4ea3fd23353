"""The silences and maintenance windows the helpdesk has set (their meaning: collector.incidents.silences).

A removed silence is not deleted: its row keeps who removed it and when, as it keeps who
made it, and it covers nothing from then on.
"""

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
                sa.select(silences).where(
                    silences.c.ends_ns > as_of, silences.c.starts_ns <= as_of, silences.c.removed_ns.is_(None)
                )
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
        """Silences that have not ended yet and were not removed."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(silences)
                .where(silences.c.ends_ns > as_of, silences.c.removed_ns.is_(None))
                .order_by(silences.c.id)
            )
            return [_silence(r._mapping) for r in rows]

    def get(self, silence_id: int) -> Silence | None:
        """One silence, removed or ended ones included."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(silences).where(silences.c.id == silence_id)).first()
            return _silence(row._mapping) if row is not None else None

    def removed_since(self, since_ns: int) -> list[Silence]:
        """Silences removed at or after `since_ns`, the latest removal first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(silences)
                .where(silences.c.removed_ns >= since_ns)
                .order_by(silences.c.removed_ns.desc(), silences.c.id.desc())
            )
            return [_silence(r._mapping) for r in rows]

    def remove(self, silence_id: int, removed_by: str, now_ns: int) -> bool:
        """Take a silence away from now on, recording who did; False if there is none to remove."""
        with self.engine.begin() as conn:
            done = conn.execute(
                silences.update()
                .where(silences.c.id == silence_id, silences.c.removed_ns.is_(None))
                .values(removed_by=removed_by, removed_ns=now_ns)
            )
            return done.rowcount == 1


_silence = reader(Silence)
