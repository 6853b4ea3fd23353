# No `from __future__ import annotations` here: FastAPI reads the route annotations at runtime.
"""The console's pages and actions: signing in, the queue, a ticket, the caller's PC.

Every page is whole HTML from a Jinja2 template and reads without JavaScript; a request
with the header `X-Console-Fragment: 1` gets only the live part of a page (the queue's
table, the caller's figures), which static/console.js refreshes. Actions are POSTed
forms with the session's CSRF token, answered with a redirect back (post/redirect/get),
and recorded under the user's name like the API records a token's. `mount(app, ctx)`
adds the whole console (these pages and collector.console.fleet's) to the collector's app.
"""

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from collector.auth.users import Session
from collector.console import fleet, queries
from collector.console.auth import LOGIN_COOKIE, SESSION_COOKIE, Denied, Form, LoginRequired, safe_next
from collector.console.checks import LABELS, QUICK, TRIAGE, run_checks
from collector.console.context import ConsoleContext, PageError
from collector.console.render import STATIC
from collector.console.web import (
    FRAGMENT,
    GRAFANA_PC,
    SECURITY_HEADERS,
    Con,
    Console,
    Helpdesk,
    Key,
    Posted,
    RowId,
    Viewer,
    device_link,
)
from collector.http import part, provide
from collector.incidents.model import Conflict, Incident, IncidentNotFound
from collector.inventory.lookup import lookup

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def mount(app: FastAPI, ctx: ConsoleContext) -> None:
    """Serve the console at / on `app`, with its static files at /static."""
    provide(app, Console(ctx))
    console = part(Console)

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        if request.headers.get(FRAGMENT):
            return Response("signed out", status_code=401, headers=SECURITY_HEADERS)
        target = "/login" + ("" if exc.next_path == "/" else "?" + urlencode({"next": exc.next_path}))
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    async def denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Denied)
        body = console(request).templates.render(
            "error.html", title="Not allowed", message=exc.message, user=None, csrf=""
        )
        return HTMLResponse(body, status_code=403, headers=SECURITY_HEADERS)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        title = {404: "Not found", 503: "Not available"}.get(exc.status, "Error")
        body = console(request).templates.render(
            "error.html", title=title, message=exc.message, user=None, csrf=""
        )
        return HTMLResponse(body, status_code=exc.status, headers=SECURITY_HEADERS)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(Denied, denied)
    app.mount("/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(router)
    app.include_router(fleet.router)


# -- signing in and out ---------------------------------------------------------------


@router.get("/login")
def login_form(c: Con, request: Request, next: str = "/") -> Response:
    if c.auth.session(request) is not None:
        return c.back(safe_next(next))
    token = c.auth.login_token(request)
    response = c.page(request, "login.html", None, login_csrf=token, next=safe_next(next), error="")
    _login_cookie(response, request, token)
    return response


@router.post("/login")
def login(c: Con, request: Request, form: Posted) -> Response:
    name, password = form.get("username").strip(), form.get("password")
    client = request.client.host if request.client else "?"
    token = c.auth.login_token(request)

    def again(error: str, status: int) -> HTMLResponse:
        response = c.page(
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

    if not c.auth.login_token_ok(request, form):
        return again("The login form was out of date; please sign in again.", 403)
    wait = max(c.auth.throttle.wait_seconds(name.lower()), c.auth.address_throttle.wait_seconds(client))
    if wait > 0:
        response = again(f"Too many failed logins; try again in {int(wait) + 1} s.", 429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    user = c.ctx.users.verify(name, password)
    if user is None:
        if c.auth.throttle.failed(name.lower()) | c.auth.address_throttle.failed(client):
            log.warning("console: logins as %r or from %s paused after failures", name[:64], client)
        return again("Wrong user name or password.", 401)
    c.auth.throttle.clear(name.lower())
    log.info("console: %s signed in from %s", user.name, client)
    session_token, _ = c.ctx.users.open_session(user, c.ctx.clock(), c.ctx.settings.session_hours * 3600)
    done = c.back(safe_next(form.get("next", "/")))
    done.set_cookie(
        SESSION_COOKIE,
        session_token,
        max_age=int(c.ctx.settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    done.delete_cookie(LOGIN_COOKIE, path="/login")
    return done


@router.post("/logout")
def logout(c: Con, request: Request, session: Viewer, form: Posted) -> Response:
    c.auth.check_csrf(session, form)
    c.ctx.users.close_session(request.cookies.get(SESSION_COOKIE, ""))
    log.info("console: %s signed out", session.user.name)
    response = c.back("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- the queue -------------------------------------------------------------------------


@router.get("/")
def queue_page(
    c: Con,
    request: Request,
    session: Viewer,
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
    found = queries.queue(c.store.engine, f)
    query = {k: v for k, v in request.query_params.items() if k != "page"}
    return c.page(
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


def ticket_or_404(c: Console, incident_id: int) -> Incident:
    try:
        return c.store.get(incident_id)
    except IncidentNotFound as err:
        raise PageError(404, str(err)) from err


def pcs_of(c: Console, incident: Incident) -> list[str]:
    """The PCs a ticket is about: its own, the affected ones, those that see its device."""
    known = {a.agent_id for a in c.ctx.directory.agents()}
    pcs = [incident.agent_id] if incident.agent_id else []
    pcs += [a for a in incident.affected if a in known]
    if incident.device:
        for d in c.ctx.directory.devices():
            if d.device == incident.device:
                pcs += list(d.agents)
    return list(dict.fromkeys(pcs))


def _device_dashboard(c: Console, device: str) -> str:
    """The Grafana dashboard of a ticket's device, chosen as on its device page (a modem's is
    the network dashboard); "" for a ticket about a PC."""
    if not device:
        return ""
    figures = c.ctx.metrics.devices([device]) if c.ctx.metrics else None
    return device_link(c.grafana, device, figures)


def ticket_view(
    c: Console, request: Request, session: Session, incident_id: int, *, error: str = "", status: int = 200
) -> HTMLResponse:
    incident = ticket_or_404(c, incident_id)
    names = [u.name for u in c.ctx.users.list()]
    return c.page(
        request,
        "ticket.html",
        session,
        status=status,
        i=incident,
        timeline=c.store.timeline(incident_id),
        articles=c.ctx.kb.for_condition(incident.condition, incident.rule),
        pcs=pcs_of(c, incident),
        assignees=queries.assignees(c.store.engine, names),
        error=error,
        grafana_device=_device_dashboard(c, incident.device),
    )


@router.get("/tickets/{incident_id}")
def ticket_page(c: Con, request: Request, incident_id: RowId, session: Viewer) -> HTMLResponse:
    return ticket_view(c, request, session, incident_id)


def act(
    c: Console,
    request: Request,
    session: Session,
    form: Form,
    incident_id: int,
    fn: Callable[[str, int], Incident],
) -> Response:
    c.auth.check_csrf(session, form)
    try:
        fn(session.user.name, c.ctx.clock())
    except IncidentNotFound as err:
        raise PageError(404, str(err)) from err
    except Conflict as err:
        return ticket_view(c, request, session, incident_id, error=str(err), status=409)
    return c.back(safe_next(form.get("back")) if form.get("back") else f"/tickets/{incident_id}")


@router.post("/tickets/{incident_id}/ack")
def ack(c: Con, request: Request, incident_id: RowId, session: Helpdesk, form: Posted) -> Response:
    return act(
        c, request, session, form, incident_id, lambda who, now: c.store.acknowledge(incident_id, who, now)
    )


@router.post("/tickets/{incident_id}/assign")
def assign(c: Con, request: Request, incident_id: RowId, session: Helpdesk, form: Posted) -> Response:
    assignee = (form.get("assignee").strip() or session.user.name)[:64]
    return act(
        c,
        request,
        session,
        form,
        incident_id,
        lambda who, now: c.store.assign(incident_id, assignee, who, now),
    )


@router.post("/tickets/{incident_id}/comment")
def comment(c: Con, request: Request, incident_id: RowId, session: Helpdesk, form: Posted) -> Response:
    text = form.get("text").strip()[:4000]
    if not text:
        c.auth.check_csrf(session, form)
        return ticket_view(c, request, session, incident_id, error="A comment needs some text.", status=422)
    return act(
        c, request, session, form, incident_id, lambda who, now: c.store.comment(incident_id, who, text, now)
    )


@router.post("/tickets/{incident_id}/resolve")
def resolve(c: Con, request: Request, incident_id: RowId, session: Helpdesk, form: Posted) -> Response:
    text = form.get("text").strip()[:4000]
    return act(
        c, request, session, form, incident_id, lambda who, now: c.store.resolve(incident_id, who, text, now)
    )


# -- the caller ------------------------------------------------------------------------


@router.get("/search")
def search(
    c: Con, request: Request, session: Viewer, q: Annotated[str, Query(max_length=256)] = ""
) -> Response:
    if not q.strip():
        return c.back("/")
    found = lookup(q, c.sources)
    if found.result == "found" and found.pc is not None:
        return c.back(f"/pc/{found.pc.agent_id}")
    if found.result == "device" and found.device is not None:
        return c.back(f"/devices/{found.device.device}")
    return c.page(request, "search.html", session, q=q, found=found)


@router.get("/search/suggest")
def suggest(c: Con, session: Viewer, q: Annotated[str, Query(max_length=256)] = "") -> JSONResponse:
    found = queries.suggest(c.store.engine, q) if len(q.strip()) >= 2 else []
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


def picture_or_404(c: Console, agent_id: str) -> Any:
    found = lookup(f"agent:{agent_id}", c.sources)
    if found.pc is None:
        raise PageError(404, f"no PC {agent_id}")
    return found.pc


def live_context(c: Console, agent_id: str) -> dict[str, Any]:
    health = c.ctx.metrics.health(agent_id, c.ctx.clock()) if c.ctx.metrics else None
    return {"health": health, "agent_id": agent_id}


@router.get("/pc/{agent_id}")
def pc_page(c: Con, request: Request, agent_id: Key, session: Viewer) -> HTMLResponse:
    if request.headers.get(FRAGMENT):
        return c.page(request, "_pc_live.html", session, **live_context(c, agent_id))
    pc = picture_or_404(c, agent_id)
    serials = [d.device for d in pc.devices]
    figures = c.ctx.metrics.devices(serials) if c.ctx.metrics else None
    away = next((a.away for a in c.ctx.directory.agents() if a.agent_id == agent_id), "")
    return c.page(
        request,
        "pc.html",
        session,
        pc=pc,
        figures=figures,
        away=away,
        grafana_pc=c.grafana(GRAFANA_PC, agent=agent_id, site=pc.site),
        device_links={d.device: device_link(c.grafana, d.device, figures) for d in pc.devices},
        checks=[(c, LABELS[c]) for c in (*QUICK, TRIAGE)],
        incident_id=None,
        **live_context(c, agent_id),
    )


@router.post("/pc/{agent_id}/checks")
def checks(c: Con, request: Request, agent_id: Key, session: Helpdesk, form: Posted) -> Response:
    c.auth.check_csrf(session, form)
    if c.ctx.diagnostics is None:
        raise PageError(503, "diagnostics are not set up on this collector")
    incident_id = int(form.get("incident_id")) if form.get("incident_id").isdigit() else None
    diagnostics, actor = c.ctx.diagnostics, session.user.name
    only_fragments = bool(request.headers.get(FRAGMENT))
    common = {
        "user": session.user,
        "csrf": session.csrf,
        "can_act": True,
        "now_ns": c.ctx.clock(),
        "path": request.url.path,
        "refresh_seconds": c.ctx.settings.refresh_seconds,
        "fragment": only_fragments,
    }

    def stream() -> Iterator[bytes]:
        if not only_fragments:
            yield c.templates.render(
                "checks_head.html", agent_id=agent_id, incident_id=incident_id, **common
            ).encode()
        for result in run_checks(diagnostics, agent_id, actor, incident_id):
            yield c.templates.render("_check.html", r=result, **common).encode()
        yield c.templates.render(
            "checks_tail.html", agent_id=agent_id, incident_id=incident_id, **common
        ).encode()

    headers = dict(SECURITY_HEADERS, **{"X-Accel-Buffering": "no"})
    return StreamingResponse(stream(), media_type="text/html; charset=utf-8", headers=headers)


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
