"""Fleet overview: which PCs are online, which work hardest, and what is wrong right now."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from dashboards.incidents import open_incidents_stat
from dashboards.panels import (
    GREEN,
    ORANGE,
    PC_PAGE,
    PC_ROW,
    RED,
    Part,
    Query,
    assemble,
    bars,
    console_variable,
    label_variable,
    link,
    new_dashboard,
    row,
    stat,
    steps,
    table,
    timeseries,
)

UID = "deskwatch-fleet"
SITE = 'site=~"$site"'
# The collector's rules raise cpu_high/memory_high/disk_full at 95 %; orange starts earlier.
BUSY = steps(GREEN, (80, ORANGE), (95, RED))
# Every collector process exports the same agent series (docs/metrics.md): max first, then count.
UP = f"max by (agent_id, site) (deskwatch_agent_up{{{SITE}}})"
# The rankings side by side: (title, what is ranked, legend).
TOP = (
    ("Top PCs by CPU", "cpu_used_percent", "{{agent_id}}"),
    ("Top PCs by memory", "memory_used_percent", "{{agent_id}}"),
    ("Fullest disks", "disk_used_percent", "{{agent_id}} {{mount}}"),
)


def build() -> model.Dashboard:
    """The fleet overview dashboard."""
    d = new_dashboard(
        UID,
        "deskwatch / Fleet overview",
        "Agents online, lost and stale per site, the busiest PCs, and the problems agents see now.",
    ).with_variable(label_variable("site", "Site", "deskwatch_agent_up", "site"))
    d = d.with_variable(console_variable())
    return assemble(d, panels())


def panels() -> list[Part]:
    """The fleet overview dashboard's sections and panels, top to bottom."""
    return [
        row("Agents"),
        stat(
            "Agents online",
            "none",
            Query(f"sum({UP})"),
            description="Agents whose last message was a birth or a batch, within their staleness window.",
            thresholds=steps(GREEN),
        ),
        stat(
            "Agents not online",
            "none",
            # 1 - up counts offline, lost and stale agents and is 0 (not "no data") when none are.
            Query(f"sum(1 - {UP})"),
            description="Offline (shut down), lost (Last Will) or stale (no batch for a few intervals).",
            thresholds=steps(GREEN, (1, RED)),
        ),
        stat(
            "Problems agents see now",
            "none",
            # `== bool 0` turns each failing state into 1 and each passing one into 0.
            Query(f"sum(state_ok{{{SITE}}} == bool 0)"),
            description="States reported as a problem in the agents' latest rounds "
            "(gateway, DNS, printers, interfaces...).",
            thresholds=steps(GREEN, (1, ORANGE)),
        ),
        open_incidents_stat("Incidents the collector has open (not yet resolved)."),
        table(
            "Agents by site and status",
            "none",
            Query(
                "count by (site, status) "
                f"(max by (agent_id, site, status) (deskwatch_agent_status{{{SITE}}}))"
            ),
            description="How many agents of each site are online, offline, lost or stale.",
        ),
        timeseries(
            "Agents online per site",
            "none",
            Query(f"sum by (site) ({UP})", "{{site}}"),
            min_value=0,
        ),
        table(
            "Agents not heard from",
            "s",
            # Agents that went quiet have the largest ages, so the top 20 always shows them.
            Query(
                "topk(20, time() - max by (agent_id, site) "
                f"(deskwatch_agent_last_seen_timestamp_seconds{{{SITE}}}))"
            ),
            description="The 20 agents heard from longest ago: seconds since their last batch or birth.",
            thresholds=steps(GREEN, (120, ORANGE), (600, RED)),
            links=[link("The PC in the helpdesk console", PC_ROW)],
            width=24,
        ),
        row("Busiest PCs"),
        *(
            bars(
                title,
                "percent",
                Query(f"topk(10, {measure}{{{SITE}}})", legend),
                thresholds=BUSY,
                max_value=100,
                links=[link("The PC in the helpdesk console", PC_PAGE)],
                width=8,
            )
            for title, measure, legend in TOP
        ),
        timeseries(
            "CPU of the busiest PCs",
            "percent",
            Query(f"topk(5, cpu_used_percent{{{SITE}}})", "{{agent_id}}"),
            thresholds=BUSY,
            min_value=0,
            max_value=100,
            width=24,
        ),
    ]
