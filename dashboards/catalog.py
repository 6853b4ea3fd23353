"""Every dashboard: `DASHBOARDS` maps each file name to the function that builds it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import collector_health, fleet, incidents, network, pc, printers

DASHBOARDS: Final[Mapping[str, Callable[[], Dashboard]]] = {
    "fleet-overview": fleet.build,
    "pc-detail": pc.build,
    "printers": printers.build,
    "network-and-modems": network.build,
    "incidents-and-insights": incidents.build,
    "collector-health": collector_health.build,
}
