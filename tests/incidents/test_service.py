"""The incidents part builds from its collector.toml table and runs its threads (the HTTP wiring:
test_api_surface.py, through collector.app.build)."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import msgspec
import pytest

from collector.app import Incidents
from collector.config import IncidentsConfig
from collector.db import make_engine, migrate
from tests.incidents.fleet import batch, state
from tests.support.waiting import wait_until

CONFIG = """
[incidents]
rules_file = "{rules}"
notify_interval_seconds = 0.05
[incidents.webhooks.helpdesk]
url = "http://127.0.0.1:9/hook"
[incidents.email.it]
host = "127.0.0.1"
sender = "deskwatch@example.org"
recipients = ["it@example.org"]
[[incidents.routes]]
connector = "helpdesk"
categories = ["printer"]
"""


def test_incidents_part_builds_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKWATCH_WEBHOOK_SECRET", "s3cret")
    rules = tmp_path / "rules.toml"
    rules.write_text("[incidents]\ncycle_seconds = 0.05\n")
    raw = tomllib.loads(CONFIG.format(rules=rules))["incidents"]
    config = msgspec.convert(raw, IncidentsConfig)
    db = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(db)
    incidents = Incidents(config, db)
    assert set(incidents.notifier.connectors) == {"helpdesk", "it"}
    now = time.time_ns()
    incidents.engine.observe_batch(
        batch("pc-1", now, states=[state("SN1", "printer_paper_jam", False, now)]), now
    )
    incidents.start()
    try:
        wait_until(incidents.store.open_views, timeout=5, interval=0.02, what="the jam's incident")
    finally:
        incidents.stop()
    (view,) = incidents.store.open_views()
    assert view.key == "device/SN1/printer_paper_jam"
    assert [s.fields for s in incidents.metric_samples(now) if "open" in s.fields] == [{"open": 1}]
