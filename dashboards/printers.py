"""Printers: supplies with low/empty colours, trays, errors and alerts, pages, and when toner runs out.

Several PCs may poll the same printer; its series then differ only in `agent_id`, so
every query takes the `max by (device, ...)` to show each printer once.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    DEVICE_PAGE,
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

UID = "deskwatch-printers"
SEL = 'site=~"$site", device=~"$device"'
# Empty below 5 %, low below 15 %: the colours a supplies cupboard is run by.
LEVEL = steps(RED, (5, ORANGE), (15, GREEN))
# The supply_order rule fires at 14 days left; a week left is urgent.
DAYS_LEFT = steps(RED, (7, ORANGE), (14, GREEN))


def _per_device(expr: str, by: str = "device") -> str:
    return f"max by ({by}) ({expr})"


LEVELS = _per_device(f"printer_supply_level_percent{{{SEL}}}", "device, supply")
FALL_PER_SECOND = _per_device(f"-deriv(printer_supply_level_percent{{{SEL}}}[$__range])", "device, supply")
REACHABLE = _per_device(f'snmp_device_reachable{{kind="printer", {SEL}}}')
ERRORS = _per_device(f"printer_errors_active{{{SEL}}}")


def build() -> model.Dashboard:
    """The printers dashboard (variables: site, device)."""
    d = (
        new_dashboard(
            UID,
            "deskwatch / Printers",
            "Supplies, trays, errors and alerts, page counts and supply forecasts of every printer the "
            "agents poll.",
        )
        .with_variable(label_variable("site", "Site", "printer_info_value", "site"))
        .with_variable(label_variable("device", "Printer", 'printer_info_value{site=~"$site"}', "device"))
        .with_variable(console_variable())
    )
    return assemble(d, panels())


def panels() -> list[Part]:
    """The printers dashboard's sections and panels, top to bottom."""
    return [
        row("Now"),
        stat(
            "Printers",
            "none",
            Query(f"count(count by (device) (printer_info_value{{{SEL}}}))"),
            thresholds=steps(GREEN),
        ),
        stat(
            "Printers unreachable",
            "none",
            Query(f"sum({REACHABLE} == bool 0)"),
            thresholds=steps(GREEN, (1, RED)),
        ),
        stat(
            "Supplies low or empty",
            "none",
            Query(f"sum({LEVELS} < bool 15)"),
            thresholds=steps(GREEN, (1, ORANGE)),
        ),
        stat(
            "Printers with errors",
            "none",
            Query(f"sum({ERRORS} > bool 0)"),
            description="Printers whose hrPrinterDetectedErrorState has any bit set (jam, no paper, ...).",
            thresholds=steps(GREEN, (1, RED)),
        ),
        table(
            "Printers",
            "none",
            Query(
                _per_device(
                    f"printer_info_value{{{SEL}}}", "site, device, vendor, model, serial, firmware, address"
                )
            ),
            hide=("Time", "__name__", "Value", "value"),
            description="Every printer: the device key is its serial number, so five PCs that see it "
            "still show one row.",
            links=[link("The printer in the helpdesk console", DEVICE_ROW)],
            width=24,
            height=6,
        ),
        row("Supplies and trays"),
        bars(
            "Supply levels",
            "percent",
            Query(LEVELS, "{{device}} {{supply}}"),
            description="Toner, drums, waste boxes... as percent of their capacity. "
            "Red: empty (< 5 %), orange: low (< 15 %).",
            thresholds=LEVEL,
            links=[link("The printer in the helpdesk console", DEVICE_PAGE)],
            max_value=100,
        ),
        bars(
            "Days until empty",
            "d",
            # Level now over the fall per day, fitted over the shown range; a supply that is not
            # being used (deriv >= 0) has no forecast and is left out.
            Query(f"{LEVELS} / ({FALL_PER_SECOND} * 86400 > 0)", "{{device}} {{supply}}"),
            description="At the consumption rate over the shown range. Widen the range for a steadier "
            "forecast; the collector orders supplies at 14 days.",
            thresholds=DAYS_LEFT,
            max_value=None,
        ),
        timeseries(
            "Supply levels over time",
            "percent",
            Query(LEVELS, "{{device}} {{supply}}"),
            thresholds=LEVEL,
            min_value=0,
            max_value=100,
        ),
        bars(
            "Paper trays",
            "percent",
            Query(_per_device(f"printer_tray_level_percent{{{SEL}}}", "device, tray"), "{{device}} {{tray}}"),
            thresholds=steps(RED, (10, ORANGE), (25, GREEN)),
            max_value=100,
        ),
        row("Errors and alerts"),
        table(
            "Problems now",
            "none",
            Query(f'max by (device, condition, severity) (state_ok{{condition=~"printer_.*", {SEL}}})'),
            mappings=ok_mapping(),
            description="What the printers report now: paper jams, toner low, covers open, "
            "Printer-MIB alerts.",
        ),
        timeseries(
            "Errors and alerts",
            "none",
            Query(ERRORS, "errors {{device}}"),
            Query(_per_device(f"printer_alerts_active{{{SEL}}}"), "alerts {{device}}"),
            description="Active error bits (hrPrinterDetectedErrorState) and rows of prtAlertTable.",
            min_value=0,
        ),
        row("Pages"),
        bars(
            "Page count",
            "short",
            Query(_per_device(f"printer_pages_total{{{SEL}}}"), "{{device}}"),
            description="Pages printed in the printer's life (prtMarkerLifeCount).",
        ),
        timeseries(
            "Pages per hour",
            "short",
            Query(
                _per_device(f"rate(printer_pages_total{{{SEL}}}[$__rate_interval])") + " * 3600",
                "{{device}}",
            ),
            min_value=0,
        ),
        table(
            "Counters by kind",
            "short",
            Query(_per_device(f"printer_counter_value_total{{{SEL}}}", "device, counter")),
            description="Vendor counters (colour, mono, copies, scans) where the printer has them.",
        ),
    ]
