"""wait_until returns what it waited for, and fails saying what that was and what it saw."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.support.waiting import wait_until


def test_returns_the_first_value_that_is_done() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter), done=lambda n: n >= 3, interval=0) == 3


def test_a_truthy_value_is_done_by_default() -> None:
    values = iter([[], [], ["here"]])
    assert wait_until(lambda: next(values), interval=0) == ["here"]


def test_ignored_exceptions_count_as_not_yet() -> None:
    calls = itertools.count()

    def refuses_twice() -> str:
        if next(calls) < 2:
            raise ConnectionRefusedError
        return "up"

    assert wait_until(refuses_twice, interval=0, ignore=(OSError,)) == "up"


def test_other_exceptions_go_through() -> None:
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 // 0, ignore=(OSError,))


def test_a_time_out_names_what_was_awaited_and_the_last_value() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"waited 0.2 s for the printer; last seen: 'jammed'"):
        wait_until(lambda: "jammed", done=lambda s: s == "ready", timeout=0.2, what="the printer")
    assert 0.2 <= time.monotonic() - started < 2


def test_what_may_be_computed_only_on_time_out() -> None:
    asked: list[str] = []

    def what() -> str:
        asked.append("log")
        return "the log's tail"

    assert wait_until(lambda: True, what=what) is True and asked == []
    with pytest.raises(AssertionError, match="the log's tail"):
        wait_until(lambda: False, timeout=0, what=what)
