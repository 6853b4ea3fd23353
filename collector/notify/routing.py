"""Which connectors hear of an incident: routes by category, site and minimum severity (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from agent.protocol import Severity
from collector.incidents.model import Incident

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Route(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Send to `connector` the incidents that match every non-empty filter."""

    connector: str
    categories: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    min_severity: Severity = Severity.INFO


def route(routes: Sequence[Route], incident: Incident) -> list[str]:
    """The connectors (each once, in route order) that `incident` goes to."""
    picked: list[str] = []
    for r in routes:
        if r.categories and incident.category not in r.categories:
            continue
        if r.sites and incident.site not in r.sites:
            continue
        if _RANK[incident.severity] < _RANK[r.min_severity]:
            continue
        if r.connector not in picked:
            picked.append(r.connector)
    return picked


class Router:
    """`route` bound to a list of routes, the callable IncidentStore takes."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = list(routes)

    def __call__(self, incident: Incident) -> list[str]:
        return route(self.routes, incident)
