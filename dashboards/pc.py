"""PC detail: everything one agent reports about its PC, its network checks and its printers."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    CONSOLE,
    GREEN,
    ORANGE,
    RED,
    Part,
    Query,
    assemble,
    bars,
    console_variable,
    label_variable,
    link,
    new_dashboard,
    ok_mapping,
    row,
    stat,
    steps,
    table,
    timeseries,
)

UID = "deskwatch-pc"
PC = 'agent_id="$agent"'
BUSY = steps(GREEN, (80, ORANGE), (95, RED))
RATE = "$__rate_interval"


def build() -> model.Dashboard:
    """The PC detail dashboard (variables: site, agent)."""
    d = (
        new_dashboard(
            UID,
            "deskwatch / PC detail",
            "One PC as its agent sees it: host figures, network checks, the printers it polls, "
            "the agent itself.",
        )
        .with_variable(label_variable("site", "Site", "deskwatch_agent_up", "site", multi=False))
        .with_variable(
            label_variable("agent", "PC", 'deskwatch_agent_up{site="$site"}', "agent_id", multi=False)
        )
        .with_variable(console_variable())
        .link(link("This PC in the helpdesk console", CONSOLE + "/pc/${agent}"))
    )
    return assemble(d, panels())


def panels() -> list[Part]:
    """The PC detail dashboard's sections and panels, top to bottom."""
    return [
        row("Now"),
        stat(
            "Agent",
            "none",
            Query(f"max(deskwatch_agent_up{{{PC}}})"),
            mappings=ok_mapping("Online", "Not online"),
            description="As the collector sees it: online, or offline/lost/stale.",
        ),
        stat(
            "Last seen",
            "s",
            Query(f"time() - max(deskwatch_agent_last_seen_timestamp_seconds{{{PC}}})"),
            description="How long ago the collector last heard from this PC. When it is away (asleep, "
            "shut down, lost), the panels below show its last report until they go blank, never as now.",
            thresholds=steps(GREEN, (300, ORANGE), (3600, RED)),
        ),
        stat("Uptime", "s", Query(f"system_uptime_seconds{{{PC}}}")),
        stat("CPU", "percent", Query(f"cpu_used_percent{{{PC}}}"), thresholds=BUSY),
        stat("Memory", "percent", Query(f"memory_used_percent{{{PC}}}"), thresholds=BUSY),
        table(
            "Checks",
            "none",
            Query(f"max by (condition, subject, severity) (state_ok{{{PC}}})"),
            mappings=ok_mapping(),
            description="Every state the agent reported in its latest rounds: gateway, DNS, internet, "
            "printers it polls. Problem = the check fails now.",
            width=24,
            height=7,
        ),
        row("Host"),
        timeseries(
            "CPU",
            "percent",
            Query(f"cpu_used_percent{{{PC}}}", "all cores"),
            Query(f"cpu_core_used_percent{{{PC}}}", "core {{core}}"),
            thresholds=BUSY,
            min_value=0,
            max_value=100,
        ),
        timeseries(
            "Load average",
            "none",
            Query(f"cpu_load1{{{PC}}}", "1 min"),
            Query(f"cpu_load5{{{PC}}}", "5 min"),
            Query(f"cpu_load15{{{PC}}}", "15 min"),
            Query(f"cpu_cores{{{PC}}}", "cores"),
            description="Runnable processes (not reported on Windows); above the core count means waiting.",
            min_value=0,
        ),
        timeseries(
            "Memory",
            "bytes",
            Query(f"memory_used_bytes{{{PC}}}", "used"),
            Query(f"memory_available_bytes{{{PC}}}", "available"),
            Query(f"memory_total_bytes{{{PC}}}", "total"),
            Query(f"swap_used_bytes{{{PC}}}", "swap used"),
            min_value=0,
        ),
        bars(
            "Disks used",
            "percent",
            Query(f"disk_used_percent{{{PC}}}", "{{mount}}"),
            thresholds=BUSY,
            max_value=100,
        ),
        timeseries(
            "Disk free space",
            "bytes",
            Query(f"disk_free_bytes{{{PC}}}", "{{mount}}"),
            min_value=0,
        ),
        timeseries(
            "Disk fill rate",
            "Bps",
            # deriv of used bytes: positive while the disk fills; the disk_filling rule alerts on it.
            Query(f"deriv(disk_used_bytes{{{PC}}}[$__range])", "{{mount}}"),
            description="How fast each disk fills, fitted over the shown range; negative while it empties.",
        ),
        timeseries(
            "Disk I/O",
            "Bps",
            Query(f"rate(disk_io_read_bytes_total{{{PC}}}[{RATE}])", "read {{disk}}"),
            Query(f"rate(disk_io_write_bytes_total{{{PC}}}[{RATE}])", "write {{disk}}"),
        ),
        timeseries(
            "Network traffic",
            "bps",
            Query(f"rate(net_bytes_recv_total{{{PC}}}[{RATE}]) * 8", "in {{interface}}"),
            Query(f"rate(net_bytes_sent_total{{{PC}}}[{RATE}]) * 8", "out {{interface}}"),
        ),
        timeseries(
            "Network errors and drops",
            "cps",
            Query(
                f"rate(net_errors_in_total{{{PC}}}[{RATE}]) + rate(net_errors_out_total{{{PC}}}[{RATE}])",
                "errors {{interface}}",
            ),
            Query(
                f"rate(net_drops_in_total{{{PC}}}[{RATE}]) + rate(net_drops_out_total{{{PC}}}[{RATE}])",
                "drops {{interface}}",
            ),
            min_value=0,
        ),
        timeseries(
            "Processes",
            "none",
            Query(f"system_processes{{{PC}}}", "processes"),
            min_value=0,
        ),
        row("Network checks"),
        timeseries(
            "Round-trip times",
            "s",
            Query(f"net_gateway_rtt_seconds{{{PC}}}", "gateway {{gateway}}"),
            Query(f"net_dns_rtt_seconds{{{PC}}}", "DNS {{name}}"),
            Query(f"net_internet_rtt_seconds{{{PC}}}", "internet"),
            Query(f"net_tcp_rtt_seconds{{{PC}}}", "TCP {{target}}"),
            Query(f"net_http_rtt_seconds{{{PC}}}", "HTTP {{url}}"),
            min_value=0,
        ),
        timeseries(
            "Checks passing",
            "bool_yes_no",
            Query(f"net_gateway_ok{{{PC}}}", "gateway {{gateway}}"),
            Query(f"net_dns_ok{{{PC}}}", "DNS {{name}}"),
            Query(f"net_internet_reachable{{{PC}}}", "internet"),
            Query(f"net_tcp_ok{{{PC}}}", "TCP {{target}}"),
            Query(f"net_http_ok{{{PC}}}", "HTTP {{url}}"),
            min_value=0,
            max_value=1,
        ),
        row("Printers and devices this PC polls"),
        bars(
            "Supply levels",
            "percent",
            Query(f"printer_supply_level_percent{{{PC}}}", "{{device}} {{supply}}"),
            thresholds=steps(RED, (5, ORANGE), (15, GREEN)),
            max_value=100,
        ),
        table(
            "Devices",
            "none",
            Query(f"max by (device, kind) (snmp_device_reachable{{{PC}}})"),
            mappings=ok_mapping("Reachable", "Unreachable"),
            description="Printers and network devices this PC polls over SNMP.",
        ),
        row("The agent"),
        timeseries(
            "Spool",
            "none",
            Query(f"agent_spool_depth_batches{{{PC}}}", "batches waiting"),
            Query(f"agent_spool_dropped_total{{{PC}}}", "dropped (total)"),
            description="Batches waiting for the broker; grows while the broker is unreachable.",
            min_value=0,
        ),
        timeseries(
            "Agent footprint",
            "bytes",
            Query(f"agent_rss_bytes{{{PC}}}", "memory (RSS)"),
            min_value=0,
        ),
    ]
