"""Presence: births, Last Wills, goodbyes and staleness -> status, and the changes reported once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine

from agent.protocol import Presence
from collector import presence
from collector.db import begin_write
from collector.observers import AgentStatus
from collector.presence import Seen
from tests.collector.conftest import MakeCollector
from tests.support import fake_agents
from tests.support.services import Mosquitto
from tests.support.waiting import wait_until

S = 10**9


@pytest.fixture
def engine(store: Engine) -> Engine:
    """Each store test runs on SQLite and on PostgreSQL."""
    return store


def offline(reason: str, time_ns: int) -> Presence:
    return Presence(v=1, agent_id="pc-00001", status="offline", reason=reason, time_ns=time_ns)  # type: ignore[arg-type]


def statuses(
    engine: Engine, messages: list[tuple[Presence, int]], seen: dict[str, Seen] | None = None
) -> list[tuple[AgentStatus, AgentStatus | None]]:
    with begin_write(engine) as conn:
        changes = presence.apply(conn, messages, seen or {})
    return [(c.status, c.previous) for c in changes]


def test_birth_lwt_batch_and_goodbye(engine: Engine) -> None:
    birth = fake_agents.birth(1, 10 * S, interval_seconds=30)
    assert statuses(engine, [(birth, 11 * S)]) == [(AgentStatus.ONLINE, None)]
    assert statuses(engine, [(birth, 12 * S)]) == []  # the retained birth again: no change
    # the Last Will carries the time the agent connected, before its birth: it still counts
    assert statuses(engine, [(offline("lost", 9 * S), 21 * S)]) == [(AgentStatus.LOST, AgentStatus.ONLINE)]
    alive = {"pc-00001": Seen("hq", created_ns=30 * S, received_ns=31 * S)}
    assert statuses(engine, [], alive) == [(AgentStatus.ONLINE, AgentStatus.LOST)]
    assert statuses(engine, [(offline("shutdown", 40 * S), 41 * S)]) == [
        (AgentStatus.OFFLINE, AgentStatus.ONLINE)
    ]
    # received before the goodbye, by a collector that flushed after the one that took it
    late = {"pc-00001": Seen("hq", created_ns=35 * S, received_ns=40 * S)}
    assert statuses(engine, [], late) == []


YEARS_10 = 10 * 365 * 86400 * S


def test_a_pc_clock_far_off_still_comes_and_goes(engine: Engine) -> None:
    now = 2_000_000 * S
    # ten years ahead, then set right: its next birth is "older" by its clock, and counts
    assert statuses(engine, [(fake_agents.birth(1, now + YEARS_10, interval_seconds=30), now)]) == [
        (AgentStatus.ONLINE, None)
    ]
    assert statuses(engine, [(offline("lost", now + YEARS_10), now + 60 * S)]) == [
        (AgentStatus.LOST, AgentStatus.ONLINE)
    ]
    assert statuses(engine, [(fake_agents.birth(1, now + 120 * S, interval_seconds=30), now + 120 * S)]) == [
        (AgentStatus.ONLINE, AgentStatus.LOST)
    ]
    # ten years behind: marked stale by the collector's clock, its next batch brings it back
    with begin_write(engine) as conn:
        assert [c.status for c in presence.expire(conn, now + 400 * S, 3, 30)] == [AgentStatus.STALE]
    back = {"pc-00001": Seen("hq", created_ns=now - YEARS_10, received_ns=now + 410 * S)}
    assert statuses(engine, [], back) == [(AgentStatus.ONLINE, AgentStatus.STALE)]


def last_seen(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.agent_id: row.last_seen_ns for row in presence.agents(conn)}


def test_batches_move_last_seen_forward_and_bring_new_agents_in(engine: Engine) -> None:
    statuses(engine, [(fake_agents.birth(1, 10 * S, interval_seconds=30), 10 * S)])
    assert statuses(engine, [], {"pc-00001": Seen("hq", created_ns=20 * S, received_ns=21 * S)}) == []
    assert statuses(engine, [], {"pc-00001": Seen("hq", created_ns=15 * S, received_ns=18 * S)}) == []
    assert last_seen(engine) == {"pc-00001": 21 * S}  # never back
    both = {
        "pc-00001": Seen("hq", created_ns=29 * S, received_ns=30 * S),
        "pc-00002": Seen("hq", created_ns=25 * S, received_ns=26 * S),  # first heard of
    }
    with begin_write(engine) as conn:  # one agent it never heard of: the long way
        assert not presence._still_online(conn, both)
    assert statuses(engine, [], both) == [(AgentStatus.ONLINE, None)]
    assert last_seen(engine) == {"pc-00001": 30 * S, "pc-00002": 26 * S}
    with begin_write(engine) as conn:  # all online: one statement did it
        assert presence._still_online(conn, {"pc-00002": Seen("hq", created_ns=40 * S, received_ns=41 * S)})
    assert last_seen(engine) == {"pc-00001": 30 * S, "pc-00002": 41 * S}


def test_no_batch_for_n_intervals_is_stale(engine: Engine) -> None:
    statuses(engine, [(fake_agents.birth(1, 10 * S, interval_seconds=30), 10 * S)])
    with begin_write(engine) as conn:
        assert presence.expire(conn, 99 * S, stale_intervals=3, default_interval_seconds=60) == []
        (change,) = presence.expire(conn, 101 * S, stale_intervals=3, default_interval_seconds=60)
        assert (change.status, change.last_seen_ns) == (AgentStatus.STALE, 10 * S)
        assert presence.expire(conn, 200 * S, stale_intervals=3, default_interval_seconds=60) == []
        assert [row.status for row in presence.agents(conn)] == [AgentStatus.STALE]


def test_agent_up_on_metrics(make_collector: MakeCollector, mosquitto: Mosquitto) -> None:
    collector = make_collector()
    publisher = fake_agents.Publisher(mosquitto.url)
    now = time.time_ns()
    publisher.publish(fake_agents.birth(1, now, site="Annex", interval_seconds=0.5))
    publisher.publish(fake_agents.birth(2, now, site="Annex", interval_seconds=60))
    publisher.publish(fake_agents.make_batch(2, 0, now))
    publisher.close()
    text = wait_until(
        collector.metrics,
        done=lambda now: 'deskwatch_agent_status{agent_id="pc-00001",site="Annex",status="stale"} 1.0' in now,
        timeout=10,
        interval=0.2,
        what="pc-00001 to go stale",
    )
    assert 'deskwatch_agent_up{agent_id="pc-00001",site="Annex"} 0.0' in text
    assert 'deskwatch_agent_up{agent_id="pc-00002",site="Annex"} 1.0' in text
