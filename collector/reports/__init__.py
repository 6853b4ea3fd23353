"""Management reports: recurring problems, response times, busy hours, attention, supplies.

`build_report()` is pure over the incidents of a period (the store reads them) and
returns a Report; `render_json`, `render_csv` and `render_html` turn it into what
`deskwatch report --format` and `GET /reports` hand out. The HTML is one page with
inline SVG bar charts, so it reads offline and prints.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import math
from collections import Counter
from collections.abc import Sequence

import msgspec

from agent.protocol import NS
from collector.incidents.model import Incident
from collector.inventory.report import InventoryReport
from collector.kb import KnowledgeBase

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Count(msgspec.Struct, frozen=True):
    name: str
    count: int


class Durations(msgspec.Struct, frozen=True):
    category: str
    incidents: int
    ack_median_seconds: float | None
    ack_p90_seconds: float | None
    resolve_median_seconds: float | None
    resolve_p90_seconds: float | None


class Supply(msgspec.Struct, frozen=True):
    device: str
    site: str
    summary: str
    orders: int


class Forecast(msgspec.Struct, frozen=True):
    device: str
    site: str
    supply: str
    level_percent: float
    percent_per_day: float | None
    days_left: float | None


class Report(msgspec.Struct, frozen=True):
    since_ns: int
    until_ns: int
    incidents: int
    open_now: int
    top_conditions: list[Count]
    top_conditions_by_device: list[Count]
    top_conditions_by_site: list[Count]
    times_by_category: list[Durations]
    busiest_hours: list[Count]  # "00".."23", UTC
    busiest_weekdays: list[Count]
    devices_needing_attention: list[Count]
    sites_needing_attention: list[Count]
    supplies: list[Supply]
    supply_forecasts: list[Forecast]
    stale_articles: list[str]
    fleet: InventoryReport | None = None  # OS versions, PCs short of memory or disk, software versions


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def build_report(
    incidents: Sequence[Incident],
    since_ns: int,
    until_ns: int,
    kb: KnowledgeBase | None = None,
    top: int = 10,
    forecasts: Sequence[Forecast] = (),
    fleet: InventoryReport | None = None,
) -> Report:
    """The report for incidents opened in [since_ns, until_ns)."""
    period = [i for i in incidents if since_ns <= i.opened_ns < until_ns]

    def counts(counter: Counter[str]) -> list[Count]:
        return [Count(k, v) for k, v in counter.most_common(top)]

    by_category: dict[str, list[Incident]] = {}
    for i in period:
        by_category.setdefault(str(i.category), []).append(i)
    times = []
    for category, items in sorted(by_category.items()):
        ack = [(i.acknowledged_ns - i.opened_ns) / NS for i in items if i.acknowledged_ns]
        res = [(i.resolved_ns - i.opened_ns) / NS for i in items if i.resolved_ns]
        times.append(
            Durations(
                category,
                len(items),
                quantile(ack, 0.5),
                quantile(ack, 0.9),
                quantile(res, 0.5),
                quantile(res, 0.9),
            )
        )
    opened = [dt.datetime.fromtimestamp(i.opened_ns / NS, dt.UTC) for i in period]
    hours = Counter(f"{t.hour:02}" for t in opened)
    weekdays = Counter(WEEKDAYS[t.weekday()] for t in opened)
    supplies: dict[str, Supply] = {}
    for i in sorted(period, key=lambda i: i.opened_ns):
        if i.category == "supply":
            old = supplies.get(i.key)
            supplies[i.key] = Supply(i.device, i.site, i.summary, (old.orders if old else 0) + 1)
    today = dt.datetime.fromtimestamp(until_ns / NS, dt.UTC).date()
    return Report(
        since_ns=since_ns,
        until_ns=until_ns,
        incidents=len(period),
        open_now=sum(1 for i in incidents if i.status != "resolved"),
        top_conditions=counts(Counter(i.condition for i in period)),
        top_conditions_by_device=counts(Counter(f"{i.device} {i.condition}" for i in period if i.device)),
        top_conditions_by_site=counts(Counter(f"{i.site} {i.condition}" for i in period if i.site)),
        times_by_category=times,
        busiest_hours=[Count(f"{h:02}", hours.get(f"{h:02}", 0)) for h in range(24)],
        busiest_weekdays=[Count(d, weekdays.get(d, 0)) for d in WEEKDAYS],
        devices_needing_attention=counts(Counter(i.device for i in period if i.device)),
        sites_needing_attention=counts(Counter(i.site for i in period if i.site)),
        supplies=sorted(supplies.values(), key=lambda s: -s.orders),
        supply_forecasts=list(forecasts),
        stale_articles=[a.slug for a in kb.stale(today)] if kb else [],
        fleet=fleet,
    )


def render_json(report: Report) -> bytes:
    return msgspec.json.encode(report)


def render_csv(report: Report) -> str:
    """Long format, one row per figure: section, name, value (spreadsheets pivot it)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "name", "value"])
    writer.writerow(["summary", "incidents", report.incidents])
    writer.writerow(["summary", "open_now", report.open_now])
    for section in (
        "top_conditions",
        "top_conditions_by_device",
        "top_conditions_by_site",
        "busiest_hours",
        "busiest_weekdays",
        "devices_needing_attention",
        "sites_needing_attention",
    ):
        for c in getattr(report, section):
            writer.writerow([section, c.name, c.count])
    for d in report.times_by_category:
        for field in (
            "incidents",
            "ack_median_seconds",
            "ack_p90_seconds",
            "resolve_median_seconds",
            "resolve_p90_seconds",
        ):
            value = getattr(d, field)
            writer.writerow([f"times.{field}", d.category, "" if value is None else f"{value:.0f}"])
    for s in report.supplies:
        writer.writerow(["supplies", f"{s.device} {s.summary}", s.orders])
    for f in report.supply_forecasts:
        name = f"{f.device} {f.supply}"
        writer.writerow(["supply_level_percent", name, f"{f.level_percent:.0f}"])
        if f.percent_per_day is not None:
            writer.writerow(["supply_percent_per_day", name, f"{f.percent_per_day:.2f}"])
        if f.days_left is not None:
            writer.writerow(["supply_days_left", name, f"{f.days_left:.0f}"])
    for slug in report.stale_articles:
        writer.writerow(["stale_articles", slug, 1])
    if report.fleet is not None:
        writer.writerow(["fleet", "pcs", report.fleet.pcs])
        for c in report.fleet.os_versions:
            writer.writerow(["fleet.os_version", c.label, c.count])
        for short in (*report.fleet.low_memory, *report.fleet.low_disk):
            writer.writerow([f"fleet.low_{short.what}_bytes", short.host or short.agent_id, short.bytes])
        for package in report.fleet.software:
            for v in package.versions:
                writer.writerow(["fleet.software_version", f"{package.package} {v.label}", v.count])
    return out.getvalue()


def _bars(counts: Sequence[Count], width: int = 560) -> str:
    if not counts:
        return "<p>none</p>"
    peak = max(c.count for c in counts) or 1
    row = 18
    parts = [f'<svg width="{width + 160}" height="{row * len(counts)}" role="img">']
    for n, c in enumerate(counts):
        w = int(width * c.count / peak)
        y = n * row
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="12">{html.escape(c.name)}</text>'
            f'<rect x="150" y="{y + 2}" width="{w}" height="{row - 4}" fill="#4a7bd0"/>'
            f'<text x="{155 + w}" y="{y + 13}" font-size="12">{c.count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _fleet_html(fleet: InventoryReport | None) -> str:
    """The inventory section: what the fleet runs, and which PCs are short of memory or disk."""
    if fleet is None or fleet.pcs == 0:
        return ""
    os_bars = _bars([Count(c.label, c.count) for c in fleet.os_versions])
    short = (
        "".join(
            f"<li>{html.escape(s.host or s.agent_id)}: {s.what} {s.bytes / 2**30:.1f} GiB</li>"
            for s in (*fleet.low_memory, *fleet.low_disk)
        )
        or "<li>none</li>"
    )
    software = "".join(
        f"<tr><td>{html.escape(p.package)}</td><td>{p.pcs}</td><td>"
        + ", ".join(f"{html.escape(v.label)} ({v.count})" for v in p.versions)
        + "</td></tr>"
        for p in fleet.software
    )
    return (
        f"<h2>The fleet: {fleet.pcs} PCs by OS version</h2>{os_bars}"
        f"<h2>PCs short of memory or disk</h2><ul>{short}</ul>"
        f"<h2>Software versions across the fleet</h2>"
        f"<table><tr><th>package</th><th>PCs</th><th>versions (PCs)</th></tr>{software}</table>"
    )


def render_html(report: Report) -> str:
    def day(ns: int) -> str:
        return dt.datetime.fromtimestamp(ns / NS, dt.UTC).strftime("%Y-%m-%d")

    rows = "".join(
        f"<tr><td>{html.escape(d.category)}</td><td>{d.incidents}</td><td>{_duration(d.ack_median_seconds)}</td>"
        f"<td>{_duration(d.ack_p90_seconds)}</td><td>{_duration(d.resolve_median_seconds)}</td>"
        f"<td>{_duration(d.resolve_p90_seconds)}</td></tr>"
        for d in report.times_by_category
    )
    supplies = (
        "".join(
            f"<li>{html.escape(s.device)} ({html.escape(s.site)}): {html.escape(s.summary)}"
            f" — {s.orders} order(s)</li>"
            for s in report.supplies
        )
        or "<li>none</li>"
    )
    stale = "".join(f"<li>{html.escape(s)}</li>" for s in report.stale_articles) or "<li>none</li>"
    forecast_rows = "".join(
        f"<tr><td>{html.escape(f.device)} {html.escape(f.supply)}</td><td>{html.escape(f.site)}</td>"
        f"<td>{f.level_percent:.0f} %</td>"
        f"<td>{'–' if f.percent_per_day is None else f'{f.percent_per_day:.1f} %'}</td>"
        f"<td>{'–' if f.days_left is None else f'{f.days_left:.0f}'}</td></tr>"
        for f in report.supply_forecasts
    )
    sections = [
        ("Recurring problems", _bars(report.top_conditions)),
        ("Problems by device", _bars(report.top_conditions_by_device)),
        ("Problems by site", _bars(report.top_conditions_by_site)),
        ("Devices needing the most attention", _bars(report.devices_needing_attention)),
        ("Sites needing the most attention", _bars(report.sites_needing_attention)),
        ("Busiest hours (UTC)", _bars(report.busiest_hours)),
        ("Busiest weekdays", _bars(report.busiest_weekdays)),
    ]
    body = "".join(f"<h2>{title}</h2>{chart}" for title, chart in sections) + _fleet_html(report.fleet)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>deskwatch report {day(report.since_ns)} – {day(report.until_ns)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}
td:first-child{{text-align:left}}</style></head><body>
<h1>deskwatch: {day(report.since_ns)} – {day(report.until_ns)}</h1>
<p>{report.incidents} incidents in the period, {report.open_now} open now.</p>
<h2>Time to acknowledge and to resolve</h2>
<table><tr><th>category</th><th>incidents</th><th>ack median</th><th>ack p90</th><th>resolve median</th>
<th>resolve p90</th></tr>{rows}</table>
{body}
<h2>Supplies ordered</h2><ul>{supplies}</ul>
<h2>Supply consumption and forecasts</h2>
<table><tr><th>supply</th><th>site</th><th>level</th><th>per day</th><th>days left</th></tr>
{forecast_rows}</table>
<h2>Knowledge-base articles due for review</h2><ul>{stale}</ul>
</body></html>
"""


def parse_since(text: str) -> int:
    """'30d', '12h', '90m' or '45s' as seconds; raises ValueError otherwise."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"period {text!r} is not like 30d, 12h, 90m or 45s")
    return int(text[:-1]) * units[text[-1]]
