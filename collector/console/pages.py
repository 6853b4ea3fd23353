# No `from __future__ import annotations` here: FastAPI reads the route annotations at runtime.
"""The console's pages and actions: `mount(app, ctx)` adds them to the collector's FastAPI app.

Every page is whole HTML from a Jinja2 template and reads without JavaScript; a request
with the header `X-Console-Fragment: 1` gets only the live part of a page (the queue's
table, the caller's figures), which static/console.js refreshes. Actions are POSTed
forms with the session's CSRF token, answered with a redirect back (post/redirect/get),
and recorded under the user's name like the API records a token's.
"""

import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup

from collector import reports
from collector.auth import Role
from collector.auth.users import Session
from collector.console import queries
from collector.console.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Auth,
    Denied,
    Form,
    LoginRequired,
    read_form,
    safe_next,
)
from collector.console.checks import LABELS, QUICK, TRIAGE, run_checks
from collector.console.context import CachedDirectory, ConsoleContext, PageError
from collector.console.render import NS, STATIC, Templates
from collector.incidents.model import Conflict, Incident, IncidentNotFound
from collector.incidents.silences import SilenceKind
from collector.inventory import report as inventory_report
from collector.inventory.lookup import Sources, lookup

log = logging.getLogger(__name__)
RowId = Annotated[int, Path(ge=1, le=2**62)]
Key = Annotated[str, Path(min_length=1, max_length=256)]
FRAGMENT = "x-console-fragment"
PERIODS = ("1d", "7d", "30d", "90d", "365d")
GRAFANA_PC = "/d/deskwatch-pc/?var-agent={agent}&var-site={site}"
GRAFANA_PRINTER = "/d/deskwatch-printers/?var-device={device}"
GRAFANA_NETWORK = "/d/deskwatch-network/?var-device={device}"
# The same-origin policy for every console page: scripts and styles from /static only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def mount(app: FastAPI, ctx: ConsoleContext) -> None:
    """Serve the console at / on `app`, with its static files at /static."""
    ctx = dataclasses.replace(ctx, directory=CachedDirectory(ctx.directory))
    auth = Auth(ctx.users, ctx.settings, ctx.clock)
    templates = Templates()

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        if request.headers.get(FRAGMENT):
            return Response("signed out", status_code=401, headers=SECURITY_HEADERS)
        target = "/login" + ("" if exc.next_path == "/" else "?" + urlencode({"next": exc.next_path}))
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    async def denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Denied)
        body = templates.render("error.html", title="Not allowed", message=exc.message, user=None, csrf="")
        return HTMLResponse(body, status_code=403, headers=SECURITY_HEADERS)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        title = {404: "Not found", 503: "Not available"}.get(exc.status, "Error")
        body = templates.render("error.html", title=title, message=exc.message, user=None, csrf="")
        return HTMLResponse(body, status_code=exc.status, headers=SECURITY_HEADERS)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(Denied, denied)
    app.mount("/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(create_router(ctx, auth, templates))


def create_router(ctx: ConsoleContext, auth: Auth, templates: Templates) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    viewer = Annotated[Session, Depends(auth.need(Role.VIEWER))]
    helpdesk = Annotated[Session, Depends(auth.need(Role.HELPDESK))]
    posted = Annotated[Form, Depends(read_form)]
    store = ctx.store
    sources = Sources(
        ctx.inventories,
        store,
        ctx.kb,
        conditions=ctx.conditions,
        devices=ctx.directory.devices,
        clock=ctx.clock,
    )

    def page(
        request: Request, name: str, session: Session | None, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        body = templates.render(
            name,
            user=session.user if session else None,
            csrf=session.csrf if session else "",
            can_act=session is not None and session.user.role in (Role.HELPDESK, Role.ADMIN),
            now_ns=ctx.clock(),
            path=request.url.path,
            refresh_seconds=ctx.settings.refresh_seconds,
            fragment=bool(request.headers.get(FRAGMENT)),
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def back(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)

    def grafana(path: str, **values: str) -> str:
        base = ctx.settings.grafana_url.rstrip("/")
        if not base:
            return ""
        return base + path.format(**{k: quote(v, safe="") for k, v in values.items()})

    # -- signing in and out ---------------------------------------------------------------

    @router.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        if auth.session(request) is not None:
            return back(safe_next(next))
        token = auth.login_token(request)
        response = page(request, "login.html", None, login_csrf=token, next=safe_next(next), error="")
        _login_cookie(response, request, token)
        return response

    @router.post("/login")
    def login(request: Request, form: posted) -> Response:
        name, password = form.get("username").strip(), form.get("password")
        client = request.client.host if request.client else "?"
        token = auth.login_token(request)

        def again(error: str, status: int) -> HTMLResponse:
            response = page(
                request,
                "login.html",
                None,
                status=status,
                login_csrf=token,
                next=safe_next(form.get("next", "/")),
                error=error,
            )
            _login_cookie(response, request, token)
            return response

        if not auth.login_token_ok(request, form):
            return again("The login form was out of date; please sign in again.", 403)
        wait = max(auth.throttle.wait_seconds(name.lower()), auth.address_throttle.wait_seconds(client))
        if wait > 0:
            response = again(f"Too many failed logins; try again in {int(wait) + 1} s.", 429)
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        user = ctx.users.verify(name, password)
        if user is None:
            if auth.throttle.failed(name.lower()) | auth.address_throttle.failed(client):
                log.warning("console: logins as %r or from %s paused after failures", name[:64], client)
            return again("Wrong user name or password.", 401)
        auth.throttle.clear(name.lower())
        log.info("console: %s signed in from %s", user.name, client)
        session_token, _ = ctx.users.open_session(user, ctx.clock(), ctx.settings.session_hours * 3600)
        done = back(safe_next(form.get("next", "/")))
        done.set_cookie(
            SESSION_COOKIE,
            session_token,
            max_age=int(ctx.settings.session_hours * 3600),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        done.delete_cookie(LOGIN_COOKIE, path="/login")
        return done

    @router.post("/logout")
    def logout(request: Request, session: viewer, form: posted) -> Response:
        auth.check_csrf(session, form)
        ctx.users.close_session(request.cookies.get(SESSION_COOKIE, ""))
        log.info("console: %s signed out", session.user.name)
        response = back("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- the queue -------------------------------------------------------------------------

    @router.get("/")
    def queue_page(
        request: Request,
        session: viewer,
        site: Annotated[str, Query(max_length=64)] = "",
        category: Annotated[str, Query(max_length=16)] = "",
        severity: Annotated[str, Query(pattern="^(|critical|warning|info)$")] = "",
        status: Annotated[str, Query(pattern="^(|open|acknowledged)$")] = "",
        assignee: Annotated[str, Query(max_length=64)] = "",
        mine: bool = False,
        quiet: bool = False,
        page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    ) -> HTMLResponse:
        f = queries.QueueFilter(
            site=site,
            category=category,
            severity=severity,
            status=status,
            assignee=session.user.name if mine else assignee,
            quiet=quiet,
            offset=(page_no - 1) * 50,
        )
        found = queries.queue(store.engine, f)
        query = {k: v for k, v in request.query_params.items() if k != "page"}
        return page(
            request,
            "_queue_table.html" if request.headers.get(FRAGMENT) else "queue.html",
            session,
            page=found,
            tickets=found.rows,
            f=f,
            mine=mine,
            page_no=page_no,
            query=query,
            query_string=urlencode(query),
        )

    # -- a ticket --------------------------------------------------------------------------

    def ticket_or_404(incident_id: int) -> Incident:
        try:
            return store.get(incident_id)
        except IncidentNotFound as err:
            raise PageError(404, str(err)) from err

    def pcs_of(incident: Incident) -> list[str]:
        """The PCs a ticket is about: its own, the affected ones, those that see its device."""
        known = {a.agent_id for a in ctx.directory.agents()}
        pcs = [incident.agent_id] if incident.agent_id else []
        pcs += [a for a in incident.affected if a in known]
        if incident.device:
            for d in ctx.directory.devices():
                if d.device == incident.device:
                    pcs += list(d.agents)
        return list(dict.fromkeys(pcs))

    def ticket_view(
        request: Request, session: Session, incident_id: int, *, error: str = "", status: int = 200
    ) -> HTMLResponse:
        incident = ticket_or_404(incident_id)
        names = [u.name for u in ctx.users.list()]
        return page(
            request,
            "ticket.html",
            session,
            status=status,
            i=incident,
            timeline=store.timeline(incident_id),
            articles=ctx.kb.for_condition(incident.condition, incident.rule),
            pcs=pcs_of(incident),
            assignees=queries.assignees(store.engine, names),
            error=error,
            grafana_device=_device_link(grafana, incident.device) if incident.device else "",
        )

    @router.get("/tickets/{incident_id}")
    def ticket_page(request: Request, incident_id: RowId, session: viewer) -> HTMLResponse:
        return ticket_view(request, session, incident_id)

    def act(
        request: Request, session: Session, form: Form, incident_id: int, fn: Callable[[str, int], Incident]
    ) -> Response:
        auth.check_csrf(session, form)
        try:
            fn(session.user.name, ctx.clock())
        except IncidentNotFound as err:
            raise PageError(404, str(err)) from err
        except Conflict as err:
            return ticket_view(request, session, incident_id, error=str(err), status=409)
        return back(safe_next(form.get("back")) if form.get("back") else f"/tickets/{incident_id}")

    @router.post("/tickets/{incident_id}/ack")
    def ack(request: Request, incident_id: RowId, session: helpdesk, form: posted) -> Response:
        return act(
            request, session, form, incident_id, lambda who, now: store.acknowledge(incident_id, who, now)
        )

    @router.post("/tickets/{incident_id}/assign")
    def assign(request: Request, incident_id: RowId, session: helpdesk, form: posted) -> Response:
        assignee = (form.get("assignee").strip() or session.user.name)[:64]
        return act(
            request,
            session,
            form,
            incident_id,
            lambda who, now: store.assign(incident_id, assignee, who, now),
        )

    @router.post("/tickets/{incident_id}/comment")
    def comment(request: Request, incident_id: RowId, session: helpdesk, form: posted) -> Response:
        text = form.get("text").strip()[:4000]
        if not text:
            auth.check_csrf(session, form)
            return ticket_view(request, session, incident_id, error="A comment needs some text.", status=422)
        return act(
            request, session, form, incident_id, lambda who, now: store.comment(incident_id, who, text, now)
        )

    @router.post("/tickets/{incident_id}/resolve")
    def resolve(request: Request, incident_id: RowId, session: helpdesk, form: posted) -> Response:
        text = form.get("text").strip()[:4000]
        return act(
            request, session, form, incident_id, lambda who, now: store.resolve(incident_id, who, text, now)
        )

    # -- the caller ------------------------------------------------------------------------

    @router.get("/search")
    def search(request: Request, session: viewer, q: Annotated[str, Query(max_length=256)] = "") -> Response:
        if not q.strip():
            return back("/")
        found = lookup(q, sources)
        if found.result == "found" and found.pc is not None:
            return back(f"/pc/{found.pc.agent_id}")
        if found.result == "device" and found.device is not None:
            return back(f"/devices/{found.device.device}")
        return page(request, "search.html", session, q=q, found=found)

    @router.get("/search/suggest")
    def suggest(session: viewer, q: Annotated[str, Query(max_length=256)] = "") -> JSONResponse:
        found = queries.suggest(store.engine, q) if len(q.strip()) >= 2 else []
        return JSONResponse(
            [
                {
                    "selector": s.selector,
                    "label": " · ".join(
                        x for x in (s.agent_id, s.host, ", ".join(s.users), ", ".join(s.addresses)) if x
                    ),
                    "matched": s.matched,
                    "url": f"/pc/{s.agent_id}",
                }
                for s in found
            ],
            headers=SECURITY_HEADERS,
        )

    def picture_or_404(agent_id: str) -> Any:
        found = lookup(f"agent:{agent_id}", sources)
        if found.pc is None:
            raise PageError(404, f"no PC {agent_id}")
        return found.pc

    def live_context(agent_id: str) -> dict[str, Any]:
        health = ctx.metrics.health(agent_id, ctx.clock()) if ctx.metrics else None
        return {"health": health, "agent_id": agent_id}

    @router.get("/pc/{agent_id}")
    def pc_page(request: Request, agent_id: Key, session: viewer) -> HTMLResponse:
        if request.headers.get(FRAGMENT):
            return page(request, "_pc_live.html", session, **live_context(agent_id))
        pc = picture_or_404(agent_id)
        serials = [d.device for d in pc.devices]
        figures = ctx.metrics.devices(serials) if ctx.metrics else None
        away = next((a.away for a in ctx.directory.agents() if a.agent_id == agent_id), "")
        return page(
            request,
            "pc.html",
            session,
            pc=pc,
            figures=figures,
            away=away,
            grafana_pc=grafana(GRAFANA_PC, agent=agent_id, site=pc.site),
            device_links={d.device: _device_link(grafana, d.device, figures) for d in pc.devices},
            checks=[(c, LABELS[c]) for c in (*QUICK, TRIAGE)],
            incident_id=None,
            **live_context(agent_id),
        )

    @router.post("/pc/{agent_id}/checks")
    def checks(request: Request, agent_id: Key, session: helpdesk, form: posted) -> Response:
        auth.check_csrf(session, form)
        if ctx.diagnostics is None:
            raise PageError(503, "diagnostics are not set up on this collector")
        incident_id = int(form.get("incident_id")) if form.get("incident_id").isdigit() else None
        diagnostics, actor = ctx.diagnostics, session.user.name
        only_fragments = bool(request.headers.get(FRAGMENT))
        common = {
            "user": session.user,
            "csrf": session.csrf,
            "can_act": True,
            "now_ns": ctx.clock(),
            "path": request.url.path,
            "refresh_seconds": ctx.settings.refresh_seconds,
            "fragment": only_fragments,
        }

        def stream() -> Iterator[bytes]:
            if not only_fragments:
                yield templates.render(
                    "checks_head.html", agent_id=agent_id, incident_id=incident_id, **common
                ).encode()
            for result in run_checks(diagnostics, agent_id, actor, incident_id):
                yield templates.render("_check.html", r=result, **common).encode()
            yield templates.render(
                "checks_tail.html", agent_id=agent_id, incident_id=incident_id, **common
            ).encode()

        headers = dict(SECURITY_HEADERS, **{"X-Accel-Buffering": "no"})
        return StreamingResponse(stream(), media_type="text/html; charset=utf-8", headers=headers)

    # -- devices, agents, silences, reports ----------------------------------------------

    @router.get("/devices")
    def devices_page(request: Request, session: viewer) -> HTMLResponse:
        devices = ctx.directory.devices()
        figures = ctx.metrics.devices([d.device for d in devices]) if ctx.metrics and devices else None
        return page(request, "devices.html", session, devices=devices, figures=figures)

    @router.get("/devices/{device}")
    def device_page(request: Request, device: Key, session: viewer) -> HTMLResponse:
        found = lookup(f"device:{device}", sources)
        if found.device is None:
            raise PageError(404, f"no device {device}")
        figures = ctx.metrics.devices([device]) if ctx.metrics else None
        return page(
            request,
            "device.html",
            session,
            d=found.device,
            figures=figures,
            grafana_device=_device_link(grafana, device, figures),
        )

    @router.get("/agents")
    def agents_page(
        request: Request, session: viewer, site: Annotated[str, Query(max_length=64)] = ""
    ) -> HTMLResponse:
        agents = [a for a in ctx.directory.agents() if not site or a.site == site]
        counts: dict[str, int] = {}
        for a in agents:
            counts[str(a.status)] = counts.get(str(a.status), 0) + 1
        return page(request, "agents.html", session, agents=agents, counts=counts, site=site)

    @router.get("/silences")
    def silences_page(request: Request, session: viewer, error: str = "") -> HTMLResponse:
        silences = ctx.silences.current(ctx.clock())
        return page(request, "silences.html", session, silences=silences, error=error)

    @router.post("/silences")
    def add_silence(request: Request, session: helpdesk, form: posted) -> Response:
        auth.check_csrf(session, form)
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
            return page(
                request,
                "silences.html",
                session,
                status=422,
                silences=ctx.silences.current(ctx.clock()),
                error=problem,
            )
        kind = SilenceKind.MAINTENANCE if form.get("kind") == "maintenance" else SilenceKind.SILENCE
        now = ctx.clock()
        ctx.silences.add(
            kind,
            now,
            now + int(minutes) * 60 * NS,
            reason=form.get("reason").strip()[:1000],
            created_by=session.user.name,
            now_ns=now,
            **matchers,
        )
        return back("/silences")

    @router.post("/silences/{silence_id}/remove")
    def remove_silence(silence_id: RowId, session: helpdesk, form: posted) -> Response:
        auth.check_csrf(session, form)
        if not ctx.silences.remove(silence_id):
            raise PageError(404, f"no silence {silence_id}")
        return back("/silences")

    def build_report(since: str) -> reports.Report:
        now = ctx.clock()
        since_ns = now - reports.parse_since(since) * NS
        forecasts = [
            reports.Forecast(f.device, f.site, f.supply, f.level_percent, f.percent_per_day, f.days_left)
            for f in ctx.directory.supplies(now)
        ]
        fleet = inventory_report.build(ctx.inventories.all_latest(), now)
        return reports.build_report(
            store.all_since(since_ns), since_ns, now, ctx.kb, forecasts=forecasts, fleet=fleet
        )

    Period = Annotated[str, Query(pattern=r"^[0-9]{1,5}[dhms]$")]

    @router.get("/reports")
    def reports_page(request: Request, session: viewer, since: Period = "30d") -> HTMLResponse:
        html = reports.render_html(build_report(since))
        start, end = html.find("<body>"), html.rfind("</body>")
        body = html[start + 6 : end] if start >= 0 and end > start else html
        head_start, head_end = html.find("<style>"), html.find("</style>")
        style = html[head_start + 7 : head_end] if head_start >= 0 and head_end > head_start else ""
        return page(
            request,
            "reports.html",
            session,
            since=since,
            periods=PERIODS,
            report_html=Markup(body),
            report_style=Markup(style),
        )

    @router.get("/reports.csv")
    def reports_csv(session: viewer, since: Period = "30d") -> Response:
        return Response(
            reports.render_csv(build_report(since)),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="deskwatch-report-{since}.csv"'},
        )

    admin = Annotated[Session, Depends(auth.need(Role.ADMIN))]

    @router.get("/users")
    def users_page(request: Request, session: admin) -> HTMLResponse:
        return page(request, "users.html", session, users=ctx.users.list())

    @router.get("/me")
    def me(session: viewer) -> JSONResponse:
        return JSONResponse({"name": session.user.name, "role": str(session.user.role)})

    return router


def _device_link(grafana: Callable[..., str], device: str, figures: Any = None) -> str:
    """A printer's dashboard, or the network dashboard for a device without supplies (a modem)."""
    printer = figures is None or any(s.device == device for s in figures.supplies)
    return grafana(GRAFANA_PRINTER if printer else GRAFANA_NETWORK, device=device)


def _login_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


__all__ = ["CachedDirectory", "ConsoleContext", "mount"]
