"""Rules and reconciliation as pure functions: tables of inputs and the outcome expected."""

from __future__ import annotations

import pytest

from agent.protocol import Severity
from collector.incidents.reconcile import Action, IncidentStatus, IncidentView, Inputs, Notice, reconcile
from collector.rules import evaluate, load_settings
from collector.rules.condition import Category, Condition
from collector.rules.rate import seconds_left, since_last_rise
from collector.state import FleetState, Scope
from tests.incidents.fleet import T0, S, batch, sample

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
                open=[], recently_resolved=[view(status=IncidentStatus.RESOLVED, resolved_ns=T0 - 600 * S)]
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
