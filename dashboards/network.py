"""Network and modems: gateway, DNS and internet as each site's PCs see them; the modem's own view.

The PCs' checks say whether the network works for users; the modem/router polled over
SNMP says why not: interface traffic, errors and status, reboots, and DSL or cable line
quality where the device reports it (ADSL-LINE-MIB, DOCS-IF-MIB).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    DEVICE_ROW,
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

UID = "deskwatch-network"
SITE = 'site=~"$site"'
DEV = 'site=~"$site", device=~"$device"'
RATE = "$__rate_interval"
# Every SNMP device that is not a printer: routers and modems, firewalls, wireless APs.
NET = 'kind=~"network|firewall|wireless"'
# Round trips on an office LAN are a few ms; beyond 100 ms users notice.
RTT = steps(GREEN, (0.05, ORANGE), (0.2, RED))
# What the PCs of each site measure: (title, field, thresholds).
ROUND_TRIPS = (
    ("Gateway round trip by site", "net_gateway_rtt_seconds", RTT),
    ("DNS lookup time by site", "net_dns_rtt_seconds", RTT),
    ("Internet round trip by site", "net_internet_rtt_seconds", steps(GREEN, (0.1, ORANGE), (0.5, RED))),
)


def _by_site(measurement_field: str) -> str:
    return f"avg by (site) ({measurement_field}{{{SITE}}})"


def _iface(expr: str) -> str:
    # Several PCs may poll one modem: max by the interface's identity shows it once.
    return f"max by (device, if_index, if_name) ({expr})"


def _iface_rate(counter: str) -> str:
    return _iface(f"rate({counter}{{{DEV}}}[{RATE}])")


def _line(field: str, by: str) -> str:
    return f"max by ({by}) ({field}{{{DEV}}})"


def build() -> model.Dashboard:
    """The network and modems dashboard (variables: site, device)."""
    d = (
        new_dashboard(
            UID,
            "deskwatch / Network and modems",
            "Gateway, DNS and internet latency and failures per site; modem and router interfaces, "
            "reboots and line quality.",
        )
        .with_variable(label_variable("site", "Site", "net_gateway_ok", "site"))
        .with_variable(
            label_variable(
                "device", "Modem / router", f'snmp_device_info_value{{{NET}, site=~"$site"}}', "device"
            )
        )
        .with_variable(console_variable())
    )
    return assemble(d, panels())


def panels() -> list[Part]:
    """The network dashboard's sections and panels, top to bottom."""
    return [
        row("What the PCs see"),
        *(
            timeseries(
                title, "s", Query(_by_site(measure), "{{site}}"), thresholds=marks, min_value=0, width=8
            )
            for title, measure, marks in ROUND_TRIPS
        ),
        timeseries(
            "Checks failing by site",
            "percentunit",
            # 1 - the share of the site's PCs whose check passes: 1.0 means every PC fails it.
            Query(f"1 - {_by_site('net_gateway_ok')}", "gateway {{site}}"),
            Query(f"1 - {_by_site('net_dns_ok')}", "DNS {{site}}"),
            Query(f"1 - {_by_site('net_internet_reachable')}", "internet {{site}}"),
            description="Share of each site's PCs whose check fails. All PCs of a site failing points at "
            "the site's network, one PC at that PC.",
            thresholds=steps(GREEN, (0.1, ORANGE), (0.5, RED)),
            min_value=0,
            max_value=1,
        ),
        table(
            "Internet reachable now",
            "percentunit",
            Query(_by_site("net_internet_reachable")),
            description="Share of each site's PCs that reach the internet now.",
            thresholds=steps(RED, (0.5, ORANGE), (0.99, GREEN)),
        ),
        row("Modems and routers"),
        table(
            "Devices",
            "none",
            Query(f"max by (device, vendor, model, address) (snmp_device_info_value{{{NET}, {DEV}}})"),
            hide=("Time", "__name__", "Value", "value"),
            links=[link("The device in the helpdesk console", DEVICE_ROW)],
            width=12,
            height=6,
        ),
        table(
            "Not monitored by SNMP",
            "none",
            # never reachable within 30 days (an answer sets snmp_device_reachable to 1)
            Query(
                'max by (device, source, site) (max_over_time(snmp_device_reachable{site=~"$site"}[30d]))'
                " == 0"
            ),
            description="Devices the PCs found (their default gateway, the printers of their print system) "
            "that never answered SNMP in 30 days: most office routers have SNMP off. They open no ticket "
            "and explain none; to watch one, switch its SNMP on or name it in agent.toml.",
            hide=("Time", "__name__", "Value", "value"),
            width=12,
            height=6,
        ),
        stat(
            "Reachable",
            "none",
            Query(f"max by (device) (snmp_device_reachable{{{NET}, {DEV}}})", "{{device}}"),
            mappings=ok_mapping("Reachable", "Unreachable"),
            height=6,
        ),
        stat(
            "Reboots in range",
            "none",
            # sysUpTime going back is a reboot (or a 497-day wrap of the 32-bit TimeTicks).
            Query(f"max by (device) (resets(snmp_device_uptime_seconds{{{DEV}}}[$__range]))", "{{device}}"),
            thresholds=steps(GREEN, (1, ORANGE), (3, RED)),
            height=6,
            width=3,
        ),
        stat(
            "Uptime",
            "s",
            Query(f"max by (device) (snmp_device_uptime_seconds{{{DEV}}})", "{{device}}"),
            height=6,
            width=3,
        ),
        timeseries(
            "Interface traffic",
            "bps",
            Query(f"{_iface_rate('snmp_interface_in_octets_total')} * 8", "in {{device}} {{if_name}}"),
            Query(f"{_iface_rate('snmp_interface_out_octets_total')} * 8", "out {{device}} {{if_name}}"),
            min_value=0,
        ),
        timeseries(
            "Interface errors and discards",
            "cps",
            Query(
                f"{_iface_rate('snmp_interface_in_errors_total')}"
                f" + {_iface_rate('snmp_interface_out_errors_total')}",
                "errors {{device}} {{if_name}}",
            ),
            Query(
                f"{_iface_rate('snmp_interface_in_discards_total')}"
                f" + {_iface_rate('snmp_interface_out_discards_total')}",
                "discards {{device}} {{if_name}}",
            ),
            min_value=0,
        ),
        table(
            "Interface status",
            "none",
            # Only interfaces an administrator enabled: a port switched off on purpose is not down.
            Query(
                f"{_iface(f'snmp_interface_oper_up{{{DEV}}}')}"
                f" and on (device, if_index, if_name) {_iface(f'snmp_interface_admin_up{{{DEV}}}')} == 1"
            ),
            mappings=ok_mapping("Up", "Down"),
            description="Operational status of every enabled interface (IF-MIB ifOperStatus).",
            width=12,
        ),
        bars(
            "Interface speed",
            "bps",
            Query(_iface(f"snmp_interface_speed_bps{{{DEV}}}"), "{{device}} {{if_name}}"),
            width=12,
        ),
        row("DSL and cable line quality"),
        timeseries(
            "DSL sync rate",
            "bps",
            Query(_line("snmp_dsl_downstream_rate_bps", "device, line"), "down {{device}}"),
            Query(_line("snmp_dsl_upstream_rate_bps", "device, line"), "up {{device}}"),
            Query(_line("snmp_dsl_downstream_attainable_bps", "device, line"), "down attainable {{device}}"),
            description="The rate the line synchronised at; a drop after a resync points at line trouble.",
            min_value=0,
        ),
        timeseries(
            "DSL SNR margin and attenuation",
            "dB",
            Query(_line("snmp_dsl_downstream_snr_margin_db", "device, line"), "SNR margin down {{device}}"),
            Query(_line("snmp_dsl_upstream_snr_margin_db", "device, line"), "SNR margin up {{device}}"),
            Query(_line("snmp_dsl_downstream_attenuation_db", "device, line"), "attenuation down {{device}}"),
            Query(_line("snmp_dsl_upstream_attenuation_db", "device, line"), "attenuation up {{device}}"),
            description="SNR margin below about 6 dB makes a line drop and resync.",
            thresholds=steps(RED, (6, ORANGE), (10, GREEN)),
        ),
        timeseries(
            "Cable channel power",
            "suffix:dBmV",
            Query(
                _line("snmp_docsis_power_dbmv", "device, direction, channel"),
                "{{direction}} {{channel}} {{device}}",
            ),
            description="DOCSIS downstream receive and upstream transmit power per channel.",
        ),
        timeseries(
            "Cable downstream SNR",
            "dB",
            Query(_line("snmp_docsis_snr_db", "device, direction, channel"), "{{channel}} {{device}}"),
            description="Below about 30 dB (256-QAM) downstream errors start.",
            thresholds=steps(RED, (30, ORANGE), (33, GREEN)),
        ),
    ]
