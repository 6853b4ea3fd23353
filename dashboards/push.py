"""Upload the dashboards to a running Grafana with grafana-client: folder first, then by uid.

Each dashboard is compared with what Grafana holds under its uid (ignoring the fields
Grafana owns: `id` and `version`), so a push reports created, updated or unchanged and
writes only what changed. Grafana keeps every saved version, so an unchanged push adds
none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.export import as_json

# Grafana owns these: it assigns `id` and bumps `version` on each save.
_SERVER_FIELDS = ("id", "version")


class Outcome(StrEnum):
    """What a push did to one dashboard."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Pushed:
    """One dashboard's result."""

    name: str
    uid: str
    outcome: Outcome


class PushError(Exception):
    """Grafana refused or could not be reached; the message says which and why."""


def folder_uid(title: str) -> str:
    """A stable uid for a folder title ("deskwatch" -> "deskwatch"), so pushes find it again."""
    return re.sub(r"[^a-z0-9-]+", "-", title.lower()).strip("-")[:40] or "deskwatch"


def _comparable(dashboard: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dashboard.items() if k not in _SERVER_FIELDS}


# grafana-client ships py.typed but leaves its methods unannotated: calls go through Any.
def _folders(api: GrafanaApi) -> Any:
    return api.folder


def _dashboards(api: GrafanaApi) -> Any:
    return api.dashboard


def _ensure_folder(api: GrafanaApi, title: str) -> str:
    for folder in _folders(api).get_all_folders():
        if folder.get("title") == title:
            uid: str = folder["uid"]
            return uid
    created = _folders(api).create_folder(title, uid=folder_uid(title))
    uid = created["uid"]
    return uid


def _existing(api: GrafanaApi, uid: str) -> tuple[dict[str, Any] | None, str]:
    try:
        found = _dashboards(api).get_dashboard(uid)
    except GrafanaClientError as err:
        if err.status_code == 404:
            return None, ""
        raise
    return found.get("dashboard"), found.get("meta", {}).get("folderUid", "")


def push(api: GrafanaApi, names: Iterable[str], folder: str) -> list[Pushed]:
    """Create `folder` if needed and put every dashboard in it, overwriting by uid."""
    try:
        target_folder = _ensure_folder(api, folder)
        results = []
        for name in names:
            dashboard = as_json(name)
            uid = dashboard["uid"]
            current, current_folder = _existing(api, uid)
            if (
                current is not None
                and current_folder == target_folder
                and _comparable(current) == _comparable(dashboard)
            ):
                results.append(Pushed(name, uid, Outcome.UNCHANGED))
                continue
            _dashboards(api).update_dashboard(
                {
                    "dashboard": dashboard,
                    "folderUid": target_folder,
                    "overwrite": True,
                    "message": "deskwatch dashboards push",
                }
            )
            results.append(Pushed(name, uid, Outcome.CREATED if current is None else Outcome.UPDATED))
        return results
    except GrafanaException as err:
        raise PushError(f"Grafana answered {err.status_code}: {err.message}") from err
    except OSError as err:  # niquests' connection errors are OSErrors
        raise PushError(f"cannot reach Grafana: {err}") from err
