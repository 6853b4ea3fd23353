"""What every console page needs: the `Console` its routes are given, sessions as dependencies.

The console's routers are module-level (collector.console.pages, collector.console.fleet);
a route takes the `Console` provided to the app (`c: Con`) and the signed-in session with
the role it needs (`session: Viewer | Helpdesk | Admin`). `mount` provides the console to
the app and includes its routers and static files.
"""

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from collector.auth import Role
from collector.auth.users import Session
from collector.console.auth import Auth, Form, read_form
from collector.console.context import CachedDirectory, ConsoleContext
from collector.console.render import Templates
from collector.http import part
from collector.inventory.lookup import Sources

RowId = Annotated[int, Path(ge=1, le=2**62)]
Key = Annotated[str, Path(min_length=1, max_length=256)]
Period = Annotated[str, Query(pattern=r"^[0-9]{1,5}[dhms]$")]
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


class Console:
    """The console of one collector: its context, its users' sessions, its templates."""

    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = dataclasses.replace(ctx, directory=CachedDirectory(ctx.directory))
        self.auth = Auth(ctx.users, ctx.settings, ctx.clock)
        self.templates = Templates()
        self.store = ctx.store
        self.sources = Sources(
            ctx.inventories,
            ctx.store,
            ctx.kb,
            conditions=ctx.conditions,
            devices=self.ctx.directory.devices,
            clock=ctx.clock,
        )

    def page(
        self, request: Request, name: str, session: Session | None, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        body = self.templates.render(
            name,
            user=session.user if session else None,
            csrf=session.csrf if session else "",
            can_act=session is not None and session.user.role in (Role.HELPDESK, Role.ADMIN),
            now_ns=self.ctx.clock(),
            path=request.url.path,
            refresh_seconds=self.ctx.settings.refresh_seconds,
            fragment=bool(request.headers.get(FRAGMENT)),
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    @staticmethod
    def back(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)

    def grafana(self, path: str, **values: str) -> str:
        base = self.ctx.settings.grafana_url.rstrip("/")
        if not base:
            return ""
        return base + path.format(**{k: quote(v, safe="") for k, v in values.items()})


Con = Annotated[Console, Depends(part(Console))]


def need(role: Role) -> Callable[..., Session]:
    """A dependency: the signed-in user's session, with at least `role`."""

    def check(request: Request, c: Con) -> Session:
        return c.auth.require(request, role)

    return check


Viewer = Annotated[Session, Depends(need(Role.VIEWER))]
Helpdesk = Annotated[Session, Depends(need(Role.HELPDESK))]
Admin = Annotated[Session, Depends(need(Role.ADMIN))]
Posted = Annotated[Form, Depends(read_form)]


def device_link(grafana: Callable[..., str], device: str, figures: Any = None) -> str:
    """A printer's dashboard, or the network dashboard for a device without supplies (a modem)."""
    printer = figures is None or any(s.device == device for s in figures.supplies)
    return grafana(GRAFANA_PRINTER if printer else GRAFANA_NETWORK, device=device)
