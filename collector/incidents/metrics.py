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

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.protocol import Sample
from collector.incidents.store import IncidentStore, Stats, stats

MEASUREMENT = "incidents"


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
