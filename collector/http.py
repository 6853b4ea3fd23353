"""The collector's HTTP apps: the API listener and an optional internal one for operations.

`create_app()` builds the FastAPI app behind `[http] listen`: /healthz, the API routers
other subsystems add, and /metrics and /openapi.json behind a bearer token (any valid
API token), so the agent ids, sites and up/down states they show are not for anyone on
the network. `create_internal_app()` builds the app behind `[http] internal_listen`, if
one is configured: /metrics, /healthz, /openapi.json and the interactive /docs without
a token, for a listener bound to loopback or a management network (a scraper, an
operator's browser); /metrics and the docs then leave the API listener.

Every request body is bounded (FastAPI's own `max_body_size`, from `[http] max_body_bytes`):
a declared length above the bound is refused with 413 before a byte of the body is read,
and a body sent without a length is cut off with 413 the moment it passes the bound.
FastAPI reads a body before it runs the authentication dependency, so without the bound
one unauthenticated request could make the collector hold any amount of memory.

`Server` runs an app with uvicorn in a thread of the collector process, with TLS when a
certificate and key are configured.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar, cast

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

TITLE = "deskwatch collector"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz reports; `ok` is False while the broker is unreachable."""

    ok: bool
    mqtt_connected: bool
    metrics_writable: bool
    buffer_bytes: int


_bearer = HTTPBearer(auto_error=False, description="a token from `deskwatch-collector token create`")


def token_required(authorize: Callable[[str], bool]) -> Callable[..., None]:
    """A dependency: 401 unless the request carries a bearer token `authorize` accepts."""

    def check(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:  # noqa: B008
        if credentials is None or not authorize(credentials.credentials):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def provide(app: FastAPI, *parts: object) -> None:
    """Hand `parts` (a store, a part's context) to the routes of `app` that ask for their type.

    Routers are module-level; a route takes what it works with as a dependency,
    `Annotated[IncidentStore, Depends(part(IncidentStore))]`, and the composition root
    (collector.app) provides one object of each type when it builds the app.
    """
    if not hasattr(app.state, "parts"):
        app.state.parts = {}
    for p in parts:
        app.state.parts[type(p)] = p


def part(kind: type[T]) -> Callable[[Request], T]:
    """The dependency that gives a route the `kind` object provided to its app."""

    def provided(request: Request) -> T:
        return cast(T, request.app.state.parts[kind])

    provided.__name__ = f"provided_{kind.__name__}"
    return provided


def create_app(
    registry: CollectorRegistry,
    health: Callable[[], Health],
    routers: Sequence[APIRouter] = (),
    *,
    authorize: Callable[[str], bool] = lambda _token: False,
    operations: bool = True,
    max_body_bytes: int = 1024**2,
) -> FastAPI:
    """The API listener's app: /healthz, and /metrics and /openapi.json for a valid token.

    `operations` False leaves /metrics and /openapi.json to the internal listener.
    `authorize(token)` says whether a bearer token is valid (the store's API tokens).
    """
    app = FastAPI(
        title=TITLE,
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        max_body_size=max_body_bytes,
    )

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        state = health()
        return JSONResponse(asdict(state), status_code=200 if state.ok else 503)

    if operations:
        guarded = [Depends(token_required(authorize))]

        @app.get("/metrics", include_in_schema=False, dependencies=guarded)
        def metrics() -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/openapi.json", include_in_schema=False, dependencies=guarded)
        def openapi() -> JSONResponse:
            return JSONResponse(app.openapi())

    for router in routers:
        app.include_router(router)
    return app


def create_internal_app(
    registry: CollectorRegistry, health: Callable[[], Health], api: FastAPI, max_body_bytes: int = 1024**2
) -> FastAPI:
    """The internal listener's app: /metrics, /healthz, /openapi.json (of `api`) and /docs, no token."""
    app = FastAPI(
        title=f"{TITLE} (internal)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        max_body_size=max_body_bytes,
    )

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        state = health()
        return JSONResponse(asdict(state), status_code=200 if state.ok else 503)

    @app.get("/openapi.json")
    def openapi() -> JSONResponse:
        return JSONResponse(api.openapi())

    @app.get("/docs")
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{TITLE} API")

    return app


class Server:
    """uvicorn serving one app in a background thread, over TLS when given a certificate and key."""

    def __init__(
        self, app: FastAPI, host: str, port: int, tls_cert_file: str = "", tls_key_file: str = ""
    ) -> None:
        tls: dict[str, Any] = (
            {"ssl_certfile": tls_cert_file, "ssl_keyfile": tls_key_file} if tls_cert_file else {}
        )
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off", **tls
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
