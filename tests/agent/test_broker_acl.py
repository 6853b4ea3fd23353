"""The production broker config: TLS only, passwords, and an ACL that keeps agents apart."""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent import protocol
from agent.protocol import Kind, encode
from collector import deadletter
from collector.db import begin_write, make_engine
from collector.deadletter import DeadLetter, DeadLetterSettings
from tests.support import fake_agents
from tests.support.agent_process import AgentProcess, agent_env, write_config
from tests.support.collector_process import CollectorProcess, create_token
from tests.support.mqtt import Subscriber
from tests.support.services import REPO, ProductionMosquitto, VictoriaMetrics
from tests.support.stored import FAULT_REPORT
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
USERS = {"pc-1": "secret-1", "pc-2": "secret-2", "deskwatch-collector": "secret-c"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ProductionMosquitto]:
    with ProductionMosquitto(tmp_path / "broker", USERS) as b:
        yield b  # type: ignore[misc]


def _client(
    broker: ProductionMosquitto, user: str, password: str, tls: bool = True
) -> tuple[mqtt.Client, int]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    if tls:
        client.tls_set(ca_certs=broker.ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    result: dict[str, int] = {}
    client.on_connect = lambda _c, _u, _f, rc, _p: result.setdefault("rc", rc.value)
    try:
        client.connect("localhost", broker.port)
    except (OSError, ssl.SSLError):
        return client, -1
    client.loop_start()
    with contextlib.suppress(AssertionError):  # no answer: -1, for the caller to assert on
        wait_until(lambda: "rc" in result, timeout=5, what="CONNACK")
    return client, result.get("rc", -1)


def _as_collector(broker: ProductionMosquitto, topic: str) -> Subscriber:
    """A subscriber with the collector's credentials over TLS."""
    return Subscriber(
        broker.port, topic, username="deskwatch-collector", password="secret-c", ca_file=broker.ca_file
    )


def _topic(agent_id: str, kind: Kind) -> str:
    return protocol.topic(protocol.DEFAULT_PREFIX, agent_id, kind)


def test_wrong_password_and_plain_connections_are_refused(broker: ProductionMosquitto) -> None:
    client, rc = _client(broker, "pc-1", "wrong")
    client.loop_stop()
    assert rc == 0x87  # MQTT v5 "Not authorized": what Mosquitto 2.0 answers a wrong password with
    plain, rc_plain = _client(broker, "pc-1", "secret-1", tls=False)
    plain.loop_stop()
    assert rc_plain != 0  # a plain MQTT client gets no CONNACK from a TLS listener
    good, rc_good = _client(broker, "pc-1", "secret-1")
    assert rc_good == 0
    good.disconnect()
    good.loop_stop()


def test_agent_cannot_publish_as_another_or_read_its_commands(broker: ProductionMosquitto) -> None:
    with _as_collector(broker, f"{protocol.DEFAULT_PREFIX}/#") as collector:
        pc1, rc = _client(broker, "pc-1", "secret-1")
        assert rc == 0
        spy: list[str] = []
        pc1.on_message = lambda _c, _u, msg: spy.append(msg.topic)
        granted: list[int] = []
        pc1.on_subscribe = lambda _c, _u, _m, codes, _p: granted.extend(c.value for c in codes)
        acks: dict[int, int] = {}
        pc1.on_publish = lambda _c, _u, mid, code, _p: acks.__setitem__(mid, code.value)
        pc1.subscribe(_topic("pc-2", Kind.CMD), qos=1)
        pc1.subscribe(_topic("pc-1", Kind.CMD), qos=1)
        # Every kind of message as pc-2: a batch, a presence (a forged "offline" would hide it)
        # and a reply (a forged diagnostic result), and a command to itself (only the collector
        # may send commands).
        forged = [_topic("pc-2", kind) for kind in (Kind.METRICS, Kind.STATE, Kind.REPLY)]
        forged.append(_topic("pc-1", Kind.CMD))
        attempts = {pc1.publish(t, b"forged", qos=1).mid: t for t in forged}
        own = {pc1.publish(_topic("pc-1", k), b"own", qos=1).mid: k for k in (Kind.METRICS, Kind.REPLY)}
        wait_until(lambda: len(acks) >= len(attempts) + len(own), timeout=5, what="a PUBACK for each publish")
        assert {attempts[mid]: code for mid, code in acks.items() if mid in attempts} == dict.fromkeys(
            forged, 0x87
        )  # each refused: Not authorized
        assert [acks[mid] for mid in own] == [0, 0]

        sender, rc = _client(broker, "deskwatch-collector", "secret-c")
        assert rc == 0
        sender.publish(_topic("pc-2", Kind.CMD), b"for pc-2 only", qos=1).wait_for_publish(5)
        sender.publish(_topic("pc-1", Kind.CMD), b"for pc-1", qos=1).wait_for_publish(5)

        # Each sender's messages arrive in order: whatever of theirs was published before what
        # is awaited here (pc-1's forgeries, the collector's command for pc-2) would be in by then.
        collector.wait_for(lambda got: any(m.topic == _topic("pc-1", Kind.METRICS) for m in got))
        wait_until(lambda: _topic("pc-1", Kind.CMD) in spy, what="pc-1's own command")
        topics = [m.topic for m in collector.snapshot()]
        assert not set(forged) & set(topics)  # none of the forgeries arrived
        assert spy == [_topic("pc-1", Kind.CMD)]  # its own command only, from the collector
        # Mosquitto 2.0 grants the subscription and filters on delivery (the ACL is checked
        # per message), so what proves the ACL is that nothing for pc-2 reached pc-1.
        assert len(granted) == 2
        for c in (pc1, sender):
            c.disconnect()
            c.loop_stop()


def _tls_agent_config(broker: ProductionMosquitto, tmp_path: Path, agent_id: str) -> Path:
    """An agent config for the production broker: mqtts://, its user, password from DESKWATCH_TEST_PW."""
    config = write_config(
        tmp_path / "agent.toml",
        agent_id=agent_id,
        broker=f"mqtts://localhost:{broker.port}",
        spool=tmp_path / "spool.db",
        interval=0.5,
    )
    credentials = f'username = "{agent_id}"\npassword_env = "DESKWATCH_TEST_PW"\n'
    credentials += f'ca_file = "{broker.ca_file}"\n'
    config.write_text(config.read_text().replace("[mqtt]\n", f"[mqtt]\n{credentials}"))
    return config


def test_agent_publishes_over_tls_with_its_credentials(broker: ProductionMosquitto, tmp_path: Path) -> None:
    config = _tls_agent_config(broker, tmp_path, "pc-2")
    os.environ["DESKWATCH_TEST_PW"] = "secret-2"
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        with _as_collector(broker, _topic("pc-2", Kind.METRICS)) as collector:
            collector.wait_for(lambda got: len(got) >= 2, timeout=20)
    finally:
        agent.cleanup()
        del os.environ["DESKWATCH_TEST_PW"]


def test_enrolled_agent_can_publish_its_own_batches(broker: ProductionMosquitto, tmp_path: Path) -> None:
    result = _enroll(broker, "pc-new")
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip().splitlines()[-1]
    assert "pc-new" not in password and len(password) >= 24
    broker.reload()  # Mosquitto re-reads the password file
    with _as_collector(broker, _topic("pc-new", Kind.METRICS)) as collector:
        client, rc = _client(broker, "pc-new", password)
        assert rc == 0
        client.publish(_topic("pc-new", Kind.METRICS), b"hello", qos=1).wait_for_publish(5)
        collector.wait_for(lambda got: len(got) == 1)
        client.disconnect()
        client.loop_stop()


def test_enroll_refuses_an_agent_id_that_would_escape_its_topics(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.agent_process import agent_env
    from tests.support.services import REPO

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector",
            "agents",
            "enroll",
            "pc/#",
            "--passwd-file",
            str(tmp_path / "p"),
            "--acl-file",
            str(tmp_path / "acl"),
        ],
        capture_output=True,
        text=True,
        env=agent_env(),
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 2
    assert "may hold only letters" in result.stderr
    assert not (tmp_path / "p").exists()


def test_collector_ingests_over_tls_with_its_credentials(broker: ProductionMosquitto, tmp_path: Path) -> None:
    """Production path end to end: agent and collector both on TLS with passwords, into VictoriaMetrics."""
    from tests.support import fake_agents
    from tests.support.services import VictoriaMetrics

    with VictoriaMetrics(tmp_path / "vm") as vm:
        collector = _tls_collector(broker, tmp_path, vm.url)
        collector.start()
        config = _tls_agent_config(broker, tmp_path, "pc-1")
        os.environ["DESKWATCH_TEST_PW"] = USERS["pc-1"]
        agent = AgentProcess(config, tmp_path / "agent.log").start()
        try:

            def points() -> list[tuple[int, float]]:
                fake_agents.flush_vm(vm.url)
                return fake_agents.stored_values(vm.url, "agent_source_batch_seq").get("pc-1", [])

            wait_until(
                points,
                done=lambda found: len(found) >= 2,
                timeout=30,
                interval=0.5,
                what=lambda: f"two stored batches of pc-1: {collector.log()}",
            )
            assert collector.health()["mqtt_connected"] is True
            assert collector.metric("deskwatch_ingest_decode_errors_total") == 0
        finally:
            agent.cleanup()
            del os.environ["DESKWATCH_TEST_PW"]
            collector.stop()


def _enroll(broker: ProductionMosquitto, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return broker.run_enroll(name, *extra)


def _connects(broker: ProductionMosquitto, user: str, password: str) -> bool:
    client, rc = _client(broker, user, password)
    client.disconnect()
    client.loop_stop()
    return rc == 0


def test_enroll_never_changes_the_collectors_password(broker: ProductionMosquitto) -> None:
    before = (broker.workdir / "passwd").read_text()
    result = _enroll(broker, "deskwatch-collector")
    assert result.returncode == 2
    assert "is the broker user of a service" in result.stderr
    assert (broker.workdir / "passwd").read_text() == before
    broker.reload()
    assert _connects(broker, "deskwatch-collector", USERS["deskwatch-collector"])


def test_enrolling_an_id_again_needs_rotate(broker: ProductionMosquitto) -> None:
    first = _enroll(broker, "pc-7")
    assert first.returncode == 0, first.stderr
    password = first.stdout.strip().splitlines()[-1]
    again = _enroll(broker, "pc-7")
    assert again.returncode == 2
    assert "enrolled already" in again.stderr and "--rotate" in again.stderr
    broker.reload()
    assert _connects(broker, "pc-7", password)  # the PC keeps working
    rotated = _enroll(broker, "pc-7", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    new_password = rotated.stdout.strip().splitlines()[-1]
    assert new_password != password
    broker.reload()
    assert _connects(broker, "pc-7", new_password)
    assert not _connects(broker, "pc-7", password)


def _tls_collector(broker: ProductionMosquitto, tmp_path: Path, metrics_url: str) -> CollectorProcess:
    return CollectorProcess(
        tmp_path / "collector",
        broker.tls_url,
        metrics_url,
        group="",
        username="deskwatch-collector",
        password=USERS["deskwatch-collector"],
        ca_file=broker.ca_file,
    )


def test_replay_against_the_production_broker_needs_no_write_right(
    broker: ProductionMosquitto, tmp_path: Path
) -> None:
    """TLS, passwords and the ACL as shipped: the collector may not publish on an agent's topics
    (which is what replay used to do, ignoring the refusal and deleting the letter anyway); the
    replay goes through the collector's own ingest path instead, stores, and deletes only that."""
    with VictoriaMetrics(tmp_path / "vm") as vm:
        collector = _tls_collector(broker, tmp_path, vm.url)
        collector.start()
        engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
        try:
            pc1, rc = _client(broker, "pc-1", USERS["pc-1"])
            assert rc == 0
            pc1.publish(_topic("pc-1", Kind.METRICS), b'{"v":2,"agent_id":"pc-1"', qos=1).wait_for_publish(5)
            pc1.disconnect()
            pc1.loop_stop()
            (broken,) = wait_until(lambda: deadletter.recent(engine), timeout=10, what="the dead letter")
            # A valid batch of pc-1 that an older collector dead-lettered (a bug since fixed).
            batch = fake_agents.make_batch(1, 5, time.time_ns() - 10**9)
            valid = encode(msgspec.structs.replace(batch, agent_id="pc-1"))
            with begin_write(engine) as conn:
                deadletter.add(
                    conn,
                    [DeadLetter(1, _topic("pc-1", Kind.METRICS), "internal_error", "bug", valid)],
                    DeadLetterSettings(),
                )
            letter = deadletter.recent(engine, limit=1)[0]
            # What the old replay did: publish as the collector. The ACL refuses it (PUBACK 0x87).
            sender, rc = _client(broker, "deskwatch-collector", USERS["deskwatch-collector"])
            refused: list[int] = []
            sender.on_publish = lambda _c, _u, _m, code, _p: refused.append(code.value)
            sender.publish(_topic("pc-1", Kind.METRICS), valid, qos=1).wait_for_publish(5)
            wait_until(lambda: refused, timeout=5, what="the PUBACK")
            sender.disconnect()
            sender.loop_stop()
            assert refused == [0x87]  # Not authorized
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "collector",
                    "deadletter",
                    "replay",
                    str(letter.id),
                    str(broken.id),
                    "--config",
                    str(collector.config_path),
                ],
                capture_output=True,
                text=True,
                env={**agent_env(), **collector.env},
                cwd=REPO,
                check=False,
            )
            assert result.returncode == 1, result.stderr  # one of the two stays
            assert result.stdout.splitlines()[:2] == [f"{letter.id}\tstored", result.stdout.splitlines()[1]]
            assert result.stdout.splitlines()[1].startswith(f"{broken.id}\trefused\t")
            assert [kept.id for kept in deadletter.recent(engine)] == [broken.id]
            wait_until(
                lambda: fake_agents.flushed_seqs(vm.url),
                done=lambda seqs: seqs == {"pc-1": [5]},  # and nothing of the malformed one
                timeout=10,
                interval=0.2,
                what="the replayed batch",
            )
            FAULT_REPORT.append(
                "dead-letter replay, production broker: publish as the collector refused (0x87); "
                "through ingest: 1 stored and deleted, 1 still malformed and kept"
            )
        finally:
            engine.dispose()
            collector.stop()


SITE_RULES = """
[incidents]
cycle_seconds = 0.2
clear_cycles = 2
[correlation]
site_min_agents = 2
hold_down_seconds = 0
"""


def _no_internet(agent_id: str, seq: int, site: str) -> bytes:
    """A batch whose agent cannot reach the internet: two such PCs at a site make a site incident."""
    now = time.time_ns()
    return encode(
        protocol.Batch(
            v=protocol.PROTOCOL_VERSION,
            agent_id=agent_id,
            seq=seq,
            created_ns=now,
            site=site,
            samples=[protocol.Sample("fake", {"seq": seq}, time_ns=now)],
            states=[
                protocol.State(
                    "internet:example.org",
                    "internet_reachable",
                    False,
                    protocol.Severity.WARNING,
                    "",
                    {},
                    now,
                )
            ],
        )
    )


def test_an_agent_enrolled_at_a_site_cannot_count_at_another(
    broker: ProductionMosquitto, tmp_path: Path
) -> None:
    """Issue 17, finding 4: `agents enroll pc-new --site hq`, then pc-new names "branch" in its
    agent.toml. With one honest PC at branch failing its internet check, pc-new's failing check
    would make the second of `site_min_agents` = 2 and open a site incident there. Its batches
    are dead-lettered with the reason instead, nothing of it counts at branch, and the batch
    naming hq is stored. An unbound PC (pc-2) naming branch still counts: the control."""
    with VictoriaMetrics(tmp_path / "vm") as vm:
        collector = _tls_collector(broker, tmp_path, vm.url)
        db = f"sqlite:///{collector.workdir / 'collector.db'}"
        enrolled = _enroll(broker, "pc-new", "--site", "hq", "--db", db)
        assert enrolled.returncode == 0, enrolled.stderr
        password = enrolled.stdout.strip().splitlines()[-1]
        broker.reload()
        (tmp_path / "rules.toml").write_text(SITE_RULES)
        collector.config_path.write_text(
            collector.config_path.read_text() + f'\n[incidents]\nrules_file = "{tmp_path / "rules.toml"}"\n'
        )
        collector.start()
        engine = make_engine(db)
        api = httpx.Client(
            base_url=f"{collector.url}/api/v1",
            headers={"Authorization": f"Bearer {create_token(db, 'viewer')}"},
            timeout=10,
        )
        clients = {
            "pc-1": _client(broker, "pc-1", USERS["pc-1"]),
            "pc-new": _client(broker, "pc-new", password),
            "pc-2": _client(broker, "pc-2", USERS["pc-2"]),
        }
        assert {name: rc for name, (_, rc) in clients.items()} == dict.fromkeys(clients, 0)
        seqs = dict.fromkeys(clients, 0)

        def send(agent_id: str, site: str) -> None:
            seqs[agent_id] += 1
            payload = _no_internet(agent_id, seqs[agent_id], site)
            clients[agent_id][0].publish(_topic(agent_id, Kind.METRICS), payload, qos=1).wait_for_publish(5)

        def branch() -> list[dict[str, object]]:
            found: list[dict[str, object]] = api.get(
                "/incidents", params={"status": ["open"], "site": "branch"}
            ).json()["items"]
            return found

        try:
            # pc-1 at branch, pc-new claiming branch: both fail, until pc-1's own incident is open.
            refused = 0

            def round_at_branch() -> list[dict[str, object]]:
                nonlocal refused
                send("pc-1", "branch")
                send("pc-new", "branch")
                refused += 1
                time.sleep(0.3)
                return branch()

            opened = wait_until(round_at_branch, done=bool, timeout=30, what="pc-1's incident at branch")
            for _ in range(5):  # a few cycles more with both reporting
                opened = round_at_branch()
            assert [(i["scope"], i["agent_id"]) for i in opened] == [("agent", "pc-1")], opened
            assert all("pc-new" not in i["affected"] for i in opened)
            send("pc-new", "hq")  # what its agent.toml should say: taken
            letters = wait_until(
                lambda: deadletter.recent(engine, limit=500, reason_code="site_mismatch"),
                done=lambda found: len(found) == refused,
                timeout=10,
                what=lambda: f"{refused} dead letters: {collector.log()[-2000:]}",
            )
            assert {letter.reason for letter in letters} == {
                "agent pc-new is bound to site 'hq' but names site 'branch'"
            }
            counted = [
                line
                for line in collector.metrics().splitlines()
                if line.startswith("deskwatch_ingest_decode_errors_total{") and "site_mismatch" in line
            ]
            assert counted and float(counted[0].rsplit(" ", 1)[1]) == refused
            stored = wait_until(
                lambda: fake_agents.flushed_seqs(vm.url, ["pc-new"]),
                done=lambda found: found == {"pc-new": [seqs["pc-new"]]},
                timeout=10,
                what="pc-new's batch naming hq",
            )
            fake_agents.flush_vm(vm.url)
            at_branch = fake_agents.query(vm.url, 'fake_seq{site="branch"}[1h]')
            assert {s["metric"]["agent_id"] for s in at_branch} == {"pc-1"}
            at_hq = fake_agents.query(vm.url, 'fake_seq{agent_id="pc-new"}[1h]')
            assert {s["metric"]["site"] for s in at_hq} == {"hq"}
            agents_at_branch = [a["agent_id"] for a in api.get("/agents", params={"site": "branch"}).json()]
            assert agents_at_branch == ["pc-1"]
            assert collector.log().count("is bound to site 'hq' but names site 'branch': its messages") == 1
            # The control: an unbound PC naming branch still counts there, and the site incident opens.

            def with_pc2() -> list[dict[str, object]]:
                send("pc-1", "branch")
                send("pc-2", "branch")
                time.sleep(0.3)
                return [i for i in branch() if i["scope"] == "site"]

            (site_incident,) = wait_until(with_pc2, done=bool, timeout=30, what="the control's site incident")
            assert site_incident["affected"] == ["pc-1", "pc-2"]
            FAULT_REPORT.append(
                f"site binding, production broker: pc-new bound to hq claimed branch in {refused} batches: "
                f"{refused} dead-lettered (site_mismatch), 0 counted at branch (no site incident; the "
                f"unbound control pc-2 opened one), its batch naming hq stored ({stored})"
            )
        finally:
            for client, _ in clients.values():
                client.disconnect()
                client.loop_stop()
            api.close()
            engine.dispose()
            collector.stop()
