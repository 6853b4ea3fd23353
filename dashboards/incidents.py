"""Incidents and insights: what is open, what opens and resolves over time, what keeps coming back.

Two sources, both from the collector's incidents engine (docs/dashboards.md, "Where the
incident figures come from"): the open counts are `deskwatch_incidents_open` on the
collector's /metrics, scraped, so a resolved incident leaves the panels at the next
scrape; the counters are the `incidents_*` series the engine writes each cycle, which
carry `incidents_resolve_seconds_sum` for the time to resolve. The counters have a
`category` label only, so their panels cover the whole fleet whatever the site variable
says. The problem panels read the agents' states (`state_ok`).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat as stat_builder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    GREEN,
    ORANGE,
    RED,
    Part,
    Query,
    assemble,
    bars,
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
CRITICAL = f'severity="critical", {SITE}'
# Time to resolve: orange past an hour, red past a day.
RESOLVE = steps(GREEN, (3600, ORANGE), (86400, RED))
FLEET_WIDE = " Whole fleet: the incident counters have no site label."


def open_incidents(selector: str) -> str:
    """Open incidents per (category, severity, site) matching `selector`, counted once.

    Every collector exports the same counts from the shared store (docs/metrics.md), so
    `max` keeps one of them however many collectors are scraped.
    """
    return f"max by (category, severity, site) (deskwatch_incidents_open{{{selector}}})"


def open_incidents_stat(description: str) -> stat_builder.Panel:
    """How many incidents are open on the chosen sites, orange from one, red from ten."""
    return stat(
        "Open incidents",
        "none",
        Query(f"sum({open_incidents(SITE)})"),
        description=description,
        thresholds=steps(GREEN, (1, ORANGE), (10, RED)),
        no_value="0",
    )


def mean_time_to_resolve(by: str = "") -> str:
    """Seconds from opened to resolved, averaged over the incidents resolved in the shown range.

    Nothing resolved in the range gives no value rather than a division by zero.
    """
    group = f" by ({by})" if by else ""
    return (
        f"sum{group} (increase(incidents_resolve_seconds_sum[$__range]))"
        f" / (sum{group} (increase(incidents_resolved_total[$__range])) > 0)"
    )


def build() -> model.Dashboard:
    """The incidents and insights dashboard (variable: site)."""
    d = new_dashboard(
        UID,
        "deskwatch / Incidents and insights",
        "Open incidents by category, site and severity; opened vs resolved; time to resolve; the "
        "problems that keep coming back.",
    ).with_variable(label_variable("site", "Site", "deskwatch_agent_up", "site"))
    return assemble(d, panels())


def panels() -> list[Part]:
    """The incidents dashboard's sections and panels, top to bottom."""
    return [
        row("Incidents"),
        open_incidents_stat("Incidents open or acknowledged, not yet resolved."),
        stat(
            "Critical open",
            "none",
            Query(f"sum({open_incidents(CRITICAL)})"),
            description="Open incidents of severity critical.",
            thresholds=steps(GREEN, (1, RED)),
            no_value="0",
        ),
        stat(
            "Mean time to resolve",
            "s",
            Query(mean_time_to_resolve()),
            description="From opened to resolved, averaged over the incidents resolved in the shown "
            "range." + FLEET_WIDE,
            thresholds=RESOLVE,
            no_value="none resolved",
            width=12,
        ),
        bars(
            "Open by category",
            "none",
            Query(f"sum by (category) ({open_incidents(SITE)})", "{{category}}"),
            width=8,
        ),
        bars(
            "Open by site",
            "none",
            # Fleet-wide incidents have no site; the empty label gets a name for the legend.
            Query(
                f'label_replace(sum by (site) ({open_incidents(SITE)}), "site", "(fleet-wide)", "site", "")',
                "{{site}}",
            ),
            description="Fleet-wide incidents (the same problem at many sites) show as (fleet-wide).",
            width=8,
        ),
        bars(
            "Open by severity",
            "none",
            Query(f"sum by (severity) ({open_incidents(SITE)})", "{{severity}}"),
            width=8,
        ),
        timeseries(
            "Opened vs resolved",
            "short",
            Query("sum(increase(incidents_opened_total[$__interval]))", "opened"),
            Query("sum(increase(incidents_resolved_total[$__interval]))", "resolved"),
            description="Incidents opened (reopens included) and resolved per interval; opened above "
            "resolved means a backlog." + FLEET_WIDE,
            min_value=0,
        ),
        bars(
            "Mean time to resolve by category",
            "s",
            Query(mean_time_to_resolve("category"), "{{category}}"),
            description="From opened to resolved, averaged over each category's incidents resolved in "
            "the shown range." + FLEET_WIDE,
            thresholds=RESOLVE,
        ),
        bars(
            "Incidents opened by category",
            "short",
            Query(
                "sort_desc(sum by (category) (increase(incidents_opened_total[$__range])) > 0)",
                "{{category}}",
            ),
            description="The kinds of problem that opened the most incidents (reopens included) in "
            "the shown range." + FLEET_WIDE + ' The conditions behind them: "Problems seen most".',
            width=24,
        ),
        row("Problems the agents see"),
        table(
            "Problems now",
            "none",
            # `> 0` keeps only conditions failing somewhere; an empty table means all is well.
            Query(f"sum by (condition, severity, site) (state_ok{{{SITE}}} == bool 0) > 0"),
            description="How many subjects (PCs, printers, interfaces) fail each condition now.",
            thresholds=steps(ORANGE),
        ),
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
        ),
        timeseries(
            "Problems over time by condition",
            "short",
            Query(f"sum by (condition) (state_ok{{{SITE}}} == bool 0) > 0", "{{condition}}"),
            min_value=0,
            stacked=True,
            width=24,
        ),
    ]
