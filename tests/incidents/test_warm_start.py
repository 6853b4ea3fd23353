"""Warm start: a restarted collector forecasts from the history VictoriaMetrics already holds."""

from __future__ import annotations

import logging
import time
import urllib.request
from pathlib import Path

import pytest

from collector.incidents.history import warm_start
from collector.line_protocol import batch_lines
from tests.incidents.fleet import batch, engine_for, sample, sqlite_store
from tests.support import fake_agents
from tests.support.services import VictoriaMetrics, free_port

S = 1_000_000_000


def now() -> int:
    """This second. Taken when a test starts, not at import: a run of the whole suite takes
    minutes, and history ending minutes ago is past VictoriaMetrics' instant-query lookback."""
    return (time.time_ns() // S) * S


def write_history(vm: VictoriaMetrics, at: int) -> None:
    """What the collector wrote before it restarted, as the same line protocol it writes.

    pc-1's /data loses 2 GB an hour for the last two hours (full in ~18 h), and printer
    SN9's black toner, reported by two PCs, fell 4 % a day for ten days (empty in ~5 days).
    """
    lines: list[str] = []
    for minute in range(0, 121, 1):
        t = at - (120 - minute) * 60 * S
        free = 40e9 - 2e9 * minute / 60
        disk = sample("disk", t, {"mount": "/data"}, free_bytes=free)
        lines += batch_lines(batch("pc-1", t, samples=[disk]))
    for day in range(0, 11):
        t = at - (10 - day) * 86400 * S
        toner = {"device": "SN9", "supply": "black", "kind": "toner"}
        supply = sample("printer_supply", t, toner, level_percent=60 - 4 * day)
        for agent in ("pc-1", "pc-2"):
            lines += batch_lines(batch(agent, t, samples=[supply]))
    request = urllib.request.Request(f"{vm.url}/api/v2/write", data="\n".join(lines).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    fake_agents.flush_vm(vm.url)
    deadline = time.monotonic() + 20  # new series take VictoriaMetrics a moment to index
    while time.monotonic() < deadline:
        if fake_agents.query(vm.url, "count(printer_supply_level_percent)") and fake_agents.query(
            vm.url, "count(disk_free_bytes)"
        ):
            return
        time.sleep(0.2)
    raise TimeoutError("VictoriaMetrics did not index the history")


def condition_keys(tmp_path: Path, vm_url: str | None, at: int) -> tuple[set[str], int]:
    engine = engine_for(sqlite_store(tmp_path))
    points = warm_start(engine, vm_url, now_ns=at).points if vm_url else 0
    return {c.key for c in engine.conditions(at)}, points


def test_a_restarted_engine_forecasts_at_once_from_stored_history(
    victoria_metrics: VictoriaMetrics, tmp_path: Path
) -> None:
    at = now()
    write_history(victoria_metrics, at)
    cold, _ = condition_keys(tmp_path / "cold", None, at)
    assert cold == set()  # without history: nothing to fit a rate to
    warm, points = condition_keys(tmp_path / "warm", victoria_metrics.url, at)
    assert "agent/pc-1/disk_filling//data" in warm
    assert "device/SN9/supply_order/black" in warm  # two PCs' series of one printer: one history
    assert points > 0


def test_without_a_query_api_the_engine_starts_cold_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens there, as when the metrics database is down or is InfluxDB.
    engine = engine_for(sqlite_store(tmp_path))
    with caplog.at_level(logging.WARNING):
        loaded = warm_start(engine, f"http://127.0.0.1:{free_port()}", timeout=2.0, now_ns=now())
    assert loaded.points == 0 and "disk_free_bytes" in loaded.failed
    assert "its rules start cold" in caplog.text
    assert engine.conditions(now()) == []
