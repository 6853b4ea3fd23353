# No `from __future__ import annotations` here: FastAPI reads the route annotations at runtime.
"""The console's fleet pages: devices, agents, silences, the management report, users."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from agent.protocol import NS
from collector import reports
from collector.auth.users import Session
from collector.console.context import PageError
from collector.console.web import (
    PERIODS,
    Admin,
    Con,
    Console,
    Helpdesk,
    Key,
    Period,
    Posted,
    RowId,
    Viewer,
    device_link,
)
from collector.incidents.silences import SilenceKind
from collector.inventory import report as inventory_report
from collector.inventory.lookup import lookup

router = APIRouter(include_in_schema=False)
REMOVED_DAYS = 7  # the silences page lists the silences removed this many days back, and by whom


@router.get("/devices")
def devices_page(c: Con, request: Request, session: Viewer) -> HTMLResponse:
    devices = c.ctx.directory.devices()
    figures = c.ctx.metrics.devices([d.device for d in devices]) if c.ctx.metrics and devices else None
    return c.page(request, "devices.html", session, devices=devices, figures=figures)


@router.get("/devices/{device}")
def device_page(c: Con, request: Request, device: Key, session: Viewer) -> HTMLResponse:
    found = lookup(f"device:{device}", c.sources)
    if found.device is None:
        raise PageError(404, f"no device {device}")
    figures = c.ctx.metrics.devices([device]) if c.ctx.metrics else None
    return c.page(
        request,
        "device.html",
        session,
        d=found.device,
        figures=figures,
        grafana_device=device_link(c.grafana, device, figures),
    )


@router.get("/agents")
def agents_page(
    c: Con, request: Request, session: Viewer, site: Annotated[str, Query(max_length=64)] = ""
) -> HTMLResponse:
    agents = [a for a in c.ctx.directory.agents() if not site or a.site == site]
    counts: dict[str, int] = {}
    for a in agents:
        counts[str(a.status)] = counts.get(str(a.status), 0) + 1
    return c.page(request, "agents.html", session, agents=agents, counts=counts, site=site)


@router.get("/silences")
def silences_page(c: Con, request: Request, session: Viewer, error: str = "") -> HTMLResponse:
    return _silences(c, request, session, error)


def _silences(c: Console, request: Request, session: Session, error: str, status: int = 200) -> HTMLResponse:
    """The silences in force and those removed lately, with `error` about the form if any."""
    now = c.ctx.clock()
    return c.page(
        request,
        "silences.html",
        session,
        status=status,
        silences=c.ctx.silences.current(now),
        removed=c.ctx.silences.removed_since(now - REMOVED_DAYS * 86400 * NS),
        removed_days=REMOVED_DAYS,
        error=error,
    )


@router.post("/silences")
def add_silence(c: Con, request: Request, session: Helpdesk, form: Posted) -> Response:
    c.auth.check_csrf(session, form)
    matchers = {
        k: form.get(k).strip()[: 256 if k == "device" else 64]
        for k in ("site", "device", "agent_id", "condition")
    }
    minutes = form.get("minutes").strip()
    problem = ""
    if not any(matchers.values()):
        problem = "Name at least one of site, device, PC or condition."
    elif not minutes.isdigit() or not 1 <= int(minutes) <= 60 * 24 * 90:
        problem = "Minutes must be a whole number from 1 to 129600 (90 days)."
    if problem:
        return _silences(c, request, session, problem, status=422)
    kind = SilenceKind.MAINTENANCE if form.get("kind") == "maintenance" else SilenceKind.SILENCE
    now = c.ctx.clock()
    c.ctx.silences.add(
        kind,
        now,
        now + int(minutes) * 60 * NS,
        reason=form.get("reason").strip()[:1000],
        created_by=session.user.name,
        now_ns=now,
        **matchers,
    )
    return c.back("/silences")


@router.post("/silences/{silence_id}/remove")
def remove_silence(c: Con, silence_id: RowId, session: Helpdesk, form: Posted) -> Response:
    c.auth.check_csrf(session, form)
    if not c.ctx.silences.remove(silence_id, removed_by=session.user.name, now_ns=c.ctx.clock()):
        raise PageError(404, f"no silence {silence_id}")
    return c.back("/silences")


def build_report(c: Console, since: str) -> reports.Report:
    now = c.ctx.clock()
    since_ns = now - reports.parse_since(since) * NS
    forecasts = [
        reports.Forecast(f.device, f.site, f.supply, f.level_percent, f.percent_per_day, f.days_left)
        for f in c.ctx.directory.supplies(now)
    ]
    fleet = inventory_report.build(c.ctx.inventories.all_latest(), now)
    return reports.build_report(
        c.store.all_since(since_ns), since_ns, now, c.ctx.kb, forecasts=forecasts, fleet=fleet
    )


@router.get("/reports")
def reports_page(c: Con, request: Request, session: Viewer, since: Period = "30d") -> HTMLResponse:
    html = reports.render_html(build_report(c, since))
    start, end = html.find("<body>"), html.rfind("</body>")
    body = html[start + 6 : end] if start >= 0 and end > start else html
    head_start, head_end = html.find("<style>"), html.find("</style>")
    style = html[head_start + 7 : head_end] if head_start >= 0 and head_end > head_start else ""
    return c.page(
        request,
        "reports.html",
        session,
        since=since,
        periods=PERIODS,
        report_html=Markup(body),
        report_style=Markup(style),
    )


@router.get("/reports.csv")
def reports_csv(c: Con, session: Viewer, since: Period = "30d") -> Response:
    return Response(
        reports.render_csv(build_report(c, since)),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="deskwatch-report-{since}.csv"'},
    )


@router.get("/users")
def users_page(c: Con, request: Request, session: Admin) -> HTMLResponse:
    return c.page(request, "users.html", session, users=c.ctx.users.list())


@router.get("/me")
def me(c: Con, session: Viewer) -> JSONResponse:
    return JSONResponse({"name": session.user.name, "role": str(session.user.role)})
