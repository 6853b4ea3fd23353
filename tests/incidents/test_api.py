"""The helpdesk REST API under a real uvicorn, and the token command.

The whole HTTP surface (every route x every role, out-of-range numbers, schemathesis with
each role and every router mounted) is in test_api_surface.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from collector import api as helpdesk_api
from collector import token_cli
from collector.api import ApiContext
from collector.auth.tokens import TokenStore
from collector.http import provide
from collector.incidents.silence_store import SilenceStore
from collector.incidents.store import IncidentStore
from tests.incidents.fleet import T0, S, batch, engine_for, serve, sqlite_store, state

NOW = T0 + 3600 * S


def build_app(tmp_path: Path) -> tuple[FastAPI, IncidentStore, dict[str, str]]:
    store = sqlite_store(tmp_path)
    engine = engine_for(store)
    for pc in ("pc-1", "pc-2"):
        engine.observe_batch(
            batch(pc, T0, states=[state("SN1", "printer_paper_jam", False, T0, text="jammed")]), T0
        )
    engine.evaluate(T0)
    app = FastAPI(title="deskwatch")
    tokens = TokenStore(store.engine)
    provide(app, tokens, ApiContext(store, directory=engine, clock=lambda: NOW))
    app.include_router(helpdesk_api.router)
    roles = {role: tokens.create(role, f"{role}-user", T0) for role in ("viewer", "helpdesk", "admin")}
    return app, store, roles


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    app, _, roles = build_app(tmp_path)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        yield client, {role: f"Bearer {t}" for role, t in roles.items()}


def test_an_action_is_recorded_under_the_tokens_name(api: tuple[httpx.Client, dict[str, str]]) -> None:
    """Who may use which route is walked route by route, role by role, in test_api_surface.py."""
    client, auth = api
    page = client.get("/api/v1/incidents", headers={"Authorization": auth["viewer"]}).json()
    assert page["total"] == 1
    incident_id = page["items"][0]["id"]
    acked = client.post(f"/api/v1/incidents/{incident_id}/ack", headers={"Authorization": auth["helpdesk"]})
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"] == "helpdesk-user"


def test_incident_flow_shows_articles_and_timeline(api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, auth = api
    h = {"Authorization": auth["helpdesk"]}
    detail = client.get("/api/v1/incidents/1", headers=h).json()
    assert detail["device"] == "SN1"
    assert detail["articles"][0]["slug"] == "paper-jam" and detail["articles"][0]["steps"]
    client.post("/api/v1/incidents/1/assign", json={"assignee": "maria"}, headers=h)
    client.post("/api/v1/incidents/1/comments", json={"text": "on my way"}, headers=h)
    assert (
        client.post("/api/v1/incidents/1/resolve", json={"text": "cleared"}, headers=h).json()["status"]
        == "resolved"
    )
    assert client.post("/api/v1/incidents/1/ack", headers=h).status_code == 409
    kinds = [e["kind"] for e in client.get("/api/v1/incidents/1/timeline", headers=h).json()]
    assert kinds == ["opened", "assigned", "comment", "resolved"]
    assert client.get("/api/v1/incidents/99", headers=h).status_code == 404
    device = client.get("/api/v1/devices/SN1", headers=h).json()
    assert device["agents"] == ["pc-1", "pc-2"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/v1/silences", {"duration_minutes": 30}, "at least one of site"),
        ("/api/v1/silences", {"site": "hq", "duration_minutes": -5}, "greater than 0"),
        ("/api/v1/silences", {"site": "hq"}, "exactly one of ends or duration_minutes"),
        ("/api/v1/silences", {"site": "hq", "ends": "2026-01-01T00:00:00"}, "time zone"),
        ("/api/v1/incidents/1/assign", {"assignee": ""}, "at least 1 character"),
        ("/api/v1/incidents/1/comments", {"text": "x", "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_input_is_422_with_a_clear_message(
    api: tuple[httpx.Client, dict[str, str]], path: str, body: dict[str, object], message: str
) -> None:
    client, auth = api
    response = client.post(path, json=body, headers={"Authorization": auth["helpdesk"]})
    assert response.status_code == 422
    assert message in response.text


def test_silences_and_reports(api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, auth = api
    h = {"Authorization": auth["helpdesk"]}
    made = client.post(
        "/api/v1/silences", json={"device": "SN1", "duration_minutes": 60, "kind": "maintenance"}, headers=h
    ).json()
    assert made["ends_ns"] - made["starts_ns"] == 3600 * S
    assert [s["id"] for s in client.get("/api/v1/silences", headers=h).json()] == [made["id"]]
    assert client.delete(f"/api/v1/silences/{made['id']}", headers=h).status_code == 204
    report = client.get("/api/v1/reports", params={"since": "7d"}, headers=h).json()
    assert report["incidents"] == 1 and report["top_conditions"] == [
        {"name": "printer_paper_jam", "count": 1}
    ]
    html = client.get("/api/v1/reports", params={"format": "html"}, headers=h)
    assert html.headers["content-type"].startswith("text/html") and "<svg" in html.text
    assert client.get("/api/v1/reports", params={"since": "soon"}, headers=h).status_code == 422


def test_removing_a_silence_is_recorded_under_the_tokens_name(tmp_path: Path) -> None:
    app, store, roles = build_app(tmp_path)
    silences = SilenceStore(store.engine)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        h = {"Authorization": f"Bearer {roles['helpdesk']}"}
        made = client.post(
            "/api/v1/silences", json={"site": "hq", "duration_minutes": 60, "reason": "move"}, headers=h
        ).json()
        assert [s.id for s in silences.active(NOW)] == [made["id"]]
        viewer = {"Authorization": f"Bearer {roles['viewer']}"}
        assert client.delete(f"/api/v1/silences/{made['id']}", headers=viewer).status_code == 403
        assert client.get(f"/api/v1/silences/{made['id']}", headers=viewer).json()["removed_by"] == ""
        assert client.delete(f"/api/v1/silences/{made['id']}", headers=h).status_code == 204
        kept = client.get(f"/api/v1/silences/{made['id']}", headers=viewer).json()
        assert kept["removed_by"] == "helpdesk-user" and kept["removed_ns"] == NOW
        assert kept["created_by"] == "helpdesk-user" and kept["reason"] == "move"
        assert client.get("/api/v1/silences", headers=viewer).json() == []  # it covers nothing now
        assert silences.active(NOW) == [] and silences.current(NOW) == []
        again = client.delete(
            f"/api/v1/silences/{made['id']}", headers={"Authorization": f"Bearer {roles['admin']}"}
        )
        assert again.status_code == 404  # removed once, by the one recorded
        assert (
            client.get(f"/api/v1/silences/{made['id']}", headers=viewer).json()["removed_by"]
            == "helpdesk-user"
        )
        assert client.get("/api/v1/silences/999", headers=viewer).status_code == 404


def test_token_command_prints_a_working_token_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    assert token_cli.main(["create", "--role", "helpdesk", "--db", url, "--name", "maria"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    from collector.db import make_engine

    assert TokenStore(make_engine(url)).identity(token) == ("helpdesk", "maria")
    with pytest.raises(SystemExit):
        token_cli.main(["create", "--role", "root", "--db", url])


def test_a_revoked_token_is_refused_by_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app, store, roles = build_app(tmp_path)
    url = str(store.engine.url)
    assert token_cli.main(["create", "--role", "helpdesk", "--db", url, "--name", "left-the-company"]) == 0
    leaked = capsys.readouterr().out.strip().splitlines()[-1]
    assert token_cli.main(["list", "--db", url]) == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(row[1], row[2], row[4]) for row in listed] == [
        ("viewer-user", "viewer", "active"),
        ("helpdesk-user", "helpdesk", "active"),
        ("admin-user", "admin", "active"),
        ("left-the-company", "helpdesk", "active"),
    ]
    assert leaked not in "".join(line for row in listed for line in row)  # only its hash is stored
    with serve(app) as base, httpx.Client(base_url=base) as client:
        headers = {"Authorization": f"Bearer {leaked}"}
        assert client.get("/api/v1/incidents", headers=headers).status_code == 200
        assert token_cli.main(["revoke", listed[3][0], "--db", url]) == 0
        assert client.get("/api/v1/incidents", headers=headers).status_code == 401
        others = {"Authorization": f"Bearer {roles['helpdesk']}"}
        assert client.get("/api/v1/incidents", headers=others).status_code == 200
    assert token_cli.main(["revoke", listed[3][0], "--db", url]) == 1  # already revoked: said so
    assert token_cli.main(["list", "--db", url]) == 0
    assert capsys.readouterr().out.splitlines()[3].endswith("\trevoked")
