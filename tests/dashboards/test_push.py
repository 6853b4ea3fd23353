"""`dashboards push` against a local stand-in for Grafana (Grafana is not installable here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashboards.catalog import DASHBOARDS
from dashboards.cli import main
from dashboards.export import as_json
from tests.dashboards.fake_grafana import FakeGrafana
from tests.support.services import REPO


def test_push_creates_the_folder_then_updates_only_what_changed(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGrafana(token="t0k3n") as grafana:
        assert main(["push", "--url", grafana.url, "--token", "t0k3n", "--folder", "Helpdesk"]) == 0
        assert [f["title"] for f in grafana.folders.values()] == ["Helpdesk"]
        assert sorted(grafana.dashboards) == sorted(as_json(n)["uid"] for n in DASHBOARDS)
        for stored in grafana.dashboards.values():
            assert stored["meta"]["folderUid"] == "helpdesk"
        assert grafana.saves == len(DASHBOARDS)

        # Someone edits one dashboard in the UI; the next push restores that one only.
        uid = as_json("printers")["uid"]
        grafana.dashboards[uid]["dashboard"]["title"] = "edited by hand"
        assert main(["push", "--url", grafana.url, "--token", "t0k3n", "--folder", "Helpdesk"]) == 0
        assert len(grafana.folders) == 1
        assert grafana.saves == len(DASHBOARDS) + 1
        assert grafana.dashboards[uid]["dashboard"]["title"] == as_json("printers")["title"]
        assert grafana.dashboards[uid]["dashboard"]["version"] == 2

    out = capsys.readouterr().out.splitlines()
    first, second = out[: len(DASHBOARDS)], out[len(DASHBOARDS) :]
    assert all(line.startswith("created") for line in first)
    assert [line.split()[1] for line in second if line.startswith("updated")] == ["printers"]
    assert sum(line.startswith("unchanged") for line in second) == len(DASHBOARDS) - 1


def test_push_with_a_wrong_token_says_so_and_exits_2() -> None:
    with FakeGrafana(token="right") as grafana:
        result = subprocess.run(
            [sys.executable, "-m", "dashboards.cli", "push", "--url", grafana.url, "--token", "wrong"],
            cwd=REPO,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert grafana.dashboards == {}
    assert result.returncode == 2
    assert "401" in result.stderr and "Unauthorized" in result.stderr


def test_export_writes_one_file_per_dashboard(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "dashboards.cli", "export", str(out)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.stem for p in out.glob("*.json")) == sorted(DASHBOARDS)
