"""Whole cycles of rules, correlation, reconciliation and the SQLite store, on simulated time."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.protocol import Severity
from collector.incidents.model import IncidentFilter
from collector.incidents.reconcile import EventKind, IncidentStatus
from collector.incidents.silences import SilenceKind
from collector.observers import AgentStatus
from collector.rules.settings import load_settings
from tests.incidents.fleet import T0, S, batch, engine_for, notices, presence, sample, sqlite_store, state

CYCLE = 30 * S


def queue(engine):  # type: ignore[no-untyped-def]
    """The helpdesk's queue: open incidents neither silenced nor explained by another."""
    found, _ = engine.store.list_incidents(
        IncidentFilter(status=(IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED), quiet=False)
    )
    return found


def open_incidents(engine):  # type: ignore[no-untyped-def]
    found, _ = engine.store.list_incidents(
        IncidentFilter(status=(IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED))
    )
    return found


def test_five_agents_one_printer_make_one_incident_that_resolves_after_clear_cycles(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    t = T0
    for i in range(5):
        engine.observe_batch(
            batch(
                f"pc-{i}",
                t,
                states=[
                    state("SN123", "printer_toner_low", False, t, text="black toner low", supply="black")
                ],
            ),
            t,
        )
    engine.evaluate(t)
    (incident,) = open_incidents(engine)
    assert incident.key == "device/SN123/printer_toner_low/black"
    assert incident.device == "SN123"
    for cycle in range(1, 4):  # toner replaced: every PC sees it fine, clear for 3 cycles
        t = T0 + cycle * CYCLE
        for i in range(5):
            engine.observe_batch(
                batch(f"pc-{i}", t, states=[state("SN123", "printer_toner_low", True, t, supply="black")]), t
            )
        engine.evaluate(t)
        assert len(open_incidents(engine)) == (1 if cycle < 3 else 0)
    kinds = [e.kind for e in engine.store.timeline(incident.id)]
    assert kinds == [EventKind.OPENED, EventKind.RESOLVED]
    assert notices(engine.store) == [(incident.id, "opened"), (incident.id, "resolved")]


def test_lost_agent_opens_one_incident_after_grace_and_suppresses_its_host_checks(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    t = T0
    full = sample("disk", t, {"mount": "/"}, used_percent=99.0)
    engine.observe_batch(batch("pc-1", t, samples=[full]), t)
    engine.observe_presence(presence("pc-1", AgentStatus.LOST, t + S))
    engine.observe_batch(batch("pc-2", t), t)
    engine.observe_presence(presence("pc-2", AgentStatus.OFFLINE, t + S))  # graceful: nothing
    engine.evaluate(t + 60 * S)
    assert open_incidents(engine) == []  # within the grace time, and the disk is explained
    engine.evaluate(t + 200 * S)
    (lost,) = open_incidents(engine)
    assert lost.condition == "agent_lost" and lost.agent_id == "pc-1"
    assert any(c.suppressed_by == lost.key for c in engine.last_conditions if c.condition == "disk_full")
    engine.observe_presence(presence("pc-1", AgentStatus.ONLINE, t + 210 * S))
    engine.observe_batch(
        batch("pc-1", t + 210 * S, samples=[sample("disk", t + 210 * S, {"mount": "/"}, used_percent=50.0)]),
        t + 210 * S,
    )
    for n in range(1, 4):
        engine.evaluate(t + (210 + 30 * n) * S)
    assert open_incidents(engine) == []


def test_thirty_agents_losing_internet_make_one_site_incident_and_modem_down_suppresses_it(
    tmp_path: Path,
) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    agents = [f"pc-{i:02}" for i in range(30)]
    for i, agent in enumerate(agents):
        t = T0 + i * 2 * S  # all within a minute
        engine.observe_batch(batch(agent, t, states=[state("internet", "internet_reachable", False, t)]), t)
        if i % 10 == 9:
            engine.evaluate(t)
    (site,) = open_incidents(engine)
    assert site.key == "site/hq/internet_reachable"
    assert site.affected == tuple(agents)
    # another site: its modem (which answered SNMP before) goes down first, and the agents'
    # own internet checks confirm it, so the internet failures behind it open nothing
    modem = {"device": "MODEM9", "address": "10.9.0.1", "role": "modem"}
    engine.observe_batch(
        batch("pc-b1", T0, site="branch", states=[state("MODEM9", "snmp_reachable", True, T0, **modem)]), T0
    )
    t = T0 + 120 * S
    engine.observe_batch(
        batch("pc-b1", t, site="branch", states=[state("MODEM9", "snmp_reachable", False, t, **modem)]), t
    )
    for i in range(5):
        engine.observe_batch(
            batch(f"pc-b{i}", t, site="branch", states=[state("internet", "internet_reachable", False, t)]), t
        )
    engine.evaluate(t)
    keys = {i.key for i in open_incidents(engine)}
    assert keys == {"site/hq/internet_reachable", "device/MODEM9/snmp_reachable"}
    (suppressed,) = [c for c in engine.last_conditions if c.key == "site/branch/internet_reachable"]
    assert suppressed.suppressed_by == "device/MODEM9/snmp_reachable"


def test_lone_agent_failing_check_waits_for_hold_down(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    engine.observe_batch(batch("pc-1", T0, states=[state("dns:intranet", "dns_resolves", False, T0)]), T0)
    engine.evaluate(T0 + 60 * S)
    assert open_incidents(engine) == []
    engine.evaluate(T0 + 130 * S)
    (incident,) = open_incidents(engine)
    assert incident.key == "agent/pc-1/dns_resolves/dns:intranet"


def test_toggling_condition_is_one_flapping_incident_with_limited_notices(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    for cycle in range(20):
        t = T0 + cycle * CYCLE
        ok = cycle % 2 == 1
        engine.observe_batch(batch("pc-1", t, states=[state("SNP", "printer_paper_jam", ok, t)]), t)
        engine.evaluate(t)
    found, total = engine.store.list_incidents(IncidentFilter())
    assert total == 1 and found[0].flapping
    sent = [n for _, n in notices(engine.store)]
    assert sent == ["opened", "updated"]  # opened, then "flapping"; nothing per toggle


def test_maintenance_window_opens_nothing_and_still_bad_after_opens(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    engine.silences.add(SilenceKind.MAINTENANCE, T0, T0 + 600 * S, device="SN7", reason="toner swap")
    for minute in range(0, 12):
        t = T0 + minute * 60 * S
        engine.observe_batch(batch("pc-1", t, states=[state("SN7", "printer_cover_open", False, t)]), t)
        engine.evaluate(t)
        assert len(open_incidents(engine)) == (0 if t < T0 + 600 * S else 1)


def test_silence_opens_quietly_and_resolution_is_still_delivered(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    engine.silences.add(SilenceKind.SILENCE, T0, T0 + 60 * S, condition="printer_paper_jam")
    engine.observe_batch(batch("pc-1", T0, states=[state("SN1", "printer_paper_jam", False, T0)]), T0)
    engine.evaluate(T0)
    (incident,) = open_incidents(engine)
    assert incident.silenced and notices(engine.store) == []
    assert queue(engine) == []  # open, but out of the queue the helpdesk works from
    engine.evaluate(T0 + 90 * S)  # silence over, still jammed: now the helpdesk hears of it
    assert notices(engine.store) == [(incident.id, "opened")]
    assert [i.id for i in queue(engine)] == [incident.id]
    t = T0 + 100 * S
    engine.observe_batch(batch("pc-1", t, states=[state("SN1", "printer_paper_jam", True, t)]), t)
    for n in range(1, 4):
        engine.evaluate(t + n * CYCLE)
    assert notices(engine.store)[-1] == (incident.id, "resolved")


def test_disk_filling_within_a_day_warns_before_it_is_full(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    total = 100e9
    for minute in range(0, 121, 5):  # 2 GB an hour gone: 30 GB free -> ~15 h left
        t = T0 + minute * 60 * S
        free = 40e9 - 2e9 * minute / 60
        engine.observe_batch(
            batch(
                "pc-1",
                t,
                samples=[
                    sample(
                        "disk", t, {"mount": "/data"}, free_bytes=free, used_percent=100 * (1 - free / total)
                    )
                ],
            ),
            t,
        )
    engine.evaluate(T0 + 120 * 60 * S)
    (incident,) = open_incidents(engine)
    assert incident.key == "agent/pc-1/disk_filling//data"
    assert "full in ~18" in incident.summary  # 36 GB at 2 GB/h
    assert incident.severity is Severity.WARNING


def test_toner_falling_steadily_opens_order_supplies_with_days_left(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    for day in range(0, 11):
        t = T0 + day * 86400 * S
        level = 60 - 4 * day  # 4 % a day: 20 % left -> 5 days
        for agent in ("pc-1", "pc-2"):
            engine.observe_batch(
                batch(
                    agent,
                    t,
                    samples=[
                        sample(
                            "printer_supply",
                            t,
                            {"device": "SN9", "supply": "black", "kind": "toner"},
                            level_percent=level,
                        )
                    ],
                ),
                t,
            )
    engine.evaluate(T0 + 10 * 86400 * S)
    (incident,) = open_incidents(engine)
    assert incident.key == "device/SN9/supply_order/black"
    assert incident.summary == "order supplies: black empty in ~5 days"


def test_rules_file_overrides_defaults_by_name(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[incidents]\nclear_cycles = 5\n[[threshold]]\nname = "cpu_high"\nmeasurement = "cpu"\n'
        'field = "used_percent"\nabove = 50\n'
    )
    settings = load_settings(path)
    assert settings.incidents.clear_cycles == 5 and settings.incidents.cycle_seconds == 30
    assert [r.above for r in settings.threshold if r.name == "cpu_high"] == [50]
    assert len(settings.threshold) == len(load_settings().threshold)
    path.write_text('[incidents]\nclear_cycles = "x"\n')
    try:
        load_settings(path)
    except ValueError as err:
        assert "rules.toml" in str(err) and "$.incidents.clear_cycles" in str(err)
    else:
        raise AssertionError("a wrong type must be refused")


def test_many_agents_of_a_site_lost_together_make_one_site_incident(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    for i in range(30):
        engine.observe_batch(batch(f"pc-{i:02}", T0), T0)
        engine.observe_presence(presence(f"pc-{i:02}", AgentStatus.LOST, T0 + i * 2 * S))
    for n in range(0, 10):
        engine.evaluate(T0 + (120 + n * 30) * S)
    (site,) = open_incidents(engine)
    assert site.key == "site/hq/agent_lost" and len(site.affected) == 30


def test_supply_forecast_gives_consumption_per_day_and_days_left(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    for day in range(0, 6):
        t = T0 + day * 86400 * S
        engine.observe_batch(
            batch(
                "pc-1",
                t,
                samples=[
                    sample(
                        "printer_supply", t, {"device": "SN9", "supply": "cyan"}, level_percent=80 - 2 * day
                    )
                ],
            ),
            t,
        )
    (forecast,) = engine.supplies(T0 + 5 * 86400 * S)
    assert (forecast.device, forecast.supply, forecast.level_percent) == ("SN9", "cyan", 70)
    assert forecast.percent_per_day == pytest.approx(2) and forecast.days_left == pytest.approx(35)


def test_printer_problem_that_a_new_poll_no_longer_lists_clears(tmp_path: Path) -> None:
    """The SNMP source reports only present problems; subjects below the serial keep the device key."""
    engine = engine_for(sqlite_store(tmp_path))
    reachable = state("SN5", "snmp_reachable", True, T0, device="SN5", address="10.0.0.9", kind="printer")
    cover = state("SN5/cover/1", "printer_cover_open", False, T0, device="SN5", cover="front")
    alert = state("SN5/alert/7", "printer_alert_1103", False, T0, device="SN5")
    engine.observe_batch(batch("pc-1", T0, states=[reachable, cover, alert]), T0)
    engine.evaluate(T0)
    assert {i.key for i in open_incidents(engine)} == {
        "device/SN5/printer_cover_open/cover/1",
        "device/SN5/printer_alert_1103/alert/7",
    }
    assert {i.device for i in open_incidents(engine)} == {"SN5"}
    for n in range(1, 4):  # the cover is closed: later polls list only the alert
        t = T0 + n * CYCLE
        engine.observe_batch(
            batch(
                "pc-1",
                t,
                states=[
                    state("SN5", "snmp_reachable", True, t, device="SN5"),
                    state("SN5/alert/7", "printer_alert_1103", False, t, device="SN5"),
                ],
            ),
            t,
        )
        engine.evaluate(t)
    assert {i.key for i in open_incidents(engine)} == {"device/SN5/printer_alert_1103/alert/7"}


def _branch_round(
    engine,  # type: ignore[no-untyped-def]
    t: int,
    *,
    gateway_ok: bool,
    internet_failing: int,
    modem: dict[str, str],
    modem_answers: bool,
) -> None:
    """One poll round of a four-PC branch: each PC's gateway and internet checks, pc-0's poll
    of the modem, and the printer at 2 % that pc-1 polls."""
    for i in range(4):
        states = [
            state("gateway:192.168.1.1", "gateway_reachable", gateway_ok, t, gateway="192.168.1.1"),
            state("internet", "internet_reachable", i >= internet_failing, t),
        ]
        if i == 0:
            states.append(state(modem["device"], "snmp_reachable", modem_answers, t, **modem))
        if i == 1:
            states.append(state("SN1", "printer_toner_low", False, t, device="SN1", supply="black"))
        engine.observe_batch(batch(f"pc-{i}", t, site="branch", states=states), t)


MODEM_AT_GATEWAY = {"device": "MOD1", "address": "192.168.1.1", "kind": "network"}
MODEM_BEHIND = {"device": "MOD2", "address": "192.168.0.254", "role": "modem"}


def test_a_gateway_that_answers_the_agents_is_not_down_because_its_snmp_is_silent(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    _branch_round(engine, T0, gateway_ok=True, internet_failing=0, modem=MODEM_AT_GATEWAY, modem_answers=True)
    t = T0 + 60 * S
    # the router at the gateway address stops answering SNMP while every PC still reaches it,
    # and the internet is down for all four: two problems, neither explains the other
    _branch_round(engine, t, gateway_ok=True, internet_failing=4, modem=MODEM_AT_GATEWAY, modem_answers=False)
    engine.evaluate(t)
    assert {i.key for i in open_incidents(engine)} == {
        "device/MOD1/snmp_reachable",
        "site/branch/internet_reachable",
        "device/SN1/printer_toner_low/black",
    }
    assert not [c.key for c in engine.last_conditions if c.suppressed_by]
    # the agents' gateway checks fail too: now the router is the site's way out, and explains
    # the printer behind it
    t += 60 * S
    _branch_round(
        engine, t, gateway_ok=False, internet_failing=4, modem=MODEM_AT_GATEWAY, modem_answers=False
    )
    engine.evaluate(t)
    (toner,) = [c for c in engine.last_conditions if c.key == "device/SN1/printer_toner_low/black"]
    assert toner.suppressed_by in {"device/MOD1/snmp_reachable", "site/branch/gateway_reachable"}


def test_one_pc_without_internet_does_not_make_a_silent_modem_hide_the_toner(tmp_path: Path) -> None:
    engine = engine_for(sqlite_store(tmp_path))
    _branch_round(engine, T0, gateway_ok=True, internet_failing=0, modem=MODEM_BEHIND, modem_answers=True)
    t = T0 + 60 * S
    # the modem goes silent on SNMP; one PC of four has no internet (its own problem)
    _branch_round(engine, t, gateway_ok=True, internet_failing=1, modem=MODEM_BEHIND, modem_answers=False)
    engine.evaluate(t)
    assert {i.key for i in open_incidents(engine)} == {
        "device/MOD2/snmp_reachable",
        "device/SN1/printer_toner_low/black",
    }
    assert not [c.key for c in engine.last_conditions if c.suppressed_by]
    # three of four lose the internet: the modem's silence is confirmed and explains the rest
    t += 60 * S
    _branch_round(engine, t, gateway_ok=True, internet_failing=3, modem=MODEM_BEHIND, modem_answers=False)
    engine.evaluate(t)
    (toner,) = [c for c in engine.last_conditions if c.key == "device/SN1/printer_toner_low/black"]
    assert toner.suppressed_by == "device/MOD2/snmp_reachable"
