"""Crashes, outages, garbage and sharing: no valid sample lost, none stored twice."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from pathlib import Path

import msgspec
import pytest

from agent.protocol import PROTOCOL_VERSION, encode
from collector import deadletter, replay
from collector.config import load
from collector.db import make_engine
from tests.collector.conftest import MakeCollector, wait_for_seqs
from tests.support import fake_agents
from tests.support.collector_process import CollectorProcess
from tests.support.services import Mosquitto, ProductionMosquitto, VictoriaMetrics, free_port
from tests.support.stored import FAULT_REPORT, report_seqs
from tests.support.waiting import wait_until


def publish_for(
    url: str, agents: int, batches: int, pause: float, base_ns: int, stop: threading.Event | None = None
) -> dict[str, list[int]]:
    """Publish `batches` batches per agent, round-robin, `pause` s apart; return what was sent."""
    publisher = fake_agents.Publisher(url)
    sent: dict[str, list[int]] = {fake_agents.agent_id(a): [] for a in range(agents)}
    for seq in range(batches):
        for agent in range(agents):
            publisher.publish(fake_agents.make_batch(agent, seq, base_ns + seq * 10**7 + agent * 10**5))
            sent[fake_agents.agent_id(agent)].append(seq)
        time.sleep(pause)  # the agents' pace: a fixed time is the scenario
    publisher.close()
    return sent


def test_kill_9_while_agents_publish_loses_nothing(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    collector = make_collector()
    base_ns = time.time_ns() - 120 * 10**9
    result: dict[str, dict[str, list[int]]] = {}
    thread = threading.Thread(
        target=lambda: result.update(sent=publish_for(mosquitto.url, 4, 150, 0.02, base_ns))
    )
    thread.start()
    wait_until(
        lambda: collector.metric('deskwatch_ingest_batches_total{result="accepted"}') >= 100,
        what="the collector to be in the middle of the stream",
    )
    collector.kill()
    time.sleep(0.5)  # down for a moment while the agents go on: the outage is the scenario
    collector.start()
    time.sleep(0.7)  # a fixed time: up only briefly before the second crash
    collector.kill()  # twice, the second time right after a restart
    collector.start()
    thread.join()
    sent = result["sent"]
    stored = wait_for_seqs(victoria_metrics.url, sent)
    report_seqs("collector kill -9 twice while 4 agents publish", sent, stored)
    missing = {a: sorted(set(s) - set(stored.get(a, []))) for a, s in sent.items()}
    assert stored == sent, f"missing per agent: {missing}; see {collector.workdir}/collector.log"
    # Nothing stored twice: one sample per series and timestamp, and every value as sent.
    values = fake_agents.stored_values(victoria_metrics.url, 'cpu_value{item="i00"}')
    assert sorted(len(points) for points in values.values()) == [150] * 4


def test_malformed_payloads_are_dead_lettered_and_valid_ones_stored(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    collector = make_collector()
    rng = random.Random(5)
    publisher = fake_agents.Publisher(mosquitto.url)
    base_ns = time.time_ns() - 60 * 10**9
    valid = encode(fake_agents.make_batch(0, 0, base_ns))
    bad: list[tuple[str, bytes, str]] = []
    for index in range(1000):
        kind = index % 8
        name = fake_agents.agent_id(index % 3)
        topic = f"deskwatch/v1/{name}/metrics"
        if kind == 0:
            noise = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
            payload, reason = b"\xff" + noise, "malformed_json"  # not a byte any JSON value starts with
        elif kind == 1:
            cut = rng.randint(1, len(valid) - 2)
            payload, reason = valid[:cut], "malformed_json"
        elif kind == 2:
            payload, reason = valid.replace(b'"v":%d' % PROTOCOL_VERSION, b'"v":99'), "unsupported_version"
        elif kind == 3:
            payload, reason = valid.replace(b'"seq":0', b'"seq":"zero"'), "invalid_message"
        elif kind == 4:
            payload, reason = encode(fake_agents.make_batch(7, index, base_ns)), "agent_id_mismatch"
        elif kind == 5:
            payload, reason = b"[" * 300_000, "too_large"
        elif kind == 6:
            payload, reason = b'{"v":1,"agent_id":"' + name.encode() + b'","seq":1}', "invalid_message"
        else:
            topic, payload, reason = "deskwatch/v1/bad agent!/metrics", b"{}", "bad_topic"
        bad.append((topic, payload, reason))
    sent: dict[str, list[int]] = {fake_agents.agent_id(a): [] for a in range(3)}
    for index, (topic, payload, _) in enumerate(bad):
        publisher.publish_raw(topic, payload)
        if index % 10 == 0:
            agent, seq = (index // 10) % 3, index // 30
            publisher.publish(fake_agents.make_batch(agent, seq, base_ns + seq * 10**8 + agent * 10**6))
            sent[fake_agents.agent_id(agent)].append(seq)
    publisher.close()
    stored = wait_for_seqs(victoria_metrics.url, sent)
    report_seqs("1,000 malformed payloads among valid batches (valid ones)", sent, stored)
    assert stored == sent

    engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
    wait_until(
        lambda: deadletter.count(engine),
        done=lambda n: n >= 1000,
        timeout=20,
        interval=0.2,
        what="1000 dead letters",
    )
    letters = deadletter.recent(engine, limit=2000)
    assert len(letters) == 1000, deadletter.totals(engine)
    # a letter keeps a prefix of a payload beyond max_payload_bytes (the 300,000-byte ones)
    by_payload = {(letter.topic, letter.payload, letter.size): letter.reason_code for letter in letters}
    keep = 256 * 1024
    kept = [by_payload.get((t, p[:keep], len(p)), "missing") for t, p, _ in bad]
    assert sorted(kept) == sorted(r for _, _, r in bad)
    assert all(letter.reason for letter in letters)
    assert collector.health()["mqtt_connected"] is True
    assert collector.metric("deskwatch_ingest_decode_errors_total") == 1000


def test_two_collectors_in_one_group_store_each_batch_once_and_both_work(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics, store_url: str
) -> None:
    # One store for both: a SQLite file on one machine, PostgreSQL across machines.
    first = make_collector("collector-a", db_url=store_url)
    second = make_collector("collector-b", db_url=store_url)
    base_ns = time.time_ns() - 60 * 10**9
    sent = publish_for(mosquitto.url, 5, 40, 0.005, base_ns)
    stored = wait_for_seqs(victoria_metrics.url, sent)
    report_seqs(f"two collectors in one shared group, {store_url.split(':')[0]} store", sent, stored)
    assert stored == sent
    accepted = [c.metric('deskwatch_ingest_batches_total{result="accepted"}') for c in (first, second)]
    assert sum(accepted) == 5 * 40
    assert min(accepted) > 0
    assert (
        first.metric("deskwatch_ingest_duplicates_total") + second.metric("deskwatch_ingest_duplicates_total")
        == 0
    )

    # Gaps are counted over what both saw: each collector alone saw only every other batch.
    def gaps() -> list[float]:
        return [
            float(line.rsplit(" ", 1)[1])
            for line in first.metrics().splitlines()
            if line.startswith("deskwatch_agent_sequence_gaps{")
        ]

    wait_until(gaps, done=lambda found: found == [0.0] * 5, what="no sequence gaps for the five agents")


@pytest.mark.slow
def test_victoria_metrics_down_for_60_s_loses_nothing(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    collector = make_collector()
    base_ns = time.time_ns() - 300 * 10**9
    publisher = fake_agents.Publisher(mosquitto.url)
    sent: dict[str, list[int]] = {fake_agents.agent_id(a): [] for a in range(3)}
    seq = 0

    def publish_round() -> None:
        nonlocal seq
        for agent in range(3):
            publisher.publish(fake_agents.make_batch(agent, seq, base_ns + seq * 10**8 + agent * 10**6))
            sent[fake_agents.agent_id(agent)].append(seq)
        seq += 1

    for _ in range(5):
        publish_round()
    victoria_metrics.stop()
    down_until = time.monotonic() + 60
    while time.monotonic() < down_until:
        publish_round()
        time.sleep(0.5)  # the agents' pace through a 60 s outage: the scenario
    publisher.wait()
    assert collector.metric("deskwatch_writer_buffer_bytes") > 0
    assert collector.health()["metrics_writable"] is False
    victoria_metrics.start()
    for _ in range(5):
        publish_round()
    publisher.close()
    stored = wait_for_seqs(victoria_metrics.url, sent, timeout=40)
    report_seqs("VictoriaMetrics down for 60 s", sent, stored)
    assert stored == sent
    wait_until(
        lambda: collector.metric("deskwatch_writer_buffer_bytes"),
        done=lambda size: size == 0,
        timeout=10,
        what="the disk buffer to drain",
    )


def test_a_newer_agents_batch_is_dead_lettered_and_a_replay_keeps_it(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    """Dead-lettered by the running collector; replayed through ingest (collector/replay.py),
    it is refused again for the same reason and its letter stays, once."""
    collector = make_collector()
    batch = fake_agents.make_batch(1, 3, time.time_ns() - 10**9)
    wrong = msgspec.json.encode({**msgspec.to_builtins(batch), "v": PROTOCOL_VERSION + 1})
    publisher = fake_agents.Publisher(mosquitto.url)
    publisher.publish_raw("deskwatch/v1/pc-00001/metrics", wrong)
    publisher.close()
    engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
    (letter,) = wait_until(lambda: deadletter.recent(engine), timeout=10, what="the dead letter")
    assert letter.reason_code == "unsupported_version"
    assert f"unsupported protocol version {PROTOCOL_VERSION + 1}" in letter.reason
    config = load(collector.config_path)
    (result,) = replay.replay(config, engine, [letter.id])
    assert (result.result, result.deleted) == (replay.Result.REFUSED, False)
    assert f"unsupported protocol version {PROTOCOL_VERSION + 1}" in result.reason
    assert [kept.id for kept in deadletter.recent(engine)] == [letter.id]


def test_two_collectors_with_one_client_id_say_so(
    tmp_path: Path, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    """Two stacks on one machine sharing a broker and a client id take each other's session over
    and over; each says once, as an error, what is wrong."""
    first = CollectorProcess(tmp_path / "a", mosquitto.url, victoria_metrics.url, client_id="same", group="")
    second = CollectorProcess(tmp_path / "b", mosquitto.url, victoria_metrics.url, client_id="same", group="")
    first.start()
    try:
        second.start()
        message = "another client probably uses client_id 'same'"
        wait_until(lambda: message in first.log(), timeout=15, what=f"the log to say {message!r}")
        time.sleep(3)  # a fixed time: a few more take-overs happen, and the log must stay quiet
        assert first.log().count(message) == 1, first.log()[-2000:]
    finally:
        second.kill()
        first.kill()


def test_a_dead_letter_flood_stays_within_its_budget(
    tmp_path: Path, victoria_metrics: VictoriaMetrics
) -> None:
    """150 rejected payloads of ~1 MiB (the broker's packet limit): the store keeps a bounded
    prefix of each within a byte budget, drops and counts the oldest, and ingest goes on.

    On the production broker config (deploy/mosquitto/production.conf: TLS only, passwords, the
    ACL): the flood comes from an enrolled agent over TLS with its own password, on the one topic
    the ACL lets it write, as a broken or hostile PC would send it; the collector reads it with
    its own credentials."""
    with ProductionMosquitto(tmp_path / "broker", {"deskwatch-collector": "collector-secret"}) as broker:
        flooder = fake_agents.agent_id(0)
        password = broker.enroll(flooder)
        # 150 MB on one agent's topic is over its byte budget ([limits], tested in test_limits.py):
        # raised here so every valid batch is let through and only the dead letters are measured.
        collector = CollectorProcess(
            tmp_path / "collector",
            broker.tls_url,
            victoria_metrics.url,
            extra="[deadletter]\nmax_payload_bytes = 65536\nmax_total_bytes = 4194304\n"
            "[limits]\nbytes_per_window = 1073741824\n",
            group="",
            username="deskwatch-collector",
            password="collector-secret",
            ca_file=broker.ca_file,
        )
        collector.start()
        try:
            _flood(collector, broker, flooder, password, victoria_metrics.url)
        finally:
            collector.kill()


def _flood(
    collector: CollectorProcess, broker: ProductionMosquitto, flooder: str, password: str, vm_url: str
) -> None:
    publisher = fake_agents.Publisher(
        broker.tls_url, username=flooder, password=password, ca_file=broker.ca_file
    )
    base_ns = time.time_ns() - 60 * 10**9
    junk = b"\xff" + random.Random(7).randbytes(999_999)  # not JSON, and incompressible
    sent: dict[str, list[int]] = {flooder: []}
    for index in range(150):
        publisher.publish_raw(f"deskwatch/v1/{flooder}/metrics", junk)
        if index % 10 == 0:
            seq = index // 10
            publisher.publish(fake_agents.make_batch(0, seq, base_ns + seq * 10**8))
            sent[flooder].append(seq)
    publisher.close()
    assert publisher.refused == []  # the broker took all 165 from the agent (ACL, packet size)
    stored = wait_for_seqs(vm_url, sent)
    engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
    # rejects are counted on receipt and stored at the next flush: wait for the store
    totals = wait_until(
        lambda: deadletter.totals(engine),
        done=lambda t: t.letters + t.dropped >= 150,
        timeout=60,
        interval=0.2,
        what="150 letters kept or dropped",
    )
    newest = deadletter.recent(engine, limit=1)[0]
    engine.dispose()
    files = {p.name: p.stat().st_size for p in collector.workdir.glob("collector.db*")}
    store_bytes = sum(files.values())
    dropped = collector.metric("deskwatch_deadletter_dropped_total")
    sizes = ", ".join(f"{name} {size / 2**20:.1f}" for name, size in sorted(files.items()))
    FAULT_REPORT.append(
        f"dead-letter flood, production broker (TLS, enrolled agent's password, ACL): 150 payloads of "
        f"1,000,000 bytes (150 MB) rejected: {totals.letters} kept "
        f"({totals.bytes} bytes of prefixes), {dropped:.0f} dropped and counted, store files "
        f"{store_bytes / 2**20:.1f} MiB ({sizes}); valid batches among them stored "
        f"{len(stored.get(flooder, []))}/{len(sent[flooder])}"
    )
    assert stored == sent  # ingest kept acknowledging: every valid batch of the flood is stored
    assert totals.bytes <= 4 * 2**20 and totals.letters + totals.dropped == 150
    assert dropped == totals.dropped > 0
    assert newest.topic == f"deskwatch/v1/{flooder}/metrics"
    assert (newest.size, len(newest.payload)) == (len(junk), 65536)
    assert newest.sha256 == hashlib.sha256(junk).hexdigest() and not newest.complete
    assert store_bytes < 16 * 2**20, files  # 4 MiB kept + a WAL cut back to 4 MiB; kept whole, 150 MB


def test_a_collector_without_its_broker_says_so_at_once_and_at_every_retry(
    tmp_path: Path, victoria_metrics: VictoriaMetrics
) -> None:
    # A broker address that nothing answers: the operator must not be left with a silent collector.
    collector = CollectorProcess(tmp_path / "c", f"mqtt://127.0.0.1:{free_port()}", victoria_metrics.url)
    collector.spawn()
    try:
        wait_until(
            lambda: "cannot reach the broker at 127.0.0.1:" in collector.log(),
            timeout=5,
            what=lambda: f"the first complaint: {collector.log()[-2000:]}",
        )
        wait_until(  # one line per attempt (1, 2, 4 s apart)
            lambda: collector.log().count("cannot reach the broker"),
            done=lambda lines: lines >= 3,
            timeout=10,
            what="a line for each retry",
        )
    finally:
        collector.kill()
