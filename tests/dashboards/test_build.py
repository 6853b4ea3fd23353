"""Every dashboard builds, survives the SDK's model both ways, and every panel is complete."""

from __future__ import annotations

import json
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.catalog import DASHBOARDS
from dashboards.export import PROVISIONED, as_json, files


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_dashboard_round_trips_through_the_sdk_model(name: str) -> None:
    # Panel and query types are plugins in the SDK: without them from_json keeps raw dicts.
    register_default_plugins()
    exported = as_json(name)
    again = json.loads(json.dumps(Dashboard.from_json(exported), cls=JSONEncoder))
    assert again == exported


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_every_panel_has_a_title_a_unit_and_a_query(name: str) -> None:
    for panel in _panels(as_json(name)):
        where = f"{name}: panel {panel['id']} {panel.get('title')!r}"
        assert panel.get("title"), where
        assert panel["fieldConfig"]["defaults"].get("unit"), where
        assert panel.get("targets"), where
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), where
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where


@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_panel_ids_are_unique_and_panels_fit_the_grid(name: str) -> None:
    panels = as_json(name)["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24, p["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{name}: {p['title']} overlaps another panel"
                cells.add((x, y))


def test_dashboard_uids_and_titles_are_unique() -> None:
    built = [as_json(name) for name in DASHBOARDS]
    assert len({d["uid"] for d in built}) == len(built)
    assert len({d["title"] for d in built}) == len(built)
    assert all(len(d["uid"]) <= 40 for d in built)  # Grafana's limit on a uid


def test_variables_use_the_datasource_variable() -> None:
    for name in DASHBOARDS:
        variables = as_json(name)["templating"]["list"]
        assert variables[0]["type"] == "datasource" and variables[0]["query"] == "prometheus"
        for v in variables[1:]:
            if v["type"] == "textbox":  # the console's address: no query
                assert v["name"] == "console"
                continue
            assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_provisioned_json_is_what_export_writes() -> None:
    # Regenerate with: python -m dashboards.cli export deploy/grafana/provisioning/dashboards/deskwatch
    expected = files()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in PROVISIONED.glob("*.json")}
    assert sorted(on_disk) == sorted(expected), "stale or missing files in deploy/grafana/provisioning"
    for file_name, text in expected.items():
        assert on_disk[file_name] == text, f"{file_name} is out of date: run `dashboards export`"
