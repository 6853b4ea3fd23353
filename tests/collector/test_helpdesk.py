"""The helpdesk CLI: no server module behind it, answers typed like the API's, a bad answer in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute

from collector import api, helpdesk_cli
from collector.api import diagnostics as diagnostics_api
from collector.errors import CollectorError
from collector.helpdesk import answers
from collector.helpdesk.client import ApiError
from collector.helpdesk.commands import COMMANDS, Command
from collector.incidents import model, silences
from tests.incidents.fleet import serve

REPO = Path(__file__).resolve().parents[2]
SERVER_MODULES = (
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "influxdb_client",
    "paho",
    "collector.incidents.store",
    "collector.inventory.store",
    "collector.inventory.lookup",
    "collector.service",
    "collector.api",
    "collector.db",
)

# Import the CLI, ask every command and action for its help, run `whois` against an API that is
# not there (its handler runs up to the request) and render a whois screen, then list what got imported.
_PROBE = """
import json, sys
from collector import helpdesk_cli
for argv in json.loads(sys.argv[1]):
    try:
        helpdesk_cli.main([*argv, "--help"])
    except SystemExit as stop:
        assert stop.code == 0, (argv, stop.code)
assert helpdesk_cli.main(["--api", "http://127.0.0.1:9", "whois", "maria.k"]) == 1
from collector.helpdesk import whois
from collector.inventory.picture import Lookup
assert whois.render(Lookup("maria.k", "unknown", "no PC matches")) == "no PC matches"
print(json.dumps(sorted(sys.modules)))
"""


def _command_paths(table: dict[str, Command] | object, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    assert isinstance(table, dict)
    paths: list[list[str]] = []
    for name, command in table.items():
        paths.append([*prefix, name])
        paths += _command_paths(dict(command.actions), (*prefix, name))
    return paths


def test_the_cli_renders_without_importing_server_modules() -> None:
    paths = [[], *_command_paths(COMMANDS)]
    assert ["incidents", "list"] in paths and ["dashboards"] in paths
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(paths)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = json.loads(done.stdout.splitlines()[-1])
    leaked = [m for m in imported if m.split(".")[0] in SERVER_MODULES or m in SERVER_MODULES]
    leaked += [m for m in imported if any(m.startswith(f"{s}.") for s in SERVER_MODULES)]
    assert not leaked, sorted(set(leaked))
    assert "collector.helpdesk.client" in imported  # the probe did import the CLI


def _response_models() -> dict[str, object]:
    routes = [*api.router.routes, *diagnostics_api.router.routes]
    return {
        f"{' '.join(sorted(r.methods))} {r.path}": r.response_model for r in routes if isinstance(r, APIRoute)
    }


@pytest.mark.parametrize(
    ("route", "answer"),
    [
        ("GET /api/v1/incidents/{incident_id}", answers.IncidentDetail),
        ("GET /api/v1/incidents", answers.IncidentPage),
        ("GET /api/v1/incidents/{incident_id}/timeline", list[answers.Event]),
        ("GET /api/v1/agents/{agent_id}", answers.Agent),
        ("GET /api/v1/kb/{slug}", answers.Article),
        ("GET /api/v1/silences", list[answers.Silence]),
        ("POST /api/v1/incidents/{incident_id}/ack", answers.Incident),
        ("POST /agents/{agent_id}/diagnostics", answers.Diagnostic),
    ],
)
def test_the_cli_decodes_into_the_very_types_the_api_answers_with(route: str, answer: object) -> None:
    # one type per response body: a field added to the API's answer is in the CLI's too
    assert _response_models()[route] == answer


def test_incidents_and_silences_are_decoded_into_the_models_the_api_answers_with() -> None:
    assert answers.Incident is model.Incident and answers.Silence is silences.Silence


def test_api_error_is_a_collector_error() -> None:
    assert issubclass(ApiError, CollectorError)


def _odd_api() -> FastAPI:
    """An API that answers in shapes the CLI does not know: a field of the wrong type, HTML, no body."""
    app = FastAPI()

    @app.get("/api/v1/incidents")
    def incidents() -> dict[str, object]:
        return {"total": 1, "limit": 50, "offset": 0, "items": "not a list"}

    @app.get("/api/v1/kb/{slug}", response_class=PlainTextResponse)
    def article(slug: str) -> str:
        return "<html>a proxy's login page</html>"

    @app.get("/api/v1/agents")
    def agents() -> list[dict[str, object]]:
        return [{"agent_id": "pc-1", "site": "hq"}]  # status, host, ... missing

    @app.post("/api/v1/agents/{agent_id}/diagnostics")
    def diagnostic(agent_id: str) -> dict[str, object]:
        answer = {"audit_id": 1, "command_id": "c1", "agent_id": agent_id, "check": "triage", "status": "ok"}
        disk = {"disks": [{"mount": "/", "used_percent": "full"}]}  # a number expected
        return answer | {"error": "", "duration_seconds": 0.5, "incident_id": None, "result": {"disk": disk}}

    return app


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["incidents", "list"], "unexpected answer from GET /incidents: Expected `array`, got `str`"),
        (["kb", "show", "x"], "unexpected answer from GET /kb/x: JSON is malformed"),
        (["agents", "list", "--json"], "unexpected answer from GET /agents: Object missing required field"),
        (["diag", "pc-1", "--triage"], "unexpected triage result from pc-1: Expected `float`, got `str`"),
    ],
)
def test_an_unexpected_answer_is_one_line_and_exit_1(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(_odd_api()) as url:
        code = helpdesk_cli.main(["--api", url, *argv])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith(f"deskwatch: {said}") and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "module", ["collector.helpdesk.screens", "collector.helpdesk.whois", "collector.inventory.picture"]
)
def test_screens_are_pure(module: str) -> None:
    io = ("httpx", "socket", "sqlalchemy")
    code = f"import sys, {module}; print(' '.join(m for m in {io!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == ""
