"""Incident state as Samples for VictoriaMetrics, so Grafana shows it next to the fleet's metrics.

`incident_samples(stats, now_ns)` is pure; the writer ships the Samples like any
agent's (metric names `incidents_open{category,severity,site}`,
`incidents_opened_total{category}`, `incidents_resolved_total{category}`,
`incidents_resolve_seconds_sum{category}`; average time to resolve in PromQL is
`increase(incidents_resolve_seconds_sum[1d]) / increase(incidents_resolved_total[1d])`).
Totals count from the store, so every worker reports the same numbers and VictoriaMetrics'
deduplication keeps one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.protocol import Sample
from collector.incidents.reconcile import EventKind, IncidentStatus
from collector.incidents.schema import incident_events, incidents
from collector.incidents.store import IncidentStore

MEASUREMENT = "incidents"


@dataclass(frozen=True, slots=True)
class Stats:
    """Aggregates for incident metrics: open counts by (category, severity, site), totals by category."""

    open: dict[tuple[str, str, str], int]
    opened_total: dict[str, int]
    resolved_total: dict[str, int]
    resolve_seconds_sum: dict[str, float]


def stats(store: IncidentStore) -> Stats:
    """Read the aggregates behind the incident metrics in three grouped queries."""
    c = incidents.c
    with store.engine.connect() as conn:
        open_rows = conn.execute(
            sa.select(c.category, c.severity, c.site, sa.func.count())
            .where(c.status != IncidentStatus.RESOLVED)
            .group_by(c.category, c.severity, c.site)
        )
        # Totals count timeline events, not rows, so they only ever grow: a reopened
        # incident adds an opening and later a resolution instead of moving a row between
        # states (a falling "total" would read as a counter reset to PromQL's increase()).
        e, start = incident_events.c, incident_events.alias("start")
        opening = (EventKind.OPENED.value, EventKind.REOPENED.value)
        opened = conn.execute(
            sa.select(c.category, sa.func.count())
            .select_from(incident_events.join(incidents, c.id == e.incident_id))
            .where(e.kind.in_(opening))
            .group_by(c.category)
        )
        began = (
            sa.select(sa.func.max(start.c.time_ns))
            .where(
                start.c.incident_id == e.incident_id, start.c.kind.in_(opening), start.c.time_ns <= e.time_ns
            )
            .scalar_subquery()
        )
        resolved = conn.execute(
            sa.select(c.category, sa.func.count(), sa.func.sum(e.time_ns - began))
            .select_from(incident_events.join(incidents, c.id == e.incident_id))
            .where(e.kind == EventKind.RESOLVED.value)
            .group_by(c.category)
        )
        opened_rows = list(opened)
        resolved_rows = list(resolved)
        return Stats(
            open={(r[0], r[1], r[2]): int(r[3]) for r in open_rows},
            opened_total={r[0]: int(r[1]) for r in opened_rows},
            resolved_total={r[0]: int(r[1]) for r in resolved_rows},
            resolve_seconds_sum={r[0]: float(r[2] or 0) / 1e9 for r in resolved_rows},
        )


def incident_samples(s: Stats, now_ns: int) -> list[Sample]:
    samples = [
        Sample(
            MEASUREMENT,
            {"open": count},
            {"category": category, "severity": severity, "site": site or "-"},
            now_ns,
        )
        for (category, severity, site), count in sorted(s.open.items())
    ]
    for category in sorted(set(s.opened_total) | set(s.resolved_total)):
        samples.append(
            Sample(
                MEASUREMENT,
                {
                    "opened_total": s.opened_total.get(category, 0),
                    "resolved_total": s.resolved_total.get(category, 0),
                    "resolve_seconds_sum": s.resolve_seconds_sum.get(category, 0.0),
                },
                {"category": category},
                now_ns,
            )
        )
    return samples


def collect(store: IncidentStore, now_ns: int) -> list[Sample]:
    """Read the store and return the samples to write (call it once per cycle)."""
    return incident_samples(stats(store), now_ns)


class PrometheusIncidents(Collector):
    """The same figures on the collector's /metrics: `registry.register(PrometheusIncidents(store))`."""

    def __init__(self, store: IncidentStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = stats(self.store)
        open_ = GaugeMetricFamily(
            "deskwatch_incidents_open", "Open incidents", labels=["category", "severity", "site"]
        )
        for (category, severity, site), count in sorted(s.open.items()):
            open_.add_metric([category, severity, site], count)
        yield open_
        opened = CounterMetricFamily(
            "deskwatch_incidents_opened", "Incidents opened or reopened", labels=["category"]
        )
        resolved = CounterMetricFamily(
            "deskwatch_incidents_resolved", "Incidents resolved", labels=["category"]
        )
        for category in sorted(set(s.opened_total) | set(s.resolved_total)):
            opened.add_metric([category], s.opened_total.get(category, 0))
            resolved.add_metric([category], s.resolved_total.get(category, 0))
        yield opened
        yield resolved
