"""The site an agent is bound to, and the in-memory map ingest checks every batch against.

A site in a batch or birth is what the PC's agent.toml says. An agent enrolled with
`agents enroll NAME --site S` (or bound later with `agents bind NAME --site S`) is bound to
S in the store (`agent_site`); ingest then dead-letters whatever it sends naming another
site (`site_mismatch`) and gives S to what it sends naming none. Agents without a binding
name their site as before.

Ingest never asks the store per message: `SiteMap` holds every binding in a dict, read
again every `refresh_seconds` (from ingest's flush thread) and, when an agent id it has
never looked up arrives, at most once more per interval (a PC enrolled while the
collector runs is checked from its first batch, and a fleet of unbound agents costs one
query per interval, not one each). A binding made for an agent already sending takes
effect at the next refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from sqlalchemy import BigInteger, Column, Connection, Engine, MetaData, String, Table, delete, select
from sqlalchemy.exc import SQLAlchemyError

from collector.db import begin_write

log = logging.getLogger(__name__)

REFRESH_SECONDS: Final = 30.0
MAX_LOOKED_UP: Final = 200_000  # unbound agent ids remembered as looked up; beyond, the set starts over

metadata = MetaData()
agent_site = Table(
    "agent_site",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("site", String(64), nullable=False),
    Column("bound_ns", BigInteger, nullable=False),  # when it was bound (collector clock)
)


class SiteConflict(Exception):
    """The agent is bound to another site and the caller did not say to replace it."""

    def __init__(self, agent_id: str, bound: str) -> None:
        super().__init__(agent_id, bound)
        self.agent_id = agent_id
        self.bound = bound


def bound_site(conn: Connection, agent_id: str) -> str | None:
    """The site `agent_id` is bound to, None if it is not bound."""
    found = conn.execute(select(agent_site.c.site).where(agent_site.c.agent_id == agent_id)).scalar()
    return None if found is None else str(found)


def bind(engine: Engine, agent_id: str, site: str, now_ns: int, replace: bool = False) -> str | None:
    """Bind `agent_id` to `site`; the site it was bound to before (None: none).

    A binding to another site is replaced only with `replace`, else SiteConflict.
    """
    with begin_write(engine) as conn:
        before = bound_site(conn, agent_id)
        if before == site:
            return before
        if before is not None and not replace:
            raise SiteConflict(agent_id, before)
        if before is None:
            conn.execute(agent_site.insert().values(agent_id=agent_id, site=site, bound_ns=now_ns))
        else:
            conn.execute(
                agent_site.update()
                .where(agent_site.c.agent_id == agent_id)
                .values(site=site, bound_ns=now_ns)
            )
        return before


def unbind(engine: Engine, agent_id: str) -> str | None:
    """Remove the binding of `agent_id`; the site it was bound to (None: it was not bound)."""
    with begin_write(engine) as conn:
        before = bound_site(conn, agent_id)
        if before is not None:
            conn.execute(delete(agent_site).where(agent_site.c.agent_id == agent_id))
        return before


def bindings(conn: Connection) -> dict[str, str]:
    """Every bound agent id -> its site."""
    return {
        agent_id: site for agent_id, site in conn.execute(select(agent_site.c.agent_id, agent_site.c.site))
    }


class SiteMap:
    """agent id -> bound site, in memory; `get` is what ingest calls per message."""

    def __init__(
        self,
        engine: Engine,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._sites: dict[str, str] = {}
        self._looked_up: set[str] = set()  # unbound ids already asked for: no refresh for them
        self._refreshed_at = -float("inf")  # the last refresh, periodic or for an unknown agent
        self._unknown_at = -float("inf")  # the last refresh an unknown agent asked for
        self._failing = False  # the last refresh failed (said once until one succeeds)
        self._lock = threading.Lock()
        self.refreshes = 0  # store reads made (for tests and benches)

    def __len__(self) -> int:
        return len(self._sites)

    def get(self, agent_id: str) -> str | None:
        """The site `agent_id` is bound to, None if unbound. A dict look-up, but for new ids (see above)."""
        site = self._sites.get(agent_id)
        if site is not None or agent_id in self._looked_up:
            return site
        if len(self._looked_up) >= MAX_LOOKED_UP:
            self._looked_up.clear()
        self._looked_up.add(agent_id)
        now = self._clock()
        if now - self._unknown_at >= self._refresh_seconds:
            self._unknown_at = now
            self.refresh()
        return self._sites.get(agent_id)

    def refresh_if_due(self) -> None:
        """Read the bindings again if the last read is `refresh_seconds` old (the periodic refresh)."""
        if self._clock() - self._refreshed_at >= self._refresh_seconds:
            self.refresh()

    def refresh(self) -> bool:
        """Read every binding from the store now; False (and the old map kept) if that failed."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread is reading them right now
        try:
            self._refreshed_at = self._clock()
            self.refreshes += 1
            try:
                with self._engine.connect() as conn:
                    sites = bindings(conn)
            except SQLAlchemyError as err:
                if not self._failing:
                    log.warning(
                        "cannot read the agents' site bindings (%s); keeping the %d known", err, len(self)
                    )
                self._failing = True
                return False
            if self._failing:
                log.info("read the agents' site bindings again (%d bound)", len(sites))
            self._failing = False
            self._sites = sites
            return True
        finally:
            self._lock.release()
