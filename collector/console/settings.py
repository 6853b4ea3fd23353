"""The `[console]` table of collector.toml."""

from __future__ import annotations

from typing import Annotated

import msgspec


class ConsoleSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The helpdesk console on the collector's HTTP listener."""

    enabled: bool = True
    # Grafana's base URL (https://grafana.example:3000); PC and device pages link to its
    # dashboards there. Empty: no Grafana links.
    grafana_url: str = ""
    # A session ends this long after login (the user logs in again).
    session_hours: Annotated[float, msgspec.Meta(gt=0, le=24 * 30)] = 12
    # Failed logins allowed per user name and per client address within the window.
    login_attempts: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 5
    login_window_seconds: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 300
    # How often open pages refresh their live parts (queue, the caller's figures).
    refresh_seconds: Annotated[float, msgspec.Meta(ge=2, le=3600)] = 10
