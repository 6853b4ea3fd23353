"""The collector's own metrics, served on /metrics in Prometheus format.

All live in one `CollectorRegistry` per process (not the global one), so tests can run
several collectors side by side and other subsystems add theirs with `registry=`.
docs/metrics.md lists them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400)


class SelfMetrics:
    """Every self-metric of ingest, the writer and the dead-letter store."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "deskwatch_ingest_messages", "MQTT messages received, by topic kind", ["kind"], registry=r
        )
        self.batches = Counter(
            "deskwatch_ingest_batches",
            "Batches accepted (stored) or dropped as duplicates",
            ["result"],
            registry=r,
        )
        self.samples = Counter("deskwatch_ingest_samples", "Samples and states accepted", registry=r)
        self.lines = Counter("deskwatch_ingest_lines", "Line-protocol lines handed to the writer", registry=r)
        self.decode_errors = Counter(
            "deskwatch_ingest_decode_errors",
            "Messages rejected to the dead-letter store, by reason",
            ["reason"],
            registry=r,
        )
        self.clock_corrected = Counter(
            "deskwatch_ingest_clock_corrected_batches",
            "Batches written at the collector's time because their agent's clock is off",
            registry=r,
        )
        self.gaps = Counter(
            "deskwatch_ingest_sequence_gaps", "Batches found missing from an agent's sequence", registry=r
        )
        self.gaps_filled = Counter(
            "deskwatch_ingest_sequence_gaps_filled", "Missing batches that arrived late after all", registry=r
        )
        self.duplicates = Counter(
            "deskwatch_ingest_duplicates",
            "Batches dropped because their sequence number was seen",
            registry=r,
        )
        self.flush_seconds = Histogram(
            "deskwatch_ingest_flush_seconds",
            "Time to store one flush (write, store, acknowledge)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.lag_seconds = Histogram(
            "deskwatch_ingest_lag_seconds",
            "From the agent making a batch to its lines being written",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.write_seconds = Histogram(
            "deskwatch_writer_write_seconds",
            "One successful write to the metrics database",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.write_errors = Counter(
            "deskwatch_writer_write_errors",
            "Failed writes, by HTTP status or 'connection'",
            ["kind"],
            registry=r,
        )
        self.buffer_bytes = Gauge(
            "deskwatch_writer_buffer_bytes", "Bytes waiting in the disk buffer", registry=r
        )
        self.buffer_segments = Gauge(
            "deskwatch_writer_buffer_segments", "Bodies waiting in the disk buffer", registry=r
        )
        self.buffer_dropped_lines = Counter(
            "deskwatch_writer_buffer_dropped_lines",
            "Lines dropped because the disk buffer was full",
            registry=r,
        )
        self.deadletter_dropped = Counter(
            "deskwatch_deadletter_dropped",
            "Dead letters deleted, oldest first, to keep the store within max_entries and max_total_bytes",
            registry=r,
        )
        self.mqtt_connected = Gauge("deskwatch_mqtt_connected", "1 while connected to the broker", registry=r)
        self.observer_errors = Counter(
            "deskwatch_ingest_observer_errors",
            "Exceptions raised by observers (logged, then ignored)",
            registry=r,
        )
