"""The `[incidents]` table of collector.toml: rules file, knowledge-base dirs, connectors, routes."""

from __future__ import annotations

import msgspec

from collector.notify.email import EmailSettings
from collector.notify.notifier import RetryPolicy
from collector.notify.routing import Route
from collector.notify.webhook import WebhookSettings


class IncidentsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `[incidents]` table of collector.toml."""

    rules_file: str = ""  # merged over collector/rules/defaults.toml
    kb_dirs: list[str] = []  # extra article directories; a file named like a shipped one replaces it
    webhooks: dict[str, WebhookSettings] = {}  # connector name -> settings
    email: dict[str, EmailSettings] = {}
    routes: list[Route] = []  # empty: every connector hears of every incident
    retry: RetryPolicy = RetryPolicy()
    notify_interval_seconds: float = 1.0
    # At start, rebuild the rules' histories (disk filling, supply forecasts) from the
    # metrics database's PromQL API, instead of waiting 30 min / a day for new data.
    warm_start: bool = True
