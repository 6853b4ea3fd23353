"""Warm start: a restarted collector forecasts from the history VictoriaMetrics already holds."""

from __future__ import annotations

import logging
import time
import urllib.request
from pathlib import Path

import pytest

from collector.incidents.history import warm_start
from collector.line_protocol import batch_lines
from tests.incidents.fleet import batch, engine_for, sample, sqlite_store, state
from tests.support import fake_agents
from tests.support.services import VictoriaMetrics, free_port
from tests.support.waiting import wait_until

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
    # the site's modem answered SNMP two days ago (only an answer sends snmp_device_info)
    modem = {"device": "MODEM1", "address": "10.0.0.1", "kind": "network"}
    info = sample("snmp_device_info", at - 2 * 86400 * S, modem, value=1)
    lines += batch_lines(batch("pc-1", at - 2 * 86400 * S, samples=[info]))
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
    wait_until(  # new series take VictoriaMetrics a moment to index
        lambda: all(
            fake_agents.query(vm.url, f"count(last_over_time({name}[3d]))")
            for name in ("printer_supply_level_percent", "disk_free_bytes", "snmp_device_info_value")
        ),
        timeout=20,
        interval=0.2,
        what="VictoriaMetrics to index the history",
    )


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


def test_a_restarted_collector_still_knows_which_devices_answered(
    victoria_metrics: VictoriaMetrics, tmp_path: Path
) -> None:
    # A PC restarted while the modem is off: it knows the modem only by its address. Had the
    # modem never answered, that would be a router with SNMP off; it answered two days ago.
    at = now()
    write_history(victoria_metrics, at)
    silent = {"device": "10.0.0.1", "address": "10.0.0.1", "kind": "network", "source": "gateway"}
    report = batch("pc-1", at, states=[state("10.0.0.1", "snmp_reachable", False, at, **silent)])
    keys = {}
    for name, url in (("cold", None), ("warm", victoria_metrics.url)):
        engine = engine_for(sqlite_store(tmp_path / name))
        if url:
            warm_start(engine, url, now_ns=at)
        engine.observe_batch(report, at)
        keys[name] = {c.key for c in engine.conditions(at) if c.condition == "snmp_reachable"}
    assert keys == {"cold": set(), "warm": {"device/MODEM1/snmp_reachable"}}


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
