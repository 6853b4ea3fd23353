"""An agent's clock offset, learnt from batches stamped as they were sent (collector/clock_offset.py)."""

from __future__ import annotations

import pytest

from agent.protocol import NS
from collector.clock_offset import AGREE_NS, MAX_TIME_NS, ClockOffset

T0 = 1_760_000_000 * NS  # the collector's clock: October 2025
YEAR = 365 * 86400 * NS
SKEW = 5 * NS
MS = NS // 1000


def learnt(*batches: tuple[int, int]) -> ClockOffset:
    """The estimate after `(received_ns, sent_ns)` pairs, in order."""
    clock = ClockOffset()
    for received_ns, sent_ns in batches:
        clock.observe(received_ns, sent_ns)
    return clock


def behind(by: int, received: int, delay: int = 2 * MS) -> tuple[int, int]:
    """A batch from a PC whose clock is `by` behind, sent `delay` before it was received."""
    return received, received - delay - by


@pytest.mark.parametrize(
    ("case", "batches", "offset"),
    [
        ("nothing heard yet", [], None),
        ("the first batch alone is a candidate, not the clock", [behind(10 * YEAR, T0)], None),
        ("two batches that agree are the clock", [behind(10 * YEAR, T0), behind(10 * YEAR, T0 + 30 * NS)],
         10 * YEAR + 2 * MS),
        ("the faster of two is the better estimate",
         [behind(10 * YEAR, T0, delay=300 * MS), behind(10 * YEAR, T0 + 30 * NS, delay=1 * MS)],
         10 * YEAR + 1 * MS),
        ("a clock that is right", [behind(0, T0), behind(0, T0 + 30 * NS)], 2 * MS),
        ("a clock ten years ahead", [behind(-10 * YEAR, T0), behind(-10 * YEAR, T0 + 30 * NS)],
         -10 * YEAR + 2 * MS),
        # nonsense: no stamp (an old agent, a replayed dead letter), a stamp past any clock,
        # no receive time; none of them teaches anything or spoils what is known
        ("no stamp", [(T0, 0), (T0 + 30 * NS, 0)], None),
        ("a stamp past int64", [(T0, MAX_TIME_NS + 1), (T0 + 30 * NS, MAX_TIME_NS + 1)], None),
        ("no receive time", [(0, T0), (0, T0 + 30 * NS)], None),
        ("nonsense after the clock is known",
         [behind(10 * YEAR, T0), behind(10 * YEAR, T0 + 30 * NS), (T0 + 60 * NS, 0), (T0 + 90 * NS, 2**64)],
         10 * YEAR + 2 * MS),
        # a PC whose clock reads 1970 (a flat CMOS battery) is a clock that far behind, not nonsense
        ("a clock at 1970", [(T0, 1), (T0 + 30 * NS, 30 * NS + 1)], T0 - 1),
    ],
)  # fmt: skip
def test_the_offset_estimate(case: str, batches: list[tuple[int, int]], offset: int | None) -> None:
    assert learnt(*batches).offset_ns == offset, case


def test_a_clock_fixed_forward_is_taken_at_once() -> None:
    # Ten years behind, then NTP sets it right: no batch is less late than the truth, so the
    # first batch on the right clock proves the old offset wrong.
    clock = learnt(behind(10 * YEAR, T0), behind(10 * YEAR, T0 + 30 * NS))
    clock.observe(*behind(0, T0 + 60 * NS))
    assert clock.offset_ns == 2 * MS
    assert clock.correction_ns(SKEW) == 0  # back within the skew: nothing is corrected


def test_a_clock_set_back_needs_two_batches_that_agree() -> None:
    # Right, then set an hour back (or ten years ahead, then fixed): the first batch might be
    # one that waited an hour somewhere, so only the second, agreeing, makes it the clock.
    clock = learnt(behind(0, T0), behind(0, T0 + 30 * NS))
    clock.observe(*behind(3600 * NS, T0 + 60 * NS))
    assert clock.offset_ns == 2 * MS
    clock.observe(*behind(3600 * NS, T0 + 90 * NS))
    assert clock.offset_ns == 3600 * NS + 2 * MS
    ahead = learnt(behind(-10 * YEAR, T0), behind(-10 * YEAR, T0 + 30 * NS))
    ahead.observe(*behind(0, T0 + 60 * NS))
    assert ahead.offset_ns == -10 * YEAR + 2 * MS
    ahead.observe(*behind(0, T0 + 90 * NS))
    assert ahead.offset_ns == 2 * MS


def test_one_late_batch_is_a_delay_not_the_clock() -> None:
    # A retransmission after a reconnect carries the stamp of its first send, a minute old.
    clock = learnt(behind(0, T0), behind(0, T0 + 30 * NS))
    clock.observe(T0 + 90 * NS, T0 + 30 * NS)
    clock.observe(*behind(0, T0 + 91 * NS))
    clock.observe(T0 + 150 * NS, T0 + 100 * NS)  # another, later: no pair with the first
    assert clock.offset_ns == 2 * MS


def test_batches_that_waited_in_the_broker_do_not_agree() -> None:
    # The collector was down for an hour: the broker hands over 120 batches at once, sent 30 s
    # apart, so their differences are 30 s apart too and none confirms another.
    restart = T0 + 3600 * NS
    clock = learnt(*[(restart + n * MS, T0 + n * 30 * NS) for n in range(120)])
    assert clock.offset_ns is None
    clock.observe(*behind(0, restart + 5 * NS))  # then live ones, which agree
    clock.observe(*behind(0, restart + 35 * NS))
    assert clock.offset_ns == 2 * MS


def test_agreement_is_within_a_second() -> None:
    clock = learnt(behind(10 * YEAR, T0), behind(10 * YEAR, T0 + 30 * NS, delay=AGREE_NS + 3 * MS))
    assert clock.offset_ns is None  # 1 s apart and more: not yet the same clock
    clock.observe(*behind(10 * YEAR, T0 + 60 * NS, delay=AGREE_NS + 5 * MS))
    assert clock.offset_ns == 10 * YEAR + AGREE_NS + 3 * MS


@pytest.mark.parametrize(
    ("offset", "correction"),
    [(None, 0), (0, 0), (SKEW, 0), (-SKEW, 0), (SKEW + 1, SKEW + 1), (-YEAR, -YEAR), (10 * YEAR, 10 * YEAR)],
)
def test_only_an_offset_beyond_the_skew_is_corrected(offset: int | None, correction: int) -> None:
    assert ClockOffset(offset_ns=offset).correction_ns(SKEW) == correction


WEEK = 7 * 86400 * NS  # the longest a batch waits in the broker for the collector's session


@pytest.mark.parametrize(
    ("case", "first", "correction"),
    [
        # Ingest writes a first batch no delay explains at the collector's time at once: ten years
        # back, the metrics database would drop it before a second batch could confirm the clock.
        ("ten years behind", behind(10 * YEAR, T0), 10 * YEAR + 2 * MS),
        ("ten years ahead", behind(-10 * YEAR, T0), -10 * YEAR + 2 * MS),
        ("a minute ahead: a delay only adds", behind(-60 * NS, T0), -60 * NS + 2 * MS),
        # A batch that waited for the collector (down for a day, its broker session kept) looks
        # a day behind: written at its own time until a second batch agrees.
        ("a day behind, or a day in the broker", behind(86400 * NS, T0), 0),
        ("within the skew", behind(-SKEW, T0, delay=0), 0),
    ],
)
def test_a_first_batch_no_delay_explains_is_corrected_before_it_is_confirmed(
    case: str, first: tuple[int, int], correction: int
) -> None:
    clock = learnt(first)
    assert clock.offset_ns is None, case
    assert clock.correction_ns(SKEW, max_delay_ns=WEEK) == correction, case
    assert clock.correction_ns(SKEW) == 0, case  # the incident state waits for the second batch


def test_a_known_offset_wins_over_a_new_candidate() -> None:
    clock = learnt(behind(0, T0), behind(0, T0 + 30 * NS))
    clock.observe(*behind(10 * YEAR, T0 + 60 * NS))  # one batch: a stepped clock, or nonsense
    assert clock.correction_ns(SKEW, max_delay_ns=WEEK) == 0
