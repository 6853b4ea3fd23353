"""Hostile input through the doors a user has: API filters, the lookup, CLI arguments.

Every attempt must be harmless: no server error, no other rows than the filter names, no
change to the store, no command run. (Broker ACLs, TLS and passwords are tested in
tests/agent/test_broker_acl.py; oversized and malformed payloads in
tests/collector/test_faults.py; forged and replayed diagnostics in tests/diagnostics.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from collector.api.lookup import create_lookup_router
from collector.inventory.lookup import Sources
from collector.inventory.store import InventoryStore
from tests.incidents.fleet import serve
from tests.incidents.test_api import build_app
from tests.support.agent_process import agent_env
from tests.support.services import REPO

INJECTIONS = [
    "' OR '1'='1",
    "hq'; DROP TABLE incidents; --",
    '" OR ""="',
    "%' OR 1=1 --",
    "../../../../etc/passwd",
    "$(touch /tmp/deskwatch-pwned)",
    "`id`",
    "pc-1\x00admin",
    "<script>alert(1)</script>",
    "*",
    "%",
]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    app, store, roles = build_app(tmp_path)
    app.include_router(create_lookup_router(Sources(InventoryStore(store.engine), store)))
    with serve(app) as url, httpx.Client(base_url=url) as client:
        yield client, f"Bearer {roles['admin']}"


@pytest.mark.parametrize("value", INJECTIONS)
def test_api_filters_are_data_never_code(api: tuple[httpx.Client, str], value: str) -> None:
    client, auth = api
    h = {"Authorization": auth}
    before = client.get("/api/v1/incidents", headers=h).json()["total"]
    assert before == 1
    for param in ("site", "device", "agent_id", "condition", "category"):
        answer = client.get("/api/v1/incidents", params={param: value}, headers=h)
        assert answer.status_code in (200, 422), (param, answer.status_code, answer.text[:200])
        if answer.status_code == 200:
            assert answer.json()["total"] == 0, f"{param}={value!r} matched rows it does not name"
    for path, param in (("/api/v1/agents", "site"), ("/api/v1/kb", "condition"), ("/api/v1/lookup", "q")):
        answer = client.get(path, params={param: value}, headers=h)
        assert answer.status_code in (200, 422), (path, answer.status_code, answer.text[:200])
    assert client.get("/api/v1/incidents", headers=h).json()["total"] == before  # the store is intact
    assert not os.path.exists("/tmp/deskwatch-pwned")


def test_path_parameters_reject_what_is_not_an_id(api: tuple[httpx.Client, str]) -> None:
    client, auth = api
    for bad in ("1 OR 1=1", "1;DROP TABLE incidents", "-1", "99999999999999999999999"):
        answer = client.get(f"/api/v1/incidents/{bad}", headers={"Authorization": auth})
        assert answer.status_code in (404, 422), (bad, answer.status_code)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        env=agent_env(),
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_cli_arguments_never_reach_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    attempts = [
        ("-m", "agent", "check", "--agent-id", f"$(touch {marker})"),
        ("-m", "agent", "probe", f"127.0.0.1;touch {marker}", "--timeout", "0.2", "--retries", "0"),
        ("-m", "collector", "agents", "enroll", f"x`touch {marker}`", "--passwd-file", str(tmp_path / "p")),
        (
            "-m",
            "collector.helpdesk_cli",
            "--api",
            "http://127.0.0.1:9",
            "--token",
            "t",
            "incidents",
            "show",
            f"1;touch {marker}",
        ),
    ]
    for argv in attempts:
        result = _run(*argv)
        assert result.returncode != 0, (argv, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (argv, result.stderr[-500:])
    assert not marker.exists()


def test_site_with_shell_characters_is_just_text() -> None:
    """A site name is free text: accepted as data, and it ends up quoted in the batch."""
    result = _run("-m", "agent", "check", "--site", "hq; touch pwned")
    assert result.returncode == 0, result.stderr
    assert "site hq; touch pwned" in result.stdout
    assert not (REPO / "pwned").exists()
