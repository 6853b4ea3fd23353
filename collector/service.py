"""The data path of one collector process: ingest, writer, presence checks and the HTTP listeners.

service = CollectorService(config)
service.add_observer(incidents_engine)    # before start(): sees every batch and presence change
service.app                                # the FastAPI app behind --listen; routers: collector.app
service.start(); ...; service.stop()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from fastapi import FastAPI

from agent.protocol import PROTOCOL_VERSION, Batch, Sample
from collector import presence, sequence
from collector.auth.tokens import TokenStore
from collector.config import CollectorConfig, listen_address
from collector.db import begin_write, make_engine, migrate
from collector.http import Health, Server, create_app, create_internal_app
from collector.ingest import Ingest, IngestSettings
from collector.inventory import store as inventory_store
from collector.limits import AgentLimits, SeriesWatch, series_per_agent
from collector.line_protocol import batch_lines
from collector.observers import Observer
from collector.selfmetrics import SelfMetrics
from collector.writer import DiskBuffer, MetricsWriter, Sink

log = logging.getLogger(__name__)


class CollectorService:
    """Everything `deskwatch-collector run` starts, in one object."""

    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.engine = make_engine(config.store.url)
        migrate(self.engine)
        self.metrics = SelfMetrics()
        self._exporter = presence.PresenceExporter()
        self.metrics.registry.register(self._exporter)
        token = os.environ.get(config.metrics.token_env, "") if config.metrics.token_env else ""
        self.metrics_token = token  # for readers of the metrics database (incident warm start)
        password = os.environ.get(config.mqtt.password_env, "") if config.mqtt.password_env else ""
        self.mqtt_password = password
        buffer_dir = Path(config.metrics.buffer_dir)
        self._buffer = DiskBuffer(buffer_dir, config.metrics.buffer_max_bytes, self.metrics)
        self._sink = Sink(MetricsWriter(config.metrics, self.metrics, token), self._buffer, config.metrics)
        self.limits = AgentLimits(config.limits)
        self.ingest = Ingest(
            ingest_settings(config),
            self.engine,
            self._sink,
            self.metrics,
            password=password,
            limits=self.limits,
        )
        self._series_watch = SeriesWatch(
            self.limits, lambda: series_per_agent(config.metrics.url, token), time.time_ns
        )
        self.ingest.add_presence_writer(inventory_store.record)  # inventories arrive in births
        tokens = TokenStore(self.engine)  # /metrics and /openapi.json: any valid API token
        http = config.http
        self.app: FastAPI = create_app(
            self.metrics.registry,
            self.health,
            authorize=lambda token: tokens.identity(token) is not None,
            operations=not http.internal_listen,
            max_body_bytes=http.max_body_bytes,
        )
        tls = (http.tls_cert_file, http.tls_key_file)
        self._servers = [Server(self.app, *listen_address(http.listen), *tls)]
        if http.internal_listen:
            internal = create_internal_app(self.metrics.registry, self.health, self.app, http.max_body_bytes)
            self._servers.append(Server(internal, *listen_address(http.internal_listen), *tls))
        self._stop = threading.Event()
        self._presence_thread = threading.Thread(target=self._presence_loop, name="presence", daemon=True)

    def add_observer(self, observer: Observer) -> None:
        """Call `observer` for every accepted batch and every presence change."""
        self.ingest.add_observer(observer)

    def write_samples(self, samples: list[Sample]) -> None:
        """Write the collector's own Samples (incident figures) to the metrics database."""
        # line_protocol takes `site` from the batch (an agent cannot claim another site),
        # so the samples go out in one batch per site they name.
        by_site: dict[str, list[Sample]] = {}
        for sample in samples:
            by_site.setdefault(sample.tags.get("site", ""), []).append(sample)
        now = time.time_ns()
        lines = [
            line
            for site, group in by_site.items()
            for line in batch_lines(
                Batch(
                    v=PROTOCOL_VERSION, agent_id="collector", seq=0, created_ns=now, site=site, samples=group
                )
            )
        ]
        if lines:
            self._sink.store("\n".join(lines).encode())

    def health(self) -> Health:
        connected = self.ingest.connected
        return Health(
            ok=connected,
            mqtt_connected=connected,
            metrics_writable=self._sink.healthy,
            buffer_bytes=self._buffer.size_bytes,
        )

    def start(self) -> None:
        self._sink.start()
        self.ingest.start()
        self._series_watch.start()
        self._presence_thread.start()
        for server in self._servers:
            server.start()
        http = self.config.http
        log.info(
            "collector running; API on %s://%s%s",
            "https" if http.tls_cert_file else "http",
            http.listen,
            f", internal listener on {http.internal_listen}" if http.internal_listen else "",
        )

    def stop(self) -> None:
        """Stop within about metrics.shutdown_timeout_seconds; buffered data stays on disk."""
        timeout = self.config.metrics.shutdown_timeout_seconds
        self._stop.set()
        self.ingest.stop(timeout)
        self._series_watch.stop()
        self._sink.close(timeout=2.0)
        for server in self._servers:
            server.stop()
        self._presence_thread.join(2.0)
        self.engine.dispose()
        log.info("collector stopped")

    def _presence_loop(self) -> None:
        settings = self.config.presence
        while True:
            try:
                self.check_presence(time.time_ns())
            except Exception:
                log.exception("presence check failed")
            if self._stop.wait(settings.check_interval_seconds):
                return

    def check_presence(self, now_ns: int) -> None:
        """Mark agents stale, tell the observers, refresh the agent metrics."""
        settings = self.config.presence
        with begin_write(self.engine) as conn:
            changes = presence.expire(
                conn, now_ns, settings.stale_intervals, settings.default_interval_seconds
            )
        self.ingest.notify(changes)
        with self.engine.connect() as conn:
            self._exporter.update(presence.agents(conn), sequence.stored_gaps(conn))


def ingest_settings(config: CollectorConfig) -> IngestSettings:
    """Ingest's settings, from the tables of collector.toml that hold them."""
    return IngestSettings(
        mqtt=config.mqtt,
        flush_lines=config.metrics.batch_lines,
        flush_interval_seconds=config.metrics.flush_interval_seconds,
        deadletter=config.deadletter,
        limits=config.limits,
    )
