"""The collector's HTTP app: /metrics, /healthz, and the API routers other subsystems add.

`create_app()` builds the FastAPI app; `serve()` runs it with uvicorn in a thread of the
collector process. The incidents API plugs in with `create_app(..., routers=[router])`
or `app.include_router(router)` before `serve()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz reports; `ok` is False while the broker is unreachable."""

    ok: bool
    mqtt_connected: bool
    metrics_writable: bool
    buffer_bytes: int


def create_app(
    registry: CollectorRegistry,
    health: Callable[[], Health],
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The collector's FastAPI app serving `registry` on /metrics and `health()` on /healthz."""
    app = FastAPI(title="deskwatch collector", version="1")

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        state = health()
        return JSONResponse(asdict(state), status_code=200 if state.ok else 503)

    for router in routers:
        app.include_router(router)
    return app


class Server:
    """uvicorn serving one app in a background thread."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
