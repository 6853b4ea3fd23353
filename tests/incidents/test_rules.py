"""Rules and reconciliation as pure functions: tables of inputs and the outcome expected."""

from __future__ import annotations

import pytest

from agent.protocol import Severity, State
from collector.incidents.correlate import correlate
from collector.incidents.reconcile import Action, IncidentStatus, IncidentView, Inputs, Notice, reconcile
from collector.rules import evaluate, load_settings
from collector.rules.condition import Category, Condition
from collector.rules.rate import seconds_left, since_last_rise
from collector.state import FleetState, Scope
from tests.incidents.fleet import T0, S, batch, sample, state

SETTINGS = load_settings()
POLICY = SETTINGS.incidents


def cpu_state(values: list[float], active: bool = False) -> FleetState:
    """CPU readings one minute apart, the last one at T0 + len-1 minutes."""
    fleet = FleetState(tracks=SETTINGS.tracks())
    for i, v in enumerate(values):
        t = T0 + i * 60 * S
        fleet.apply_batch(batch("pc-1", t, samples=[sample("cpu", t, used_percent=v)]), t)
    fleet.as_of = T0 + (len(values) - 1) * 60 * S
    fleet.active = frozenset({"agent/pc-1/cpu_high"}) if active else frozenset()
    return fleet


@pytest.mark.parametrize(
    ("values", "active", "fires"),
    [
        ([99] * 11, False, True),  # above 95 for 10 minutes
        ([99] * 10, False, False),  # 9 minutes: not yet
        ([99] * 5 + [90] + [99] * 5, False, False),  # a dip restarts the clock
        ([99] * 11 + [90], True, True),  # firing: 90 is still above the clear mark of 80
        ([99] * 11 + [79], True, False),  # below the clear mark: clear
        ([90] * 11, False, False),
    ],
)
def test_cpu_threshold_needs_duration_and_clears_with_hysteresis(
    values: list[float], active: bool, fires: bool
) -> None:
    found = [c for c in evaluate(cpu_state(values, active), SETTINGS) if c.rule == "cpu_high"]
    assert bool(found) is fires


@pytest.mark.parametrize(
    ("points", "left"),
    [
        ([(0, 100.0), (3600, 90.0), (7200, 80.0), (10800, 70.0)], 25200.0),  # 70 left at 10 an hour
        ([(0, 100.0), (3600, 100.0), (7200, 100.0), (10800, 100.0)], None),  # not falling
        ([(0, 100.0), (3600, 90.0), (7200, 80.0)], None),  # too few points
        ([(0, 10.0), (60, 9.0), (120, 8.0), (180, 7.0)], None),  # span too short
    ],
)
def test_seconds_left_fits_a_line(points: list[tuple[int, float]], left: float | None) -> None:
    ns_points = [(t * S, v) for t, v in points]
    result = seconds_left(ns_points, 4, 1800)
    assert result == (pytest.approx(left) if left is not None else None)


def test_refill_restarts_the_history() -> None:
    assert since_last_rise([(0, 10.0), (1, 5.0), (2, 100.0), (3, 95.0)], 0.05) == [(2, 100.0), (3, 95.0)]


def cond(
    key: str = "device/SN1/printer_paper_jam", severity: Severity = Severity.WARNING, **kw: object
) -> Condition:
    values: dict[str, object] = dict(
        key=key,
        rule="printer_problem",
        condition="printer_paper_jam",
        category=Category.PRINTER,
        severity=severity,
        scope=Scope.DEVICE,
        subject="SN1",
        site="hq",
        summary="jam",
        since_ns=T0,
    )
    values.update(kw)
    return Condition(**values)  # type: ignore[arg-type]


def view(**kw: object) -> IncidentView:
    values: dict[str, object] = dict(
        id=1,
        key="device/SN1/printer_paper_jam",
        status=IncidentStatus.OPEN,
        scope=Scope.DEVICE,
        subject="SN1",
        severity=Severity.WARNING,
        notified=True,
    )
    values.update(kw)
    return IncidentView(**values)  # type: ignore[arg-type]


COVERED = frozenset({(Scope.DEVICE, "SN1")})


@pytest.mark.parametrize(
    ("conditions", "inputs", "expected"),
    [
        ([cond()], Inputs(open=[]), [(Action.OPEN, Notice.OPENED)]),
        ([cond()], Inputs(open=[view()]), []),  # unchanged: nothing to write
        ([cond(severity=Severity.CRITICAL)], Inputs(open=[view()]), [(Action.REFRESH, Notice.UPDATED)]),
        ([], Inputs(open=[view()], coverage=COVERED), [(Action.CLEARING, None)]),
        ([], Inputs(open=[view(clear_cycles=2)], coverage=COVERED), [(Action.RESOLVE, Notice.RESOLVED)]),
        ([], Inputs(open=[view(clear_cycles=2)]), []),  # another worker's device: not ours to resolve
        # another worker counted this cycle 5 s ago: counted once
        ([], Inputs(open=[view(clear_cycles=1, clear_tick_ns=T0 - 5 * S)], coverage=COVERED), []),
        ([], Inputs(open=[view(clear_cycles=2, notified=False)], coverage=COVERED), [(Action.RESOLVE, None)]),
        # resolved 10 minutes ago: reopen the same incident rather than open another
        (
            [cond()],
            Inputs(
                open=[],
                recently_resolved=[
                    view(status=IncidentStatus.RESOLVED, resolved_ns=T0 - 600 * S, resolved_by="auto")
                ],
            ),
            [(Action.REOPEN, Notice.OPENED)],
        ),
        # resolved by hand: back only once a report newer than the resolve says it is still there
        (
            [cond(observed_ns=T0 - 700 * S)],
            Inputs(
                open=[],
                recently_resolved=[
                    view(status=IncidentStatus.RESOLVED, resolved_ns=T0 - 600 * S, resolved_by="maria")
                ],
            ),
            [],
        ),
        (
            [cond(observed_ns=T0 - 30 * S)],
            Inputs(
                open=[],
                recently_resolved=[
                    view(status=IncidentStatus.RESOLVED, resolved_ns=T0 - 600 * S, resolved_by="maria")
                ],
            ),
            [(Action.REOPEN, Notice.OPENED)],
        ),
        (
            [cond()],
            Inputs(
                open=[], recently_resolved=[view(status=IncidentStatus.RESOLVED, resolved_ns=T0 - 7200 * S)]
            ),
            [(Action.OPEN, Notice.OPENED)],
        ),
        ([cond(suppressed_by="device/MODEM/snmp_reachable")], Inputs(open=[]), []),  # explained: not opened
        # explained but open: stays, quiet; gone: resolves all the same
        ([cond(suppressed_by="x")], Inputs(open=[view()]), [(Action.REFRESH, None)]),
        # its cause gone and still there: back in the queue, and the receivers hear it again
        ([cond()], Inputs(open=[view(suppressed_by="x")]), [(Action.REFRESH, Notice.UPDATED)]),
        (
            [],
            Inputs(open=[view(suppressed_by="x", clear_cycles=2)], coverage=COVERED),
            [(Action.RESOLVE, Notice.RESOLVED)],
        ),
    ],
)
def test_reconcile(
    conditions: list[Condition], inputs: Inputs, expected: list[tuple[Action, Notice | None]]
) -> None:
    changes = reconcile(conditions, inputs, T0, POLICY)
    assert [(c.action, c.notice) for c in changes] == expected


def _printer(
    supplies: dict[str, tuple[str, float]], states: list[State], active: frozenset[str]
) -> list[Condition]:
    """Conditions after correlation for printer SN1: supplies index -> (kind, level)."""
    fleet = FleetState(tracks=SETTINGS.tracks())
    samples = [
        sample(
            "printer_supply",
            T0,
            {"device": "SN1", "supply_index": i, "supply": f"{kind} {i}", "kind": kind},
            level_percent=level,
        )
        for i, (kind, level) in supplies.items()
    ]
    fleet.apply_batch(batch("pc-1", T0, samples=samples, states=list(states)), T0)
    fleet.as_of, fleet.active = T0, active
    return correlate(evaluate(fleet, SETTINGS), fleet, SETTINGS.correlation)


def _alert(index: int, code: str = "marker_toner_almost_empty") -> State:
    return state(
        f"SN1/alert/{code}/marker_supplies/{index}", f"printer_alert_{code}", False, T0,
        text="Toner low", device="SN1", group="markerSupplies", group_index=str(index),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("supplies", "states", "active", "expected"),
    [
        # a level at or below its mark is a ticket whatever the printer says
        ({"1": ("toner", 2.0)}, [], frozenset(), {("device/SN1/supply_low/1", "toner 1 at 2 %")}),
        ({"1": ("toner", 11.0)}, [], frozenset(), set()),
        # hysteresis: once firing, it clears only at 20 %
        (
            {"1": ("toner", 15.0)},
            [],
            frozenset({"device/SN1/supply_low/1"}),
            {("device/SN1/supply_low/1", "toner 1 at 15 %")},
        ),
        ({"1": ("toner", 20.0)}, [], frozenset({"device/SN1/supply_low/1"}), set()),
        # a waste box's level is the space left: nearly full
        (
            {"5": ("wasteToner", 4.0)},
            [],
            frozenset(),
            {("device/SN1/supply_low/5", "wasteToner 5 nearly full (4 % space left)")},
        ),
        ({"9": ("opc", 3.0)}, [], frozenset(), {("device/SN1/supply_low/9", "opc 9 at 3 %")}),
        # the printer's own alert about supply 1 joins the level's ticket: one ticket
        (
            {"1": ("toner", 2.0)},
            [_alert(1)],
            frozenset(),
            {("device/SN1/supply_low/1", "toner 1 at 2 %; printer says: Toner low")},
        ),
        # the alert alone (level unknown or above the mark) is the same ticket, under the same key
        ({"1": ("toner", 40.0)}, [_alert(1)], frozenset(), {("device/SN1/supply_low/1", "Toner low")}),
        # the error bit names no supply: it joins the emptiest toner
        (
            {"1": ("toner", 40.0), "2": ("toner", 19.0)},
            [state("SN1", "printer_toner_low", False, T0, text="printer reports low toner", device="SN1")],
            frozenset(),
            {("device/SN1/supply_low/2", "printer reports low toner (toner 2 at 19 %)")},
        ),
        # ...or the toner whose ticket is already open, so the ticket does not move
        (
            {"1": ("toner", 30.0), "2": ("toner", 100.0)},
            [state("SN1", "printer_toner_low", False, T0, text="printer reports low toner", device="SN1")],
            frozenset({"device/SN1/supply_low/2"}),
            {("device/SN1/supply_low/2", "printer reports low toner (toner 2 at 100 %)")},
        ),
    ],
)
def test_one_ticket_per_printer_supply(
    supplies: dict[str, tuple[str, float]],
    states: list[State],
    active: frozenset[str],
    expected: set[tuple[str, str]],
) -> None:
    found = {(c.key, c.summary) for c in _printer(supplies, states, active) if not c.suppressed_by}
    assert found == expected


def test_a_tray_level_is_no_ticket() -> None:
    fleet = FleetState(tracks=SETTINGS.tracks())
    tray = sample(
        "printer_tray", T0, {"device": "SN1", "tray_index": "1", "tray": "Bypass"}, level_percent=0.0
    )
    fleet.apply_batch(batch("pc-1", T0, samples=[tray]), T0)
    fleet.as_of = T0
    assert evaluate(fleet, SETTINGS) == []


YEAR = 365 * 86400 * S


def test_a_pc_ten_years_ahead_cannot_close_what_another_pc_reports() -> None:
    fleet = FleetState(tracks=SETTINGS.tracks())
    jam = state("SN1", "printer_paper_jam", False, T0, device="SN1")
    fleet.apply_batch(batch("pc-honest", T0, states=[jam]), T0)
    fine = state("SN1", "printer_paper_jam", True, T0 + 10 * YEAR, device="SN1")
    fleet.apply_batch(batch("pc-ahead", T0 + 10 * YEAR, states=[fine]), T0 + S)
    fleet.as_of = T0 + 30 * S
    assert [c.key for c in evaluate(fleet, SETTINGS)] == ["device/SN1/printer_paper_jam"]
    assert fleet.clamped_total == 2  # the batch's time and the state's, both clamped to receipt + 5 s
    # its black toner reading, years ahead, neither hides the honest PC's 2 % nor blocks its next one
    levels = {"device": "SN1", "supply_index": "4", "supply": "Black", "kind": "toner"}
    ahead = sample("printer_supply", T0 + 10 * YEAR, levels, level_percent=100)
    fleet.apply_batch(batch("pc-ahead", T0 + 10 * YEAR, samples=[ahead]), T0 + 40 * S)
    honest = sample("printer_supply", T0 + 60 * S, levels, level_percent=2)
    fleet.apply_batch(batch("pc-honest", T0 + 60 * S, samples=[honest]), T0 + 60 * S)
    fleet.as_of = T0 + 61 * S
    assert "device/SN1/supply_low/4" in {c.key for c in evaluate(fleet, SETTINGS)}


def test_a_pc_ten_years_behind_reports_a_jam_that_is_there_now() -> None:
    # Its clock says 2015. Each batch is stamped as it is sent, so from the second one on the
    # collector knows the offset and puts its times on its own clock.
    fleet = FleetState(tracks=SETTINGS.tracks())
    levels = {"device": "SN1", "supply_index": "4", "supply": "Black", "kind": "toner"}
    for n in range(2):
        now, pc = T0 + n * 30 * S, T0 + n * 30 * S - 10 * YEAR
        jam = state("SN1", "printer_paper_jam", False, pc, device="SN1")
        toner = sample("printer_supply", pc, levels, level_percent=2)
        fleet.apply_batch(batch("pc-behind", pc, states=[jam], samples=[toner], sent=pc), now)
        fleet.as_of = now + S
        keys = {c.key for c in evaluate(fleet, SETTINGS)}
        # the first batch alone does not tell a clock from a delay: its report is ten years old
        assert ("device/SN1/printer_paper_jam" in keys) is (n == 1)
    assert "device/SN1/supply_low/4" in keys
    assert fleet.agents["pc-behind"].clock.offset_ns == 10 * YEAR
    assert fleet.corrected_total == 1 and fleet.clamped_total == 0


def test_a_backlog_from_a_pc_behind_keeps_its_true_age() -> None:
    # Ten years behind, and away for an hour: its spool sends the hour's batches when it is
    # back, stamped as they leave. They are an hour old, not "now", so the jam they report
    # an hour ago is no current problem (stale_seconds is 900); the live one is.
    fleet = FleetState(tracks=SETTINGS.tracks())
    now, offset = T0 + 3600 * S, 10 * YEAR
    for n in range(3):  # the backlog: batches made 60, 50 and 40 min ago, sent now
        made = now - (60 - 10 * n) * 60 * S - offset
        jam = state("SN1", "printer_paper_jam", False, made, device="SN1")
        fleet.apply_batch(batch("pc-behind", made, states=[jam], sent=now - offset), now + n * S // 1000)
    fleet.as_of = now + S
    assert "device/SN1/printer_paper_jam" not in {c.key for c in evaluate(fleet, SETTINGS)}
    (entry,) = fleet.states.values()
    assert entry.observed_ns == now - 40 * 60 * S  # its true time, on the collector's clock
    pc = now + 30 * S - offset
    live = state("SN1", "printer_paper_jam", False, pc, device="SN1")
    fleet.apply_batch(batch("pc-behind", pc, states=[live], sent=pc), now + 30 * S)
    fleet.as_of = now + 31 * S
    assert "device/SN1/printer_paper_jam" in {c.key for c in evaluate(fleet, SETTINGS)}


def test_an_agent_without_a_stamp_keeps_the_upside_clamp() -> None:
    # An old agent sends no `sent_ns`: its times are clamped to receipt + skew and nothing more.
    fleet = FleetState(tracks=SETTINGS.tracks())
    for n in range(3):
        t = T0 + n * S
        for agent_id, pc in (("pc-old", t + 10 * YEAR), ("pc-old-behind", t - YEAR)):
            fleet.apply_batch(batch(agent_id, pc, states=[state("dns", "dns_resolves", False, pc)]), t)
    observed = {e.agent_id: e.observed_ns for e in fleet.states.values()}
    assert observed == {"pc-old": T0 + 2 * S + 5 * S, "pc-old-behind": T0 + 2 * S - YEAR}
    assert fleet.corrected_total == 0 and fleet.agents["pc-old"].clock.offset_ns is None


def test_one_agent_cannot_grow_the_collector_without_bound() -> None:
    fleet = FleetState(tracks=SETTINGS.tracks())
    for n in range(50):  # 100,000 states that are all different, as a broken agent sent
        states = [state(f"x{n}-{i}", "tcp_reachable", False, T0, target=f"t{i}") for i in range(2_000)]
        fleet.apply_batch(batch("pc-wild", T0 + n * S, states=states), T0 + n * S)
    limit = SETTINGS.trust.max_states_per_agent
    assert len(fleet.states) == limit and fleet.agents["pc-wild"].refused == 100_000 - limit
    fleet.apply_batch(batch("pc-calm", T0, states=[state("dns", "dns_resolves", False, T0)]), T0)
    assert len(fleet.states) == limit + 1  # another agent is not held back by it
    # thirty days later, with neither heard from since, both are forgotten with all they sent
    fleet.apply_batch(batch("pc-new", T0 + 31 * 86400 * S), T0 + 31 * 86400 * S)
    assert fleet.forget(T0 + 31 * 86400 * S) == 2
    assert len(fleet.states) == 0 and set(fleet.agents) == {"pc-new"}
