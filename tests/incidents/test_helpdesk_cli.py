"""The `deskwatch` CLI against a real API server on a free port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector import helpdesk_cli
from tests.incidents.fleet import serve
from tests.incidents.test_api import build_app


def test_help_lists_every_command_and_dashboards_is_one_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        helpdesk_cli.main(["--help"])
    listed = capsys.readouterr().out
    for command in ("incidents", "agents", "silence", "kb", "whois", "report", "diag", "dashboards"):
        assert f"    {command} " in listed, command
    assert helpdesk_cli.main(["dashboards", "export", str(tmp_path)]) == 0
    assert (tmp_path / "pc-detail.json").exists()


def test_cli_lists_shows_acts_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _, roles = build_app(tmp_path)
    with serve(app) as url:
        monkeypatch.setenv("DESKWATCH_API", url)
        monkeypatch.setenv("DESKWATCH_TOKEN", roles["helpdesk"])

        def run(*argv: str) -> str:
            code = helpdesk_cli.main(list(argv))
            captured = capsys.readouterr()
            assert code == 0, captured.err
            return captured.out

        listing = run("incidents", "list")
        assert "printer_paper_jam" in listing and "1 of 1" in listing
        shown = run("incidents", "show", "1")
        assert "Paper jam" in shown and "1. Open the covers" in shown and "opened" in shown
        assert run("incidents", "ack", "1").strip() == "incident 1: acknowledged"
        # each action says what it did, not the incident's status
        assert (
            run("incidents", "comment", "1", "on my way").strip()
            == "incident 1: comment added (acknowledged)"
        )
        assert (
            run("incidents", "assign", "1", "maria").strip() == "incident 1: assigned to maria (acknowledged)"
        )
        assert json.loads(run("incidents", "show", "1", "--json"))["assignee"] == "maria"  # --json after too
        run("incidents", "comment", "1", "on my way")
        assert json.loads(run("--json", "incidents", "show", "1"))["timeline"][-1]["text"] == "on my way"
        assert "pc-1" in run("agents", "list")
        assert "silence 1 until" in run("silence", "add", "--device", "SN1", "--minutes", "30")
        assert "SN1" in run("silence", "list")
        run("silence", "remove", "1")
        assert "paper-jam" in run("kb", "list")
        assert "# Paper jam" in run("kb", "show", "paper-jam")
        assert run("report", "--format", "csv").startswith("section,name,value")
        assert "resolved" in run("incidents", "resolve", "1", "cleared")
        assert helpdesk_cli.main(["incidents", "ack", "1"]) == 1
        assert "409" in capsys.readouterr().err
        assert helpdesk_cli.main(["--token", roles["viewer"], "incidents", "comment", "1", "x"]) == 1
        assert "403" in capsys.readouterr().err
