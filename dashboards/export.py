"""Dashboards as the JSON Grafana loads, and the files `deploy/grafana/provisioning/` keeps (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.catalog import DASHBOARDS

# Where `dashboards export` writes for Grafana's file provisioning (see the provider YAML).
REPO = Path(__file__).resolve().parent.parent
PROVISIONED = REPO / "deploy" / "grafana" / "provisioning" / "dashboards" / "deskwatch"


def as_json(name: str) -> dict[str, Any]:
    """The dashboard `name` (a key of DASHBOARDS) as a JSON object."""
    data: dict[str, Any] = json.loads(json.dumps(DASHBOARDS[name](), cls=JSONEncoder))
    return data


def render(name: str) -> str:
    """The file text of dashboard `name`: sorted keys and a final newline, so diffs stay small."""
    return json.dumps(as_json(name), indent=2, sort_keys=True) + "\n"


def files() -> dict[str, str]:
    """Every dashboard's file name and text."""
    return {f"{name}.json": render(name) for name in DASHBOARDS}


def write(directory: Path) -> list[Path]:
    """Write every dashboard into `directory` (created if missing); return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in files().items():
        path = directory / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
