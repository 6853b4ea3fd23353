"""Builders for batches, presence changes and engines in a fresh store, shared by incident tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from agent.protocol import Batch, Sample, Severity, State
from collector.db import make_engine, migrate
from collector.incidents.engine import IncidentEngine
from collector.incidents.model import Router
from collector.incidents.outbox import Outbox
from collector.incidents.schema import notifications
from collector.incidents.store import IncidentStore
from collector.observers import AgentStatus, PresenceChange
from collector.rules.settings import Settings, load_settings

S = 1_000_000_000
T0 = 1_760_000_000 * S


def batch(
    agent_id: str,
    t: int,
    *,
    site: str = "hq",
    samples: Sequence[Sample] = (),
    states: Sequence[State] = (),
    seq: int = 0,
    sent: int = 0,
) -> Batch:
    """A batch made at `t` on its agent's clock; `sent` is that clock when it was published (0: no stamp)."""
    return Batch(
        v=2 if sent else 1,
        agent_id=agent_id,
        seq=seq,
        created_ns=t,
        site=site,
        samples=list(samples),
        states=list(states),
        sent_ns=sent,
    )


def state(
    subject: str,
    condition: str,
    ok: bool,
    t: int,
    severity: Severity = Severity.WARNING,
    text: str = "",
    **tags: str,
) -> State:
    return State(subject, condition, ok, severity, text, dict(tags), t)


def sample(measurement: str, t: int, tags: dict[str, str] | None = None, **fields: float) -> Sample:
    return Sample(measurement, dict(fields), tags or {}, t)


def presence(agent_id: str, status: AgentStatus, t: int, site: str = "hq") -> PresenceChange:
    return PresenceChange(agent_id, site, status, None, t, t)


def hook_router(_: object) -> Sequence[str]:
    return ["hook"]


def sqlite_store(tmp_path: Path, router: Router = hook_router) -> IncidentStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'incidents.db'}")
    migrate(engine)
    return routed_store(engine, router)


def routed_store(engine: sa.Engine, router: Router = hook_router) -> IncidentStore:
    """An incident store whose notices go to `router`'s connectors (every notice to "hook")."""
    return IncidentStore(engine, Outbox(engine, router))


def engine_for(store: IncidentStore, settings: Settings | None = None) -> IncidentEngine:
    return IncidentEngine(store, settings or load_settings(), clock=lambda: 0)


def notices(store: IncidentStore) -> list[tuple[int, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(notifications.c.incident_id, notifications.c.notice).order_by(notifications.c.id)
        )
        return [(r.incident_id, r.notice) for r in rows]


@contextmanager
def serve(app: object) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn on a free port; yield its base URL."""
    import threading

    import uvicorn

    from tests.support.services import free_port
    from tests.support.waiting import wait_until

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, interval=0.02, what="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
