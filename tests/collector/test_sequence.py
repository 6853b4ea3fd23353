"""Per-agent sequence tracking: gaps, late arrivals, duplicates, merging two collectors' views."""

from __future__ import annotations

import sys
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from collector import sequence
from collector.db import begin_write
from collector.sequence import AgentSequence, SequenceTracker, Verdict, merge


def observe_all(seqs: list[int]) -> tuple[AgentSequence, list[Verdict]]:
    tracker = SequenceTracker()
    verdicts = [tracker.observe("a", s) for s in seqs]
    state = tracker.get("a")
    assert state is not None
    return state, verdicts


def test_in_order_has_no_gaps() -> None:
    state, verdicts = observe_all([5, 6, 7])
    assert verdicts == [Verdict.NEW] * 3 and state.gaps == 0


def test_a_jump_opens_a_gap_and_a_late_arrival_fills_it() -> None:
    state, _ = observe_all([1, 4, 5])
    assert state.gaps == 2 and state.missing == [(2, 4)]
    assert state.observe(3) is Verdict.FILLED
    assert state.gaps == 1 and state.missing == [(2, 3)]
    assert state.observe(2) is Verdict.FILLED
    assert state.gaps == 0


def test_redelivery_is_a_duplicate() -> None:
    state, verdicts = observe_all([1, 2, 2, 1, 3])
    assert verdicts == [Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE, Verdict.DUPLICATE, Verdict.NEW]
    assert state.duplicates == 2 and state.gaps == 0


def test_numbers_below_the_window_are_accepted() -> None:
    _, verdicts = observe_all([10, 3])
    assert verdicts == [Verdict.NEW, Verdict.UNKNOWN]


def test_too_many_gaps_write_off_the_oldest() -> None:
    seqs = [2 * i for i in range(sequence.MAX_RANGES + 10)]
    state, _ = observe_all(seqs)
    assert len(state.missing) == sequence.MAX_RANGES
    assert state.gaps == len(seqs) - 1
    assert state.lost == len(seqs) - 1 - sequence.MAX_RANGES


def test_merge_is_the_union_of_what_both_saw() -> None:
    a, _ = observe_all([0, 2, 4, 6])
    b, _ = observe_all([1, 3, 5])
    merged = merge(a, b)
    assert (merged.floor, merged.high, merged.missing, merged.gaps) == (0, 6, [], 0)
    c, _ = observe_all([1, 3, 9])
    assert merge(a, c).missing == [(5, 6), (7, 9)]


def seen_numbers(state: AgentSequence) -> set[int]:
    missing = {n for start, end in state.missing for n in range(start, end)}
    return set(range(state.floor, state.high + 1)) - missing


# A collector's view of one agent: usually an unbroken run, sometimes with holes.
views = st.one_of(
    st.builds(
        lambda start, length: list(range(start, start + length)), st.integers(0, 30), st.integers(1, 20)
    ),
    st.lists(st.integers(0, 50), min_size=1, max_size=25),
)


@given(views, views)
def test_merge_keeps_exactly_what_either_saw(xs: list[int], ys: list[int]) -> None:
    (a, _), (b, _) = observe_all(xs), observe_all(ys)
    merged = merge(a, b)
    assert seen_numbers(merged) == seen_numbers(a) | seen_numbers(b)
    assert (merged.floor, merged.high) == (min(a.floor, b.floor), max(a.high, b.high))
    assert merged.missing == sorted(merged.missing) and all(start < end for start, end in merged.missing)
    assert (merged.lost, merged.duplicates) == (max(a.lost, b.lost), max(a.duplicates, b.duplicates))


def test_state_survives_in_the_store(store: Engine) -> None:
    engine = store
    first = SequenceTracker()
    for seq in (1, 2, 5):
        first.observe("pc-1", seq)
    with begin_write(engine) as conn:
        _, opened, filled = sequence.save(conn, first.take_dirty())
    assert (opened, filled) == (2, 0)
    restarted = SequenceTracker()
    restarted.load(engine)
    assert restarted.observe("pc-1", 5) is Verdict.DUPLICATE
    assert restarted.observe("pc-1", 3) is Verdict.FILLED
    for seq in (7, 8):
        restarted.observe("pc-2", seq)  # no gap: not listed
    with begin_write(engine) as conn:
        _, opened, filled = sequence.save(conn, restarted.take_dirty())
        assert sequence.stored_gaps(conn) == {"pc-1": 1}
    assert (opened, filled) == (0, 1)


def test_nothing_observed_while_the_flush_takes_changes_is_lost() -> None:
    """Ingest observes on its MQTT thread while its flush thread takes the changed agents."""
    tracker = SequenceTracker()
    agents = [f"pc-{i:05d}" for i in range(2_000)]
    done = threading.Event()

    def observe() -> None:
        for seq in range(1, 6):
            for agent in agents:
                tracker.observe(agent, seq)
        done.set()

    taken: dict[str, int] = {}
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        thread = threading.Thread(target=observe)
        thread.start()
        while not done.is_set():
            for agent, view in tracker.take_dirty().items():
                taken[agent] = max(taken.get(agent, 0), view.high)
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    for agent, view in tracker.take_dirty().items():
        taken[agent] = max(taken.get(agent, 0), view.high)
    assert taken == dict.fromkeys(agents, 5)  # every agent's last batch reached a save


def test_a_new_spool_starts_a_new_window() -> None:
    """A re-imaged PC numbers from 1 again: nothing of its new life is a duplicate."""
    tracker = SequenceTracker()
    old = [tracker.observe("pc", seq, "old", 10) for seq in (1, 2, 3, 5, 6)]  # 4 never came
    new = [tracker.observe("pc", seq, "new", 20) for seq in (1, 2, 3, 2)]
    assert old == [Verdict.NEW] * 5
    assert new == [Verdict.NEW, Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE]  # repeats still caught
    state = tracker.get("pc")
    assert state is not None
    assert (state.spool_id, state.floor, state.high, state.retired) == ("new", 1, 3, ["old"])
    assert state.gaps == 1 and state.lost == 1  # the old life's missing 4 stays counted, as lost
    assert tracker.observe("pc", 4, "old", 30) is Verdict.UNKNOWN  # late, from the replaced spool: stored
    assert tracker.observe("pc", 5, "new", 30) is Verdict.NEW  # the new life goes on


def test_an_old_agent_without_spool_id_is_tracked_as_before() -> None:
    tracker = SequenceTracker()
    assert [tracker.observe("pc", s) for s in (3, 4, 4)] == [Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE]
    assert tracker.observe("pc", 9, "upgraded", 5) is Verdict.NEW  # its first batch with a spool id
    assert tracker.observe("pc", 3) is Verdict.UNKNOWN  # a late one from before the upgrade


@pytest.mark.parametrize("order", ["old first", "new first"])
def test_two_collectors_agree_on_the_newer_spool(order: str) -> None:
    """One collector saw only the old spool, another only the new one: the merge keeps the new life."""
    a, b = SequenceTracker(), SequenceTracker()
    for seq in (1, 2, 4):
        a.observe("pc", seq, "old", 100)
    for seq in (1, 2):
        b.observe("pc", seq, "new", 200)  # b never saw "old": the later window wins
    (old,) = a.take_dirty().values()
    (new,) = b.take_dirty().values()
    merged = merge(old, new) if order == "old first" else merge(new, old)
    assert (merged.spool_id, merged.floor, merged.high, merged.missing) == ("new", 1, 2, [])
    assert merged.retired == ["old"] and merged.gaps == 1  # old's missing 3 stays counted
    # and a view that knows "new" replaced "old" wins whatever the times say
    known = merge(new, old)
    late = SequenceTracker()
    late.observe("pc", 7, "old", 999)
    (late_old,) = late.take_dirty().values()
    assert merge(known, late_old).spool_id == "new"


def test_spool_windows_survive_in_the_store(store: Engine) -> None:
    first = SequenceTracker()
    for seq in (1, 2, 3):
        first.observe("pc-1", seq, "old", 10)
    for seq in (1, 2):
        first.observe("pc-1", seq, "new", 20)
    with begin_write(store) as conn:
        _, opened, filled = sequence.save(conn, first.take_dirty())
    assert (opened, filled) == (0, 0)
    restarted = SequenceTracker()
    restarted.load(store)
    assert restarted.observe("pc-1", 2, "new", 30) is Verdict.DUPLICATE
    assert restarted.observe("pc-1", 3, "new", 30) is Verdict.NEW
    assert restarted.observe("pc-1", 3, "old", 30) is Verdict.UNKNOWN
