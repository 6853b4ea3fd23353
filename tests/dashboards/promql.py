"""Run a dashboard's queries the way Grafana would, against VictoriaMetrics' Prometheus API.

Grafana replaces its variables before it sends a query; so does this: a query variable
`label_values(METRIC, LABEL)` is itself asked of VictoriaMetrics (so the variable's
query is tested too) and one real value is picked; `$__range`, `$__interval` and
`$__rate_interval` get values that fit the short run.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_LABEL_VALUES = re.compile(r"^label_values\((?P<metric>.+),\s*(?P<label>\w+)\)$")


@dataclass(frozen=True, slots=True)
class Target:
    """One query of one panel."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"


def targets(name: str, dashboard: Mapping[str, Any]) -> Iterator[Target]:
    """Every query of every panel of `dashboard` (rows have none)."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield Target(name, panel["title"], target["refId"], target["expr"], bool(target.get("instant")))


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """`$name` and `${name}` replaced, longest names first so `$__rate_interval` beats `$__range`."""
    for key in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + key + "}", values[key]).replace("$" + key, values[key])
    return expr


def get(vm_url: str, path: str, params: Sequence[tuple[str, str]]) -> Any:
    url = f"{vm_url}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]


def resolve_variables(
    vm_url: str, dashboard: Mapping[str, Any], builtins: Mapping[str, str], prefer: Mapping[str, str]
) -> dict[str, str]:
    """Each query variable's value: `prefer[name]` when the variable offers it, else its first value."""
    values = dict(builtins)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = _LABEL_VALUES.match(query)
        assert match, f"{variable['name']}: only label_values(...) variables are supported here: {query}"
        metric = substitute(match["metric"], values)
        offered = get(vm_url, f"/api/v1/label/{match['label']}/values", [("match[]", metric)])
        assert offered, f"variable {variable['name']}: {query} offers no values"
        wanted = prefer.get(variable["name"], "")
        values[variable["name"]] = wanted if wanted in offered else str(offered[0])
    return values


def run(vm_url: str, expr: str, instant: bool, start: float, end: float, step: str) -> list[Any]:
    """The result series of `expr`: at `end` if instant, else over [start, end]."""
    if instant:
        data = get(vm_url, "/api/v1/query", [("query", expr), ("time", f"{end:.3f}")])
    else:
        data = get(
            vm_url,
            "/api/v1/query_range",
            [("query", expr), ("start", f"{start:.3f}"), ("end", f"{end:.3f}"), ("step", step)],
        )
    result: list[Any] = data["result"]
    return result
