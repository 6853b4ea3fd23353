"""Incidents and insights: what is open, what opens and resolves over time, what keeps coming back.

The incident panels read the incident metrics the collector is to export
(`deskwatch_incidents_open`, `deskwatch_incidents_opened_total`,
`deskwatch_incidents_resolved_total`, `deskwatch_incident_resolve_seconds`; see
docs/dashboards.md, "Metrics the dashboards wait for"). The problem panels read the
agents' states (`state_ok`), which exist today.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    GREEN,
    ORANGE,
    RED,
    Query,
    bars,
    finish,
    label_variable,
    new_dashboard,
    row,
    stat,
    steps,
    table,
    timeseries,
)

UID = "deskwatch-incidents"
SITE = 'site=~"$site"'
# Metrics the incidents engine must export before the incident panels show data (issue 7 report).
INCIDENT_METRICS = (
    "deskwatch_incidents_open",
    "deskwatch_incidents_opened_total",
    "deskwatch_incidents_resolved_total",
    "deskwatch_incident_resolve_seconds_bucket",
)


def build() -> model.Dashboard:
    """The incidents and insights dashboard (variable: site)."""
    d = new_dashboard(
        UID,
        "deskwatch / Incidents and insights",
        "Open incidents by category, site and severity; opened vs resolved; time to resolve; the "
        "problems that keep coming back.",
    ).with_variable(label_variable("site", "Site", "deskwatch_agent_up", "site"))

    d = d.with_row(row("Incidents"))
    d = d.with_panel(
        stat(
            "Open incidents",
            "none",
            Query(f"sum(deskwatch_incidents_open{{{SITE}}})"),
            thresholds=steps(GREEN, (1, ORANGE), (10, RED)),
            no_value="0",
        )
    )
    d = d.with_panel(
        stat(
            "Critical open",
            "none",
            Query(f'sum(deskwatch_incidents_open{{severity="critical", {SITE}}})'),
            thresholds=steps(GREEN, (1, RED)),
            no_value="0",
        )
    )
    d = d.with_panel(
        stat(
            "Median time to resolve",
            "s",
            Query(
                "histogram_quantile(0.5, sum by (le) "
                f"(increase(deskwatch_incident_resolve_seconds_bucket{{{SITE}}}[$__range])))"
            ),
            thresholds=steps(GREEN, (3600, ORANGE), (86400, RED)),
            width=12,
        )
    )
    d = d.with_panel(
        bars(
            "Open by category",
            "none",
            Query(f"sum by (category) (deskwatch_incidents_open{{{SITE}}})", "{{category}}"),
            width=8,
        )
    )
    d = d.with_panel(
        bars(
            "Open by site",
            "none",
            Query(f"sum by (site) (deskwatch_incidents_open{{{SITE}}})", "{{site}}"),
            width=8,
        )
    )
    d = d.with_panel(
        bars(
            "Open by severity",
            "none",
            Query(f"sum by (severity) (deskwatch_incidents_open{{{SITE}}})", "{{severity}}"),
            width=8,
        )
    )
    d = d.with_panel(
        timeseries(
            "Opened vs resolved",
            "short",
            Query(f"sum(increase(deskwatch_incidents_opened_total{{{SITE}}}[$__interval]))", "opened"),
            Query(f"sum(increase(deskwatch_incidents_resolved_total{{{SITE}}}[$__interval]))", "resolved"),
            description="Incidents opened and resolved per interval; opened above resolved means a backlog.",
            min_value=0,
        )
    )
    d = d.with_panel(
        timeseries(
            "Time to resolve by category",
            "s",
            Query(
                "histogram_quantile(0.9, sum by (le, category) "
                f"(rate(deskwatch_incident_resolve_seconds_bucket{{{SITE}}}[$__rate_interval])))",
                "p90 {{category}}",
            ),
            min_value=0,
        )
    )
    d = d.with_panel(
        bars(
            "Top recurring incidents",
            "short",
            Query(
                "topk(10, sum by (condition, site) "
                f"(increase(deskwatch_incidents_opened_total{{{SITE}}}[$__range])))",
                "{{condition}} {{site}}",
            ),
            description="Conditions that opened the most incidents in the shown range.",
            width=24,
        )
    )

    d = d.with_row(row("Problems the agents see"))
    d = d.with_panel(
        table(
            "Problems now",
            "none",
            # `> 0` keeps only conditions failing somewhere; an empty table means all is well.
            Query(f"sum by (condition, severity, site) (state_ok{{{SITE}}} == bool 0) > 0"),
            description="How many subjects (PCs, printers, interfaces) fail each condition now.",
            thresholds=steps(ORANGE),
        )
    )
    d = d.with_panel(
        bars(
            "Problems seen most",
            "short",
            # avg_over_time of the 0/1 "failing" series is the share of the range it failed;
            # summed over subjects, 3 means three failing all along or six half the time.
            Query(
                "topk(10, sum by (condition) "
                f"(avg_over_time((state_ok{{{SITE}}} == bool 0)[$__range:$__interval])))",
                "{{condition}}",
            ),
            description="Conditions that failed the longest over the shown range, summed over the "
            "subjects failing them.",
        )
    )
    d = d.with_panel(
        timeseries(
            "Problems over time by condition",
            "short",
            Query(f"sum by (condition) (state_ok{{{SITE}}} == bool 0) > 0", "{{condition}}"),
            min_value=0,
            stacked=True,
            width=24,
        )
    )
    return finish(d)
