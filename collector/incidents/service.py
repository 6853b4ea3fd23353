"""Everything of incidents in one object, for the collector's main to build, start and stop.

    incidents = Incidents(config.incidents, make_engine(config.db_url))   # after migrate()
    ingest.add_observer(incidents.engine)                                 # an Observer
    app.include_router(incidents.api_router())                            # /api/v1/...
    incidents.start()      # evaluation every cycle_seconds + notification delivery
    ...
    service.metrics.registry.register(incidents.prometheus_collector())  # /metrics
    # and/or Incidents(..., ship=callback) to write incident Samples to VictoriaMetrics each cycle
    incidents.stop()

`IncidentsConfig` (collector/incidents/config.py) is the `[incidents]` table of collector.toml.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter
from sqlalchemy import Engine

from agent.protocol import Sample
from collector.api import ApiContext, create_router
from collector.incidents import metrics
from collector.incidents.config import IncidentsConfig
from collector.incidents.engine import IncidentEngine
from collector.incidents.store import IncidentStore
from collector.kb import KnowledgeBase
from collector.notify.delivery import Connector
from collector.notify.email import Email
from collector.notify.notifier import Notifier
from collector.notify.routing import Route, Router
from collector.notify.webhook import Webhook
from collector.rules.settings import load_settings


class Incidents:
    """The store, engine, notifier and knowledge base of one collector process."""

    def __init__(
        self,
        config: IncidentsConfig,
        db: Engine,
        clock: Callable[[], int] = time.time_ns,
        ship: Callable[[list[Sample]], None] | None = None,
        history: Callable[[IncidentEngine], object] | None = None,
    ) -> None:
        """`ship`, if given, gets the incident metric samples after every evaluation cycle;
        `history`, if given and `warm_start` is on, loads stored histories into the engine
        in the background at start (collector.incidents.history.warm_start)."""
        self.config = config
        self._history = history if config.warm_start else None
        self._warm: threading.Thread | None = None
        connectors: dict[str, Connector] = {name: Webhook(s) for name, s in config.webhooks.items()}
        connectors.update({name: Email(s) for name, s in config.email.items()})
        routes = config.routes or [Route(name) for name in connectors]
        self.store = IncidentStore(db, Router(routes))
        settings = load_settings(Path(config.rules_file) if config.rules_file else None)
        self.engine = IncidentEngine(self.store, settings, clock)
        self.notifier = Notifier(self.store, connectors, config.retry, clock)
        self.kb = KnowledgeBase.load(*(Path(d) for d in config.kb_dirs))
        self.clock = clock
        if ship is not None:
            self.engine.after_cycle = lambda now_ns: ship(self.metric_samples(now_ns))

    def api_router(self) -> APIRouter:
        return create_router(ApiContext(self.store, self.kb, self.engine, self.clock))

    def prometheus_collector(self) -> metrics.PrometheusIncidents:
        """Register on the /metrics registry for open/opened/resolved incident counts."""
        return metrics.PrometheusIncidents(self.store)

    def metric_samples(self, now_ns: int) -> list[Sample]:
        return metrics.collect(self.store, now_ns)

    def start(self) -> None:
        self.engine.start()
        self.notifier.start(self.config.notify_interval_seconds)
        if self._history is not None:
            load = self._history
            self._warm = threading.Thread(target=lambda: load(self.engine), name="warm-start", daemon=True)
            self._warm.start()

    def stop(self) -> None:
        self.engine.stop()
        self.notifier.stop()
