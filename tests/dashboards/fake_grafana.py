"""A stand-in for the few Grafana HTTP API endpoints `dashboards push` uses.

Grafana itself cannot be installed on this machine, so this server implements, after
Grafana's HTTP API reference, exactly: GET/POST /api/folders, GET /api/dashboards/uid/UID
and POST /api/dashboards/db (with `overwrite` and `folderUid`), bearer-token checked.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeGrafana:
    """Folders and dashboards in memory; `saves` counts POSTs to /api/dashboards/db."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.saves = 0
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                grafana.requests.append((self.command, self.path))
                if self.headers.get("Authorization") != f"Bearer {grafana.token}":
                    self._reply(401, {"message": "Unauthorized"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                path = self.path.split("?", 1)[0]
                if path == "/api/folders":
                    self._reply(200, [{"uid": u, "title": f["title"]} for u, f in grafana.folders.items()])
                elif path.startswith("/api/dashboards/uid/"):
                    stored = grafana.dashboards.get(path.rsplit("/", 1)[1])
                    if stored is None:
                        self._reply(404, {"message": "Dashboard not found"})
                    else:
                        self._reply(200, stored)
                else:
                    self._reply(404, {"message": "Not found"})

            def do_POST(self) -> None:
                if not self._authorised():
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/api/folders":
                    uid = body.get("uid") or f"f{len(grafana.folders) + 1}"
                    if uid in grafana.folders:
                        self._reply(409, {"message": "a folder with the same uid already exists"})
                        return
                    grafana.folders[uid] = {"uid": uid, "title": body["title"]}
                    self._reply(200, {"uid": uid, "title": body["title"], "id": len(grafana.folders)})
                elif self.path == "/api/dashboards/db":
                    dashboard = dict(body["dashboard"])
                    uid = dashboard["uid"]
                    if body.get("folderUid") not in grafana.folders:
                        self._reply(400, {"message": "folder not found"})
                        return
                    old = grafana.dashboards.get(uid)
                    if old is not None and not body.get("overwrite"):
                        self._reply(412, {"status": "version-mismatch", "message": "exists"})
                        return
                    version = old["dashboard"]["version"] + 1 if old else 1
                    dashboard.update(id=len(grafana.dashboards) + 1, version=version)
                    grafana.dashboards[uid] = {
                        "dashboard": dashboard,
                        "meta": {"folderUid": body["folderUid"]},
                    }
                    grafana.saves += 1
                    self._reply(200, {"status": "success", "uid": uid, "version": version})
                else:
                    self._reply(404, {"message": "Not found"})

        return Handler
