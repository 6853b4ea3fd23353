"""The proof: every panel's query returns data from a real run of agents, broker, collector and VM.

Grafana itself is not installable on this machine, so the queries are sent the way its
Prometheus datasource sends them: range queries for graphs, instant queries for stats,
bars and tables, with the dashboard's variables set to values the data really has.
A panel without data is a bug: a wrong metric name, a wrong label, a wrong variable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards.catalog import DASHBOARDS
from dashboards.export import as_json
from tests.dashboards import pipeline, promql

pytestmark = pytest.mark.slow

# The site and PC that have the printer and the modem; any value works for the rest.
PREFER = {"site": "hq", "agent": "pc-hq-1"}


def _params() -> Iterator[Any]:
    for name in DASHBOARDS:
        for target in promql.targets(name, as_json(name)):
            yield pytest.param(target, id=target.name)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pipeline.Office]:
    with pipeline.office(Path(tmp_path_factory.mktemp("office"))) as run:
        yield run


@pytest.mark.parametrize("target", list(_params()))
def test_panel_query_returns_data(office: pipeline.Office, target: promql.Target) -> None:
    end = time.time()
    seconds = int(end - office.started) + 1
    builtins = {
        "__range": f"{seconds}s",
        # Grafana: max(4 x scrape interval, $__interval + scrape interval); agents send every 0.5 s here.
        "__rate_interval": "4s",
        "__interval": "1s",
    }
    values = promql.resolve_variables(office.vm.url, as_json(target.dashboard), builtins, PREFER)
    expr = promql.substitute(target.expr, values)
    assert "$" not in expr, f"unresolved variable in {expr}"
    result = promql.run(office.vm.url, expr, target.instant, office.started, end, "1s")
    assert result, f"{target.name}: no data for {expr}"
