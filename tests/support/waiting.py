"""Wait for a condition, never for a fixed time.

A fixed sleep is too short on a loaded CI machine and too long everywhere else. Tests
poll what they are waiting for (a port that listens, a batch that is stored, a line in a
log) with `wait_until`, which returns as soon as it holds and, when it never does, fails
with what was awaited and the last value seen, so the failure says what went wrong.

Sleeps that remain in tests are the scenario itself (an agent that must stay silent for
3 s, a disk that stays full for 3 s) and say so in a comment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T],
    *,
    done: Callable[[T], Any] = bool,
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str | Callable[[], str] = "the condition",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `probe` until `done(value)` holds (by default: until the value is truthy); return that value.

    Exceptions of the `ignore` types count as "not yet" (a port that refuses connections,
    a server that is still starting). After `timeout` seconds this raises AssertionError
    naming `what` (a string, or a function called only then, e.g. to add a log's tail) and
    the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except ignore as err:
            seen: object = err
        else:
            if done(value):
                return value
            seen = value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"waited {timeout} s for {said}; last seen: {seen!r}"[:4000])
        time.sleep(interval)
