"""Per-agent budgets at ingest: one agent's flood is dead-lettered and counted, the others pass."""

from __future__ import annotations

import time

from agent import protocol
from agent.protocol import Batch, Severity, State
from collector import deadletter
from collector.db import make_engine
from tests.collector.conftest import MakeCollector, wait_for_seqs
from tests.support import fake_agents
from tests.support.services import Mosquitto, VictoriaMetrics
from tests.support.stored import FAULT_REPORT
from tests.support.waiting import wait_until


def test_an_agent_over_its_byte_budget_is_dead_lettered_and_the_others_are_not(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    collector = make_collector(extra="[limits]\nbytes_per_window = 100000\nwindow_seconds = 600\n", group="")
    publisher = fake_agents.Publisher(mosquitto.url)
    base = time.time_ns() - 60 * 10**9
    sent: dict[str, list[int]] = {fake_agents.agent_id(1): []}
    # agent 0: 30 batches of ~7 KB, twice its budget; agent 1: 10, within its own
    for seq in range(30):
        publisher.publish(fake_agents.make_batch(0, seq, base + seq * 10**8))
        if seq < 10:
            publisher.publish(fake_agents.make_batch(1, seq, base + seq * 10**8))
            sent[fake_agents.agent_id(1)].append(seq)
    publisher.close()
    sizes = [len(protocol.encode(fake_agents.make_batch(0, seq, base + seq * 10**8))) for seq in range(30)]
    within = sum(1 for n in range(30) if sum(sizes[: n + 1]) <= 100_000)
    got = wait_for_seqs(victoria_metrics.url, sent)
    assert got == sent, f"{got} != {sent}"  # the well-behaved agent lost nothing
    stored = fake_agents.stored_seqs(victoria_metrics.url, [fake_agents.agent_id(0)])
    assert stored[fake_agents.agent_id(0)] == list(range(within))
    wait_until(
        lambda: collector.metric('deskwatch_ingest_decode_errors_total{reason="over_limit"}') >= 30 - within,
        timeout=20,
        interval=0.2,
        what=lambda: f"every batch over the budget refused: {collector.log()[-2000:]}",
    )
    engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
    letters = [d for d in deadletter.recent(engine, limit=100) if d.reason_code == "over_limit"]
    engine.dispose()
    assert len(letters) == 30 - within and "over [limits] bytes_per_window" in letters[0].reason
    assert collector.log().count("sent over 100000 bytes") == 1  # said once, not per batch


def test_an_agent_with_too_many_series_is_stopped_at_the_next_check(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    collector = make_collector(
        extra="[limits]\nmax_series_per_agent = 2000\nseries_check_seconds = 1\n", group=""
    )
    publisher = fake_agents.Publisher(mosquitto.url)
    wild = fake_agents.agent_id(7)
    for n in range(40):  # 40 batches of 1,000 states, none the same: 40,000 new series
        t = time.time_ns()
        states = [
            State(f"svc-{n}-{i}", "tcp_reachable", False, Severity.WARNING, "x", {}, t) for i in range(1000)
        ]
        publisher.publish(
            Batch(v=protocol.PROTOCOL_VERSION, agent_id=wild, seq=n, created_ns=t, states=states)
        )
        publisher.wait()
        time.sleep(0.1)  # the agent's pace: over some seconds, so a once-a-second series check runs between
        fake_agents.flush_vm(victoria_metrics.url)
    publisher.publish(fake_agents.make_batch(2, 0, time.time_ns()))  # a calm agent is not held back
    publisher.close()
    assert wait_for_seqs(victoria_metrics.url, {fake_agents.agent_id(2): [0]}) == {
        fake_agents.agent_id(2): [0]
    }
    refused = collector.metric('deskwatch_ingest_decode_errors_total{reason="over_limit"}')
    fake_agents.flush_vm(victoria_metrics.url)
    (row,) = fake_agents.query(victoria_metrics.url, f'count({{agent_id="{wild}"}})')
    series = int(row["value"][1])
    FAULT_REPORT.append(
        f"40,000 new series from one agent, max_series_per_agent 2,000 checked every second: "
        f"{series} series stored, {refused:.0f} of 40 batches dead-lettered"
    )
    assert refused > 0 and series < 40_000
    assert "has" in collector.log() and "max_series_per_agent" in collector.log()
