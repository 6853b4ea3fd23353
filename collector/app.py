"""The composition root: every part of `deskwatch-collector run` built from collector.toml and wired.

    collector = build(config)     # nothing runs yet
    collector.start()             # ingest, writer, presence, HTTP, incidents, notifications
    collector.stop()

This is the one module that reads the whole `CollectorConfig`: each part gets its own
settings type (`config.incidents`, `config.console`, ...) and the objects it works with.
The HTTP routers are module-level; what their routes depend on (the stores, the API's
context, the diagnostics service) is provided to the app here with `collector.http.provide`,
and every router is included the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from agent.protocol import Sample
from collector import api
from collector.api import ApiContext
from collector.api import diagnostics as diagnostics_api
from collector.api import lookup as lookup_api
from collector.auth.tokens import TokenStore
from collector.config import CollectorConfig, IncidentsConfig, signing_key_path
from collector.diagnostics import Diagnostics
from collector.http import provide
from collector.incidents import metrics
from collector.incidents.engine import IncidentEngine
from collector.incidents.history import warm_start
from collector.incidents.outbox import Outbox
from collector.incidents.silence_store import SilenceStore
from collector.incidents.store import IncidentStore
from collector.inventory.lookup import Sources
from collector.inventory.store import InventoryStore
from collector.kb import KnowledgeBase
from collector.notify.delivery import Connector
from collector.notify.email import Email
from collector.notify.notifier import Notifier
from collector.notify.routing import Route, Router
from collector.notify.webhook import Webhook
from collector.rules.settings import load_settings
from collector.service import CollectorService


class Incidents:
    """The incident stores, engine, notifier and knowledge base of one collector process.

    `ship`, if given, gets the incident metric samples after every evaluation cycle;
    `history`, if given and `warm_start` is on, loads stored histories into the engine
    in the background at start (collector.incidents.history.warm_start).
    """

    def __init__(
        self,
        config: IncidentsConfig,
        db: Engine,
        clock: Callable[[], int] = time.time_ns,
        ship: Callable[[list[Sample]], None] | None = None,
        history: Callable[[IncidentEngine], object] | None = None,
    ) -> None:
        self.config = config
        self._history = history if config.warm_start else None
        self._warm: threading.Thread | None = None
        connectors: dict[str, Connector] = {name: Webhook(s) for name, s in config.webhooks.items()}
        connectors.update({name: Email(s) for name, s in config.email.items()})
        routes = config.routes or [Route(name) for name in connectors]
        self.outbox = Outbox(db, Router(routes))
        self.store = IncidentStore(db, self.outbox)
        self.silences = SilenceStore(db)
        settings = load_settings(Path(config.rules_file) if config.rules_file else None)
        self.engine = IncidentEngine(self.store, settings, clock, self.silences)
        self.notifier = Notifier(self.outbox, connectors, config.retry, clock)
        self.kb = KnowledgeBase.load(*(Path(d) for d in config.kb_dirs))
        self.clock = clock
        if ship is not None:
            self.engine.after_cycle = lambda now_ns: ship(self.metric_samples(now_ns))

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


@dataclass
class Collector:
    """Everything `deskwatch-collector run` starts, built and wired by `build`."""

    service: CollectorService
    incidents: Incidents
    diagnostics: Diagnostics

    def start(self) -> None:
        self.service.start()
        self.diagnostics.start()
        self.incidents.start()

    def stop(self) -> None:
        self.incidents.stop()
        self.diagnostics.stop()
        self.service.stop()


def build(config: CollectorConfig) -> Collector:
    """Every part of `collector run` built from `config` and wired together, not started."""
    service = CollectorService(config)
    db = service.engine
    incidents = Incidents(
        config.incidents,
        db,
        ship=service.write_samples,
        history=lambda engine: warm_start(engine, config.metrics.url, service.metrics_token),
    )
    service.add_observer(incidents.engine)
    service.ingest.correct_clocks(incidents.engine.settings.trust.max_skew_seconds)
    service.metrics.registry.register(incidents.prometheus_collector())
    # Diagnostics (issue 8): signed commands to agents, POST /api/v1/agents/{id}/diagnostics.
    diagnostics = Diagnostics(
        config.mqtt, db, incidents.store, key_file=signing_key_path(config), password=service.mqtt_password
    )
    inventory = InventoryStore(db)
    app = service.app
    provide(
        app,
        TokenStore(db),
        diagnostics,
        ApiContext(incidents.store, incidents.kb, incidents.engine),
        Sources(
            inventory,
            incidents.store,
            incidents.kb,
            conditions=lambda: incidents.engine.last_conditions,
            devices=incidents.engine.devices,
        ),
    )
    app.include_router(diagnostics_api.router, prefix="/api/v1")
    app.include_router(diagnostics_api.router, prefix="/api", include_in_schema=False)
    app.include_router(api.router)
    app.include_router(lookup_api.router)
    if config.console.enabled:  # the helpdesk console (issue 19): pages at / on the same listener
        from collector.auth.users import UserStore
        from collector.console.context import ConsoleContext
        from collector.console.live import MetricsReader
        from collector.console.pages import mount

        mount(
            app,
            ConsoleContext(
                incidents.store,
                inventory,
                UserStore(db),
                incidents.engine,
                incidents.kb,
                conditions=lambda: incidents.engine.last_conditions,
                diagnostics=diagnostics,
                metrics=MetricsReader(config.metrics.url, service.metrics_token),
                settings=config.console,
            ),
        )
    return Collector(service, incidents, diagnostics)
