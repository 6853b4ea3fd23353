"""A DeviceReport as Samples and States for the batch (pure). docs/snmp.md lists every name.

Every sample and state carries the tag `device` (the device key); the scheduler adds
`agent_id` and `site`. Text only travels as tags (`*_info` samples with value 1); fields
are numbers, and RFC 3805 special levels never become numbers. States are emitted for
problems only, except `snmp_reachable`, which is sent every poll (ok or not) so the
collector can resolve it at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from agent.protocol import Sample, Severity, State
from agent.snmp.report import DeviceReport

# hrPrinterDetectedErrorState bit -> (condition, severity)
ERROR_CONDITIONS: Final[Mapping[str, tuple[str, Severity]]] = {
    "low_paper": ("printer_paper_low", Severity.WARNING),
    "no_paper": ("printer_paper_empty", Severity.CRITICAL),
    "low_toner": ("printer_toner_low", Severity.WARNING),
    "no_toner": ("printer_toner_empty", Severity.CRITICAL),
    "door_open": ("printer_door_open", Severity.CRITICAL),
    "jammed": ("printer_paper_jam", Severity.CRITICAL),
    "offline": ("printer_offline", Severity.CRITICAL),
    "service_requested": ("printer_service_requested", Severity.WARNING),
    "input_tray_missing": ("printer_input_tray_missing", Severity.WARNING),
    "output_tray_missing": ("printer_output_tray_missing", Severity.WARNING),
    "marker_supply_missing": ("printer_supply_missing", Severity.CRITICAL),
    "output_near_full": ("printer_output_near_full", Severity.INFO),
    "output_full": ("printer_output_full", Severity.WARNING),
    "input_tray_empty": ("printer_input_tray_empty", Severity.WARNING),
    "overdue_maintenance": ("printer_maintenance_overdue", Severity.WARNING),
}
_ALERT_SEVERITY: Final = {
    "critical": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "warningBinaryChangeEvent": Severity.WARNING,
}


def snake(text: str) -> str:
    """ "markerTonerAlmostEmpty" / "Full Color Count" -> "marker_toner_almost_empty" / "full_color_count"."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unknown"


def _tags(**tags: str | int | None) -> dict[str, str]:
    return {k: str(v)[:256] for k, v in tags.items() if v is not None and v != ""}


def _subject(device: str, part: str) -> str:
    """`device/part`, cut to the 256 characters protocol.State allows (an ifName may be 255 alone)."""
    return f"{device}/{part}"[:256]


def _fields(**fields: int | float | None) -> dict[str, int | float]:
    return {k: v for k, v in fields.items() if v is not None}


def observe(report: DeviceReport, now_ns: int, source: str = "") -> list[Sample | State]:
    """Samples and States for one polled device; `source` says how the PC knows it (config,
    gateway, printer), so the collector can tell a router with SNMP off from a printer that died."""
    device = report.device or report.address
    out: list[Sample | State] = [
        Sample(
            "snmp_device",
            _fields(
                reachable=int(report.reachable),
                poll_seconds=report.poll_seconds,
                uptime_seconds=report.identity.uptime_s,
            ),
            _tags(device=device, kind=report.kind, source=source),
            now_ns,
        ),
        State(
            subject=device,
            condition="snmp_reachable",
            ok=report.reachable,
            severity=Severity.INFO if report.reachable else Severity.WARNING,
            text="" if report.reachable else f"{report.address} does not answer SNMP: {report.reason}"[:1000],
            tags=_tags(device=device, address=report.address, kind=report.kind, source=source),
            observed_ns=now_ns,
        ),
    ]
    if not report.reachable:
        return out
    ident = report.identity
    info = _tags(
        device=device,
        kind=report.kind,
        vendor=ident.vendor,
        model=ident.model,
        serial=ident.serial,
        firmware=ident.firmware,
        address=report.address,
        sys_name=ident.sys_name,
        sys_object_id=ident.sys_object_id,
    )
    out.append(Sample("snmp_device_info", {"value": 1}, info, now_ns))
    if report.kind == "printer":
        out += _printer(report, device, info, now_ns)
    out += _network(report, device, now_ns)
    return out


def _printer(report: DeviceReport, device: str, info: dict[str, str], now_ns: int) -> list[Sample | State]:
    out: list[Sample | State] = [Sample("printer_info", {"value": 1}, info, now_ns)]
    counters = report.counters
    fields = _fields(
        pages_total=counters.get("pages_total"),
        pages_since_power_on=counters.get("pages_since_power_on"),
        errors_active=len(report.errors),
        alerts_active=len(report.alerts),
        printing=int(report.status == "printing"),
    )
    out.append(Sample("printer", fields, _tags(device=device), now_ns))
    for s in report.supplies:
        fields = _fields(
            level=s.level if s.level_state == "known" else None,
            capacity=s.capacity if s.capacity is not None and s.capacity > 0 else None,
            level_percent=s.level_percent,
            some_remaining=1 if s.level_state == "some_remaining" else None,
        )
        fields = {**s.extra, **fields}  # a vendor's extra column never replaces a standard field
        tags = _tags(
            device=device,
            supply_index=s.index,
            supply=s.description,
            kind=s.kind,
            color=s.color,
            unit=s.unit,
            supply_class=s.supply_class,
            # the percentage is the vendor MIB's: the standard level said only "some left"
            percent_source="vendor" if s.percent_from_vendor else None,
        )
        tags = {**_tags(**s.extra_tags), **tags}
        out.append(Sample("printer_supply", fields or {"known": 0}, tags, now_ns))
    for t in report.trays:
        fields = _fields(
            level=t.level if t.level_state == "known" else None,
            capacity=t.capacity if t.capacity is not None and t.capacity > 0 else None,
            level_percent=t.level_percent,
            some_remaining=1 if t.level_state == "some_remaining" else None,
        )
        fields = {**t.extra, **fields}
        out.append(
            Sample(
                "printer_tray",
                fields or {"known": 0},
                {
                    **_tags(**t.extra_tags),
                    **_tags(device=device, tray_index=t.index, tray=t.name, media=t.media),
                },
                now_ns,
            )
        )
    for error in report.errors:
        condition, severity = ERROR_CONDITIONS[error]
        out.append(
            State(
                subject=device,
                condition=condition,
                ok=False,
                severity=severity,
                text=f"printer reports {error.replace('_', ' ')}",
                tags=_tags(device=device),
                observed_ns=now_ns,
            )
        )
    subjects: set[str] = set()
    for a in report.alerts:
        # RFC 3805: what no one needs to act on (power on, cover closed, a configuration
        # change) is an event that sits in the table until it ages out, not a problem.
        if a.training_level == "noInterventionRequired":
            continue
        code = snake(a.code or "unknown")
        # Alerts share a code when two subunits have the same problem (cyan and magenta
        # toner low); prtAlertGroup and prtAlertGroupIndex name the subunit (-1: none).
        part = f"alert/{code}"
        if a.group_index is not None and a.group_index >= 0:
            part += f"/{snake(a.group or 'unknown')}/{a.group_index}"
        subject = _subject(device, part)
        if subject in subjects:  # the same problem of the same subunit twice: one State
            continue
        subjects.add(subject)
        out.append(
            State(
                subject=subject,
                condition=f"printer_alert_{code}"[:64],
                ok=False,
                severity=_ALERT_SEVERITY.get(a.severity or "", Severity.INFO),
                text=(a.description or a.code or "printer alert")[:1000],
                tags=_tags(
                    device=device, alert_index=a.index, group=a.group, group_index=a.group_index, code=a.code
                ),
                observed_ns=now_ns,
            )
        )
    for c in report.covers:
        if c.status in ("open", "interlockOpen"):
            out.append(
                State(
                    subject=_subject(device, f"cover/{c.index}"),
                    condition="printer_cover_open",
                    ok=False,
                    severity=Severity.CRITICAL,
                    text=f"{c.description or 'cover'} is open",
                    tags=_tags(device=device, cover=c.description),
                    observed_ns=now_ns,
                )
            )
    return out


def _network(report: DeviceReport, device: str, now_ns: int) -> list[Sample | State]:
    out: list[Sample | State] = []
    for i in report.interfaces:
        tags = {
            **_tags(**i.extra_tags),
            **_tags(device=device, if_index=i.index, if_name=i.name, if_alias=i.alias, if_type=i.type),
        }
        fields = _fields(
            in_octets_total=i.in_octets,
            out_octets_total=i.out_octets,
            in_errors_total=i.in_errors,
            out_errors_total=i.out_errors,
            in_discards_total=i.in_discards,
            out_discards_total=i.out_discards,
            admin_up=None if i.admin_status is None else int(i.admin_status == "up"),
            oper_up=None if i.oper_status is None else int(i.oper_status == "up"),
            speed_bps=i.speed_bps,
            counter_bits=i.counter_bits,
        )
        fields = {**i.extra, **fields}
        out.append(Sample("snmp_interface", fields, tags, now_ns))
        if i.admin_status == "up" and i.oper_status not in (None, "up", "dormant"):
            out.append(
                State(
                    subject=_subject(device, f"if/{i.name or i.index}"),
                    condition="interface_down",
                    ok=False,
                    severity=Severity.WARNING,
                    text=f"interface {i.name or i.index} is enabled but {i.oper_status}",
                    tags=tags,
                    observed_ns=now_ns,
                )
            )
    for line in report.dsl:
        tags = _tags(device=device, line=line.index, standard=line.standard)
        out.append(
            Sample(
                "snmp_dsl",
                _fields(
                    downstream_rate_bps=line.downstream_rate_bps,
                    upstream_rate_bps=line.upstream_rate_bps,
                    downstream_previous_rate_bps=line.downstream_previous_rate_bps,
                    upstream_previous_rate_bps=line.upstream_previous_rate_bps,
                    downstream_attainable_bps=line.downstream_attainable_bps,
                    upstream_attainable_bps=line.upstream_attainable_bps,
                    downstream_snr_margin_db=line.downstream_snr_margin_db,
                    upstream_snr_margin_db=line.upstream_snr_margin_db,
                    downstream_attenuation_db=line.downstream_attenuation_db,
                    upstream_attenuation_db=line.upstream_attenuation_db,
                ),
                tags,
                now_ns,
            )
        )
        degraded = line.degraded
        if degraded:
            # The modem's own verdict (RFC 2662/5650 defect bits, "noise margin below its
            # minimum") or its own earlier sync rate: no threshold of ours in it.
            out.append(
                State(
                    subject=_subject(device, f"line/{line.index}"),
                    condition="modem_line_degraded",
                    ok=False,
                    severity=Severity.WARNING,
                    text="; ".join(degraded)[:1000],
                    tags=tags,
                    observed_ns=now_ns,
                )
            )
    for m in report.measurements:
        if m.fields:
            out.append(Sample(m.measurement, dict(m.fields), {**_tags(**m.tags), "device": device}, now_ns))
    r = report.resources
    if r is not None:
        fields = _fields(
            cpu_percent=r.cpu_percent,
            memory_total_bytes=r.memory_total_bytes,
            memory_used_bytes=r.memory_used_bytes,
        )
        if fields:
            out.append(Sample("snmp_resources", fields, _tags(device=device), now_ns))
    return out
