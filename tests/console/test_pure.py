"""The console's pure pieces, table-driven: where a login may send you, the login rate limit,
label escaping in metrics queries, sparklines, and how a check's reply reads."""

from __future__ import annotations

import pytest

from agent.protocol import CommandResult
from collector.console.auth import Throttle, safe_next
from collector.console.checks import result_of
from collector.console.live import label
from collector.console.render import duration, sparkline
from collector.diagnostics import Answered


@pytest.mark.parametrize(
    ("wanted", "sent_to"),
    [
        ("/pc/pc-7", "/pc/pc-7"),
        ("/?severity=critical", "/?severity=critical"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_login_sends_back_only_to_a_page_of_this_console(wanted: str, sent_to: str) -> None:
    assert safe_next(wanted) == sent_to


def test_throttle_pauses_a_key_after_its_failures_until_the_window_passes() -> None:
    now = [100.0]
    throttle = Throttle(attempts=3, window_seconds=60, clock=lambda: now[0])
    assert [throttle.failed("maria") for _ in range(3)] == [False, False, True]
    assert throttle.wait_seconds("maria") == 60 and throttle.wait_seconds("olaf") == 0
    now[0] += 30
    assert throttle.wait_seconds("maria") == 30
    throttle.clear("maria")
    assert throttle.wait_seconds("maria") == 0
    throttle.failed("olaf"), throttle.failed("olaf"), throttle.failed("olaf")
    now[0] += 61  # the window slides past the failures
    assert throttle.wait_seconds("olaf") == 0


@pytest.mark.parametrize(
    ("value", "literal"),
    [("pc-7", '"pc-7"'), ('pc"}or{x="', '"pc\\"}or{x=\\""'), ("a\\b", '"a\\\\b"'), ("a\nb", '"a\\nb"')],
)
def test_label_values_cannot_change_a_query(value: str, literal: str) -> None:
    assert label(value) == literal


def test_sparkline_scales_to_the_box_and_needs_two_points() -> None:
    assert sparkline([(0, 50.0)]) == ""
    assert sparkline([(0, 0.0), (10, 100.0)], width=100, height=20) == "0.0,20.0 100.0,0.0"
    assert sparkline([(0, 200.0), (10, 100.0)], width=10, height=10) == "0.0,0.0 10.0,5.0"  # above 100 %


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5 s"), (600, "10 min"), (7300, "2 h 1 min"), (200_000, "2 d 7 h"), (-3, "0 s")]
)
def test_durations_read_like_a_person_says_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_a_check_reply_reads_as_verdict_problems_facts_and_tables() -> None:
    reply = CommandResult(
        v=1,
        command_id="c1",
        agent_id="pc-7",
        status="ok",
        check="disk",
        duration_seconds=0.02,
        result={
            "ok": False,
            "problems": ["C: is 97 % full"],
            "disks": [{"mount": "C:", "used_percent": 97.0, "free_bytes": 3_000_000_000}],
            "warn_percent": 90,
            "healthy": False,
        },
    )
    shown = result_of("disk", Answered(7, "c1", reply, 0.03))
    assert shown.status == "problem" and shown.problems == ["C: is 97 % full"] and shown.audit_id == 7
    assert shown.tables == [("disks", ["mount", "used_percent", "free_bytes"], [["C:", "97", "3.0 GB"]])]
    assert ("warn_percent", "90") in shown.facts and ("healthy", "no") in shown.facts
    triage = CommandResult(
        v=1,
        command_id="c2",
        agent_id="pc-7",
        status="ok",
        check="triage",
        duration_seconds=2.5,
        result={"ok": True, "problems": [], "findings": [{"area": "dns", "ok": True, "text": "resolves"}]},
    )
    assert result_of("triage", Answered(8, "c2", triage, 2.6)).findings == [(True, "dns", "resolves")]
    silent = result_of("memory", Answered(9, "c3", None, 10.0))
    assert silent.status == "no_reply" and "did not answer" in silent.message
