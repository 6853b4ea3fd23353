"""Grafana and the console link to each other: every data link in the provisioned dashboards opens
a console page that exists, and the console's Grafana links name dashboards that exist."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from collector.auth.users import UserStore
from collector.console import web
from collector.console.context import ConsoleContext
from collector.console.pages import mount
from collector.db import make_engine, migrate
from collector.incidents.engine import IncidentEngine
from collector.incidents.store import IncidentStore
from collector.inventory.store import InventoryStore
from dashboards import network, pc, printers
from tests.incidents.fleet import serve
from tests.support.services import DEPLOY

PROVISIONED = DEPLOY / "grafana" / "provisioning" / "dashboards" / "deskwatch"


def _links(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "links" and isinstance(value, list):
                yield from (link["url"] for link in value if isinstance(link, dict) and "url" in link)
            else:
                yield from _links(value)
    elif isinstance(node, list):
        for item in node:
            yield from _links(item)


def test_dashboards_link_to_the_console_pc_and_device_pages(tmp_path: Path) -> None:
    urls = {path.stem: list(_links(json.loads(path.read_text()))) for path in PROVISIONED.glob("*.json")}
    console = [u for found in urls.values() for u in found if u.startswith("${console}")]
    assert {re.sub(r"\$\{[^}]+\}", "X", u) for u in console} == {"X/pc/X", "X/devices/X"}
    assert "${console}/pc/${agent}" in urls["pc-detail"]
    assert "${console}/pc/${__field.labels.agent_id}" in urls["fleet-overview"]
    assert "${console}/devices/${__data.fields.device}" in urls["printers"]
    assert "${console}/devices/${__data.fields.device}" in urls["network-and-modems"]
    # and the console serves those paths
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    store = IncidentStore(engine)
    app = FastAPI()
    mount(app, ConsoleContext(store, InventoryStore(engine), UserStore(engine), IncidentEngine(store)))
    with serve(app) as url, httpx.Client(base_url=url) as client:
        for path in ("/pc/pc-1", "/devices/SN1"):  # served: it asks for a login, it is no 404
            assert client.get(path).headers["location"] == f"/login?next={path.replace('/', '%2F')}"
        assert client.get("/no-such-page").status_code == 404
    engine.dispose()


def test_console_links_name_the_dashboards_uids() -> None:
    assert web.GRAFANA_PC.startswith(f"/d/{pc.UID}/?var-agent=")
    assert web.GRAFANA_PRINTER.startswith(f"/d/{printers.UID}/?var-device=")
    assert web.GRAFANA_NETWORK.startswith(f"/d/{network.UID}/?var-device=")
