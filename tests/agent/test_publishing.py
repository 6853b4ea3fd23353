"""The agent against a real Mosquitto: store-and-forward across outages and restarts, Last Will."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import protocol
from agent.protocol import Batch, Presence
from agent.spool import Spool, SpoolStats
from tests.support.agent_process import AgentProcess, write_config
from tests.support.mqtt import Subscriber
from tests.support.services import Mosquitto
from tests.support.stored import FAULT_REPORT
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.cleanup()


def _seqs(messages: list[object]) -> list[int]:
    return [protocol.decode(m.payload, Batch).seq for m in messages]  # type: ignore[attr-defined]


def _spool_stats(path: Path) -> SpoolStats | None:
    """What the agent's spool holds now (None before the agent made it)."""
    if not path.exists():
        return None
    spool = Spool(path, 1 << 30)
    try:
        return spool.stats()
    finally:
        spool.close()


def _wait_spool_depth(path: Path, depth: int, timeout: float = 30) -> int:
    stats = wait_until(
        lambda: _spool_stats(path),
        done=lambda got: got is not None and got.depth >= depth,
        timeout=timeout,
        interval=0.1,
        what=f"the spool to hold {depth} batches",
    )
    assert stats is not None
    return stats.depth


def test_store_and_forward_survives_outage_and_agent_restart(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    broker = Mosquitto(tmp_path / "broker")
    topic = protocol.topic(protocol.DEFAULT_PREFIX, "pc-sf", protocol.Kind.METRICS)
    # A persistent subscriber session, made while the broker is up, keeps queueing for us
    # through the broker's own restart (the collector works the same way).
    broker.start()
    Subscriber(broker.port, topic, client_id="collector-sf", persistent=True).close()
    broker.stop()

    spool_path = tmp_path / "spool.db"
    config = write_config(tmp_path / "agent.toml", agent_id="pc-sf", broker=broker.url, spool=spool_path)
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    agents.append(agent)
    _wait_spool_depth(spool_path, 12)
    assert agent.terminate() == 0  # restarted while the broker is still down
    agent.start()
    outage = _wait_spool_depth(spool_path, 24)

    broker.start()
    try:
        with Subscriber(broker.port, topic, client_id="collector-sf", persistent=True) as sub:
            messages = sub.wait_for(lambda got: len(got) > outage + 5, timeout=30)
            agent.terminate()
            seqs = _seqs(sub.snapshot())
    finally:
        broker.stop()

    first_seen = list(dict.fromkeys(seqs))
    missing = set(range(1, max(seqs) + 1)) - set(seqs)
    FAULT_REPORT.append(
        f"agent restarted during a broker outage (store and forward): {outage} batches waited, "
        f"{max(seqs)} sent, {len(set(seqs))} received, missing {len(missing)}, "
        f"received twice {len(seqs) - len(set(seqs))} (QoS 1 redelivery; the collector drops them)"
    )
    assert first_seen == sorted(first_seen), "batches arrived out of order"
    assert set(range(1, max(seqs) + 1)) <= set(seqs), "a sequence number is missing"
    assert max(seqs) >= outage
    assert len(messages) > outage
    spool = Spool(spool_path, 1 << 30)
    left = spool.stats()
    spool.close()
    # Everything the outage left behind was acknowledged and deleted.
    assert left.oldest_seq is None or left.oldest_seq > outage


def test_last_will_on_crash_and_goodbye_on_sigterm(
    tmp_path: Path, mosquitto: Mosquitto, agents: list[AgentProcess]
) -> None:
    state_topic = protocol.topic(protocol.DEFAULT_PREFIX, "pc-lwt", protocol.Kind.STATE)
    config = write_config(
        tmp_path / "agent.toml",
        agent_id="pc-lwt",
        broker=mosquitto.url,
        spool=tmp_path / "spool.db",
        interval=1,
    )
    with Subscriber(mosquitto.port, state_topic) as sub:
        agent = AgentProcess(config, tmp_path / "agent.log").start()
        agents.append(agent)

        def presences() -> list[Presence]:
            return [protocol.decode(m.payload, Presence) for m in sub.snapshot()]

        sub.wait_for(lambda _: any(p.status == "online" for p in presences()))
        birth = next(p for p in presences() if p.status == "online")
        assert birth.facts is not None and birth.facts.interval_seconds == 1 and birth.site == "test"

        agent.kill()
        sub.wait_for(lambda _: presences()[-1].status == "offline")
        assert presences()[-1].reason == "lost"

        agent.start()
        sub.wait_for(lambda _: presences()[-1].status == "online")
        assert agent.terminate() == 0
        sub.wait_for(lambda _: presences()[-1].status == "offline")
        assert presences()[-1].reason == "shutdown"

    # The goodbye is retained: a collector that connects later still learns it.
    with Subscriber(mosquitto.port, state_topic) as late:
        retained = late.wait_for(lambda got: len(got) >= 1)
        assert retained[0].retain
        assert protocol.decode(retained[0].payload, Presence).reason == "shutdown"


def test_full_spool_drops_oldest_and_reports_it(tmp_path: Path, agents: list[AgentProcess]) -> None:
    broker = Mosquitto(tmp_path / "broker")  # not started: the broker is down
    spool_path = tmp_path / "spool.db"
    config = write_config(
        tmp_path / "agent.toml",
        agent_id="pc-full",
        broker=broker.url,
        spool=spool_path,
        interval=0.1,
        extra="",
    )
    config.write_text(
        config.read_text().replace(
            f'[spool]\npath = "{spool_path}"', f'[spool]\npath = "{spool_path}"\nmax_bytes = 65536'
        )
    )
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    agents.append(agent)

    def bounded() -> SpoolStats | None:
        stats = _spool_stats(spool_path)
        assert stats is None or stats.bytes <= 65536  # at every look, not only at the end
        return stats

    full = wait_until(
        bounded,
        done=lambda stats: stats is not None and stats.dropped_total >= 5,
        timeout=60,
        interval=0.2,
        what="the spool to fill up and drop",
    )
    assert full is not None
    dropped = full.dropped_total

    broker.start()
    try:
        topic = protocol.topic(protocol.DEFAULT_PREFIX, "pc-full", protocol.Kind.METRICS)
        with Subscriber(broker.port, topic) as sub:

            def reported(got: list[object]) -> bool:
                for m in got:
                    batch = protocol.decode(m.payload, Batch)  # type: ignore[attr-defined]
                    for s in batch.samples:
                        if s.measurement == "agent" and s.fields["spool_dropped_total"] >= dropped:
                            return True
                return False

            sub.wait_for(reported, timeout=30)
            FAULT_REPORT.append(
                f"agent spool full (64 KiB) during a broker outage: oldest {dropped}+ batches dropped, "
                "counted, and reported in the next batch (agent_spool_dropped_total)"
            )
    finally:
        agent.cleanup()
        broker.stop()


def test_network_thread_waits_long_but_sends_and_stops_at_once(mosquitto: Mosquitto) -> None:
    """The agent's paho client idles 5 s per wakeup instead of 1 s (a fifth of its CPU);
    publishes and the goodbye must still leave at once, since paho wakes its loop for them."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from agent.publisher import _Client

    assert callable(getattr(mqtt.Client, "_thread_main", None))  # what _Client overrides
    client = _Client(10.0, CallbackAPIVersion.VERSION2, client_id="wait-test", protocol=mqtt.MQTTv5)
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect("127.0.0.1", mosquitto.port, keepalive=60)
    client.loop_start()
    assert connected.wait(5)
    started = time.monotonic()
    info = client.publish("deskwatch/v1/wait-test/metrics", b"{}", qos=1)
    info.wait_for_publish(timeout=5)
    assert info.is_published() and time.monotonic() - started < 2.0  # not held for the 10 s wait
    started = time.monotonic()
    client.disconnect()
    client.loop_stop()
    assert time.monotonic() - started < 2.0
