"""Collector health: ingest rate, lag, decode errors, sequence gaps, write latency and buffers.

These are the collector's own Prometheus metrics on /metrics (collector/selfmetrics.py,
collector/presence.py); VictoriaMetrics gets them by scraping each collector
(docs/dashboards.md shows the scrape config), which adds the `instance` label.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    GREEN,
    ORANGE,
    RED,
    Part,
    Query,
    assemble,
    new_dashboard,
    ok_mapping,
    row,
    stat,
    steps,
    timeseries,
)

UID = "deskwatch-collector"
RATE = "$__rate_interval"


def _quantile(q: float, histogram: str) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket[{RATE}])))"


def build() -> model.Dashboard:
    """The collector health dashboard."""
    d = new_dashboard(
        UID,
        "deskwatch / Collector health",
        "Is the collector keeping up? Ingest rate and lag, rejected messages, lost batches, writes "
        "to VictoriaMetrics and the disk buffer.",
    )
    return assemble(d, panels())


def panels() -> list[Part]:
    """The collector health dashboard's sections and panels, top to bottom."""
    return [
        row("Now"),
        stat(
            "Connected to the broker",
            "none",
            Query("min(deskwatch_mqtt_connected)"),
            mappings=ok_mapping("Connected", "Disconnected"),
            description="The least connected of the collector processes.",
        ),
        stat(
            "Samples per second",
            "cps",
            Query(f"sum(rate(deskwatch_ingest_samples_total[{RATE}]))"),
        ),
        stat(
            "Lag p99",
            "s",
            Query(_quantile(0.99, "deskwatch_ingest_lag_seconds")),
            description="From an agent making a batch to its lines being written.",
            thresholds=steps(GREEN, (30, ORANGE), (300, RED)),
        ),
        stat(
            "Disk buffer",
            "bytes",
            Query("sum(deskwatch_writer_buffer_bytes)"),
            description="Lines held on disk while VictoriaMetrics cannot take them.",
            thresholds=steps(GREEN, (1, ORANGE), (100 * 1024 * 1024, RED)),
        ),
        row("Ingest"),
        timeseries(
            "Ingest rate",
            "cps",
            Query(
                f"sum by (instance) (rate(deskwatch_ingest_samples_total[{RATE}]))", "samples {{instance}}"
            ),
            Query(f"sum by (instance) (rate(deskwatch_ingest_lines_total[{RATE}]))", "lines {{instance}}"),
            Query(f"sum by (kind) (rate(deskwatch_ingest_messages_total[{RATE}]))", "messages: {{kind}}"),
            min_value=0,
        ),
        timeseries(
            "Batches",
            "cps",
            Query(f"sum by (result) (rate(deskwatch_ingest_batches_total[{RATE}]))", "{{result}}"),
            Query(f"sum(rate(deskwatch_ingest_duplicates_total[{RATE}]))", "duplicates dropped"),
            min_value=0,
        ),
        timeseries(
            "Lag",
            "s",
            Query(_quantile(0.5, "deskwatch_ingest_lag_seconds"), "p50"),
            Query(_quantile(0.99, "deskwatch_ingest_lag_seconds"), "p99"),
            description="From an agent making a batch to its lines being written; high after an outage "
            "while spools drain.",
            thresholds=steps(GREEN, (30, ORANGE), (300, RED)),
            min_value=0,
        ),
        timeseries(
            "Decode errors",
            "cps",
            Query(f"sum by (reason) (rate(deskwatch_ingest_decode_errors_total[{RATE}]))", "{{reason}}"),
            description="Messages rejected to the dead-letter store (`deskwatch-collector deadletter list`).",
            min_value=0,
            # A series appears with the first rejected message; until then nothing was rejected.
        ).no_value("0"),
        timeseries(
            "Sequence gaps",
            "short",
            Query(f"sum(increase(deskwatch_ingest_sequence_gaps_total[{RATE}]))", "batches missing"),
            Query(f"sum(increase(deskwatch_ingest_sequence_gaps_filled_total[{RATE}]))", "arrived late"),
            Query(
                "topk(5, max by (agent_id) (deskwatch_agent_sequence_gaps))", "never arrived: {{agent_id}}"
            ),
            description="Batches an agent numbered but the collector never saw (lost data).",
            min_value=0,
        ),
        row("Writes to VictoriaMetrics"),
        timeseries(
            "Write latency",
            "s",
            Query(_quantile(0.5, "deskwatch_writer_write_seconds"), "write p50"),
            Query(_quantile(0.99, "deskwatch_writer_write_seconds"), "write p99"),
            Query(_quantile(0.99, "deskwatch_ingest_flush_seconds"), "flush p99 (write, store, ack)"),
            thresholds=steps(GREEN, (1, ORANGE), (5, RED)),
            min_value=0,
        ),
        timeseries(
            "Write errors",
            "cps",
            Query(f"sum by (kind) (rate(deskwatch_writer_write_errors_total[{RATE}]))", "{{kind}}"),
            description="Failed writes by HTTP status or `connection`; the lines wait in the disk buffer.",
            min_value=0,
        ).no_value("0"),
        timeseries(
            "Disk buffer",
            "bytes",
            Query("sum by (instance) (deskwatch_writer_buffer_bytes)", "bytes {{instance}}"),
            min_value=0,
        ),
        timeseries(
            "Buffered bodies and dropped lines",
            "short",
            Query("sum by (instance) (deskwatch_writer_buffer_segments)", "bodies waiting {{instance}}"),
            Query(
                f"sum by (instance) (increase(deskwatch_writer_buffer_dropped_lines_total[{RATE}]))",
                "lines dropped {{instance}}",
            ),
            description="Dropped lines are lost: the buffer was full (metrics.buffer_max_bytes).",
            min_value=0,
        ),
    ]
