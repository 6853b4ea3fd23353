"""Fault tests with real agents: nothing sent is lost, nothing is stored twice.

Each test compares, batch by batch, what the agents sent (their spools know which
sequence numbers they made and which still wait) with what VictoriaMetrics holds
(`agent_source_batch_seq`). The counts are printed at the end of the run.
"""

from __future__ import annotations

import contextlib
import resource
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from agent import protocol
from collector.db import make_engine
from collector.presence import agent as agent_table
from tests.support import fake_agents
from tests.support.agent_process import AgentProcess, agent_env, write_config
from tests.support.collector_process import CollectorProcess, create_token
from tests.support.services import REPO, Mosquitto, VictoriaMetrics, free_port
from tests.support.stored import FAULT_REPORT, Tally, spool_contents, tally
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
MakeCollector = Callable[..., CollectorProcess]


def _agent(tmp_path: Path, name: str, broker_url: str, agents: list[AgentProcess], **kw: object) -> Path:
    spool = tmp_path / f"{name}.db"
    config = write_config(tmp_path / f"{name}.toml", agent_id=name, broker=broker_url, spool=spool, **kw)  # type: ignore[arg-type]
    agents.append(AgentProcess(config, tmp_path / f"{name}.log").start())
    return spool


def _wait_resolved(tickets: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The agent_spool tickets once every one of them is resolved."""
    return wait_until(
        tickets,
        done=lambda found: bool(found) and all(t["status"] == "resolved" for t in found),
        timeout=30,
        interval=0.25,
        what="the agent_spool ticket to resolve",
    )


def _wait_made(spool: Path, count: int, timeout: float = 30) -> None:
    wait_until(
        lambda: spool.exists() and spool_contents(spool)[0] >= count,
        timeout=timeout,
        interval=0.1,
        what=f"{spool} to make {count} batches",
    )


def _wait_drained(spool: Path, timeout: float = 30) -> int:
    """Wait until every batch made so far has left the spool (acknowledged by the broker)."""
    made, _ = spool_contents(spool)
    wait_until(
        lambda: spool_contents(spool)[1],
        done=lambda waiting: not waiting or min(waiting) > made,
        timeout=timeout,
        interval=0.1,
        what=f"{spool}: the backlog up to {made} to drain",
    )
    return made


def _check(name: str, result: Tally) -> None:
    FAULT_REPORT.append(result.line(name))
    assert not result.missing, f"{name}: batches lost: {sorted(result.missing)[:20]}"
    assert result.stored <= frozenset(range(1, result.made + 1))
    assert result.stored_samples == len(result.stored), f"{name}: a batch was stored twice"


def test_broker_restart_during_traffic(
    tmp_path: Path,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    make_collector: MakeCollector,
    agents: list[AgentProcess],
) -> None:
    make_collector(group="")
    spools = {n: _agent(tmp_path, n, mosquitto.url, agents) for n in ("pc-br-1", "pc-br-2")}
    for spool in spools.values():
        _wait_made(spool, 10)
    mosquitto.restart()
    for spool in spools.values():
        _wait_made(spool, spool_contents(spool)[0] + 10)
        _wait_drained(spool)
    for agent in agents:
        assert agent.terminate() == 0
    for name, spool in spools.items():
        _check(f"broker restarted during traffic ({name})", tally(victoria_metrics.url, name, spool))


def test_agent_killed_and_restarted_during_broker_outage(
    tmp_path: Path,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    make_collector: MakeCollector,
    agents: list[AgentProcess],
) -> None:
    make_collector(group="")  # one collector, as shipped: a plain, persistent subscription
    spool = _agent(tmp_path, "pc-k9", mosquitto.url, agents)
    _wait_made(spool, 5)
    mosquitto.stop()
    made, _ = spool_contents(spool)
    _wait_made(spool, made + 10)
    agents[0].kill()  # kill -9 while the broker is down: the spool is all there is
    agents[0].start()
    _wait_made(spool, spool_contents(spool)[0] + 10)
    mosquitto.start()
    outage = _wait_drained(spool)
    assert agents[0].terminate() == 0
    result = tally(victoria_metrics.url, "pc-k9", spool)
    assert len(result.sent) >= outage
    _check("agent kill -9 and restart during broker outage", result)


# --- a real network partition: the agent in its own network namespace, joined by a veth pair


class Netns:
    """A network namespace linked to this one by a veth pair; `cut()` and `heal()` the link."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name, self.outside, self.inside = f"dw{tag}", f"dwo{tag}", f"dwi{tag}"
        self.host_ip, self.ns_ip = "10.213.0.1", "10.213.0.2"

    def _ip(self, *args: str, ns: bool = False) -> None:
        cmd = ["ip", "netns", "exec", self.name, "ip", *args] if ns else ["ip", *args]
        subprocess.run(cmd, check=True, capture_output=True)

    def create(self) -> None:
        self._ip("netns", "add", self.name)
        self._ip("link", "add", self.outside, "type", "veth", "peer", "name", self.inside)
        self._ip("link", "set", self.inside, "netns", self.name)
        self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.outside)
        self._ip("link", "set", self.outside, "up")
        self._ip("addr", "add", f"{self.ns_ip}/30", "dev", self.inside, ns=True)
        self._ip("link", "set", self.inside, "up", ns=True)
        self._ip("link", "set", "lo", "up", ns=True)

    def cut(self) -> None:
        self._ip("link", "set", self.outside, "down")

    def heal(self) -> None:
        self._ip("link", "set", self.outside, "up")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ip("link", "del", self.outside)
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ip("netns", "del", self.name)


@pytest.fixture
def netns() -> Iterator[Netns]:
    ns = Netns()
    try:
        ns.create()
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        ns.destroy()
        pytest.fail(f"cannot make a network namespace here (needs root and iproute2): {err}")
    yield ns
    ns.destroy()


def test_network_partition_between_agent_and_broker(
    tmp_path: Path,
    netns: Netns,
    victoria_metrics: VictoriaMetrics,
) -> None:
    port = free_port()
    template = (REPO / "deploy" / "mosquitto" / "dev.conf").read_text()
    # The broker listens on loopback (for the collector) and on the veth (for the agent).
    template = template.replace(
        "listener @PORT@ 127.0.0.1", f"listener @PORT@ 127.0.0.1\nlistener @PORT@ {netns.host_ip}"
    )
    with Mosquitto(tmp_path / "broker", port=port, config=template) as broker:
        collector = CollectorProcess(tmp_path / "collector", broker.url, victoria_metrics.url, group="")
        collector.start()
        try:
            spool = tmp_path / "pc-part.db"
            config = write_config(
                tmp_path / "pc-part.toml",
                agent_id="pc-part",
                broker=f"mqtt://{netns.host_ip}:{port}",
                spool=spool,
                extra="",
            )
            # Short keepalive, so the agent notices a silent link within seconds, as on a real LAN.
            config.write_text(config.read_text().replace("[mqtt]\n", "[mqtt]\nkeepalive_seconds = 5\n"))
            argv = [
                "ip",
                "netns",
                "exec",
                netns.name,
                sys.executable,
                "-m",
                "agent",
                "run",
                "--config",
                str(config),
            ]
            with (tmp_path / "agent.log").open("ab") as log:
                proc = subprocess.Popen(argv, env=agent_env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait_made(spool, 10)
                netns.cut()
                made, _ = spool_contents(spool)
                _wait_made(spool, made + 40)  # ~8 s of batches while the link is down
                during = spool_contents(spool)
                assert len(during[1]) >= 20, "the agent did not keep batches while partitioned"
                netns.heal()
                _wait_drained(spool, timeout=60)
            finally:
                proc.terminate()
                proc.wait(15)
            _check("network partition agent | broker (netns)", tally(victoria_metrics.url, "pc-part", spool))
        finally:
            collector.kill()


def _batch_seqs_since(vm_url: str, agent_id: str, since_ns: int) -> list[int]:
    """The batch sequence numbers VictoriaMetrics holds for `agent_id`, stamped after `since_ns`."""
    fake_agents.flush_vm(vm_url)
    rows = fake_agents.query(vm_url, f'agent_source_batch_seq{{agent_id="{agent_id}"}}[1h]')
    return sorted(int(float(v)) for row in rows for ts, v in row["values"] if float(ts) * 1e9 > since_ns)


def test_a_wiped_spool_loses_nothing(
    tmp_path: Path,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    make_collector: MakeCollector,
    agents: list[AgentProcess],
) -> None:
    """A PC re-imaged (its spool deleted) starts its sequence again from 1: every batch of its
    new life is stored, presence follows it, and no gap or duplicate is counted."""
    collector = make_collector(group="")
    spool = _agent(tmp_path, "pc-wipe", mosquitto.url, agents)
    _wait_made(spool, 30)
    _wait_drained(spool)
    assert agents[0].terminate() == 0
    _check("agent before its spool is wiped", tally(victoria_metrics.url, "pc-wipe", spool))
    wiped_ns = time.time_ns()
    for path in tmp_path.glob(spool.name + "*"):  # the spool, its WAL and the command nonces
        path.unlink()
    agents[0].start()
    _wait_made(spool, 20)
    assert agents[0].terminate() == 0  # drains what it made before it says goodbye
    made, waiting = spool_contents(spool)
    assert not waiting and made < 30  # every new number lies below the old life's highest
    with contextlib.suppress(AssertionError):  # out of time: the report below says what is missing
        wait_until(
            lambda: _batch_seqs_since(victoria_metrics.url, "pc-wipe", wiped_ns),
            done=lambda seqs: seqs == list(range(1, made + 1)),
            timeout=30,
            interval=0.5,
        )
    stored = _batch_seqs_since(victoria_metrics.url, "pc-wipe", wiped_ns)
    FAULT_REPORT.append(
        f"spool wiped (re-image): made {made}, stored {len(set(stored))}, "
        f"lost {len(set(range(1, made + 1)) - set(stored))}"
    )
    assert stored == list(range(1, made + 1))
    assert collector.metric("deskwatch_ingest_duplicates_total") == 0
    assert collector.metric("deskwatch_ingest_sequence_gaps_total") == 0
    engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
    with engine.connect() as conn:
        last_seen = conn.execute(
            sa.select(agent_table.c.last_seen_ns).where(agent_table.c.agent_id == "pc-wipe")
        )
        assert last_seen.scalar_one() > wiped_ns  # presence saw the new life
    engine.dispose()


def _spool_states(vm_url: str, agent_id: str) -> list[float]:
    """The `spool_writable` States VictoriaMetrics holds for `agent_id`, oldest first (1 ok, 0 not)."""
    fake_agents.flush_vm(vm_url)
    found = fake_agents.stored_values(vm_url, 'state_ok{condition="spool_writable"}')
    return [ok for _, ok in sorted(found.get(agent_id, []))]


def _agent_figure(vm_url: str, field: str, agent_id: str) -> int:
    """The highest value of the agent's own counter `agent_<field>` stored for `agent_id`."""
    return int(max(value for _, value in fake_agents.stored_values(vm_url, f"agent_{field}")[agent_id]))


def test_a_full_disk_sends_rounds_past_the_spool_and_loses_only_those_made_offline(
    tmp_path: Path,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    make_collector: MakeCollector,
) -> None:
    """The agent's disk fills up (RLIMIT_FSIZE of 1 byte: every file write fails with EFBIG,
    as on a full disk) and the agent keeps measuring. Connected, each round the spool cannot
    take goes to the broker without it, with the number the spool used up for it and the
    State `spool_writable` false; with the broker down as well, each round is lost, counted
    by the agent and as a gap by the collector, and nothing else is. The first batch the
    spool takes again says the spool is writable."""
    collector = make_collector(group="")
    spool = tmp_path / "pc-full.db"
    config = write_config(tmp_path / "pc-full.toml", agent_id="pc-full", broker=mosquitto.url, spool=spool)
    agent = AgentProcess(config, tmp_path / "pc-full.log", log_through_pipe=True).start()
    vm = victoria_metrics.url
    try:
        _wait_made(spool, 10)
        _wait_drained(spool)
        resource.prlimit(agent.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))  # the disk is full
        time.sleep(3)  # connected: ~15 rounds the spool cannot take, each sent without it
        mosquitto.stop()
        time.sleep(2)  # offline too: ~10 rounds lost
        mosquitto.start()
        wait_until(
            lambda: _spool_states(vm, "pc-full"),
            done=lambda states: len(states) > 20,
            timeout=30,
            interval=0.5,
            what="rounds without the spool after the broker came back",
        )
        resource.prlimit(agent.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        _wait_made(spool, spool_contents(spool)[0] + 10)
        _wait_drained(spool)
        assert agent.terminate() == 0
    finally:
        agent.cleanup()
    result = tally(vm, "pc-full", spool)
    failures = _agent_figure(vm, "spool_write_failures_total", "pc-full")
    lost = _agent_figure(vm, "spool_rounds_lost_total", "pc-full")
    states = _spool_states(vm, "pc-full")
    gaps = collector.metric("deskwatch_ingest_sequence_gaps_total")
    FAULT_REPORT.append(
        f"spool disk full (3 s online, 2 s offline, then online): made {result.made}, "
        f"sent {len(result.sent)}, stored {len(result.stored)}, not spooled {failures}, "
        f"of them sent without the spool {failures - lost}, lost offline {lost} (reported by the agent), "
        f"gaps counted by the collector {gaps:.0f}, "
        f"stored twice {result.stored_samples - len(result.stored)} "
        f"(repeats dropped {collector.metric('deskwatch_ingest_duplicates_total'):.0f})"
    )
    assert failures > 20  # ~30 rounds were due while the disk was full; each failed
    assert lost > 3  # those made while the broker was down
    assert len(result.missing) == lost == gaps  # every lost round is a gap, and nothing else is
    # nothing stored twice (a batch in flight when the broker stopped may come again; it is dropped)
    assert result.stored_samples == len(result.stored)
    # Every round sent without the spool said so, and the first one spooled again said it was
    # over. (The host and network rounds are due in the same millisecond, and VictoriaMetrics
    # keeps one sample per series and millisecond, so there are fewer samples than rounds.)
    assert states == [0.0] * (len(states) - 1) + [1.0]
    assert len(states) > (failures - lost) / 3
    log = (tmp_path / "pc-full.log").read_text()
    assert log.count("cannot write spool") == 1, log[-3000:]  # once per change, not per round
    assert log.count("spool writable again") == 1, log[-3000:]


SHORT_SPOOL_RULE = """
[incidents]
cycle_seconds = 0.5
clear_cycles = 2

[[state]]
## the shipped agent_spool with a minimum duration a test can wait for
name = "agent_spool"
conditions = ["spool_writable"]
scope = "agent"
category = "agent"
severity = "warning"
min_duration_seconds = 4
"""


def _spool_rule_collector(
    tmp_path: Path, make_collector: MakeCollector
) -> tuple[CollectorProcess, httpx.Client]:
    """A collector whose agent_spool rule waits SHORT_SPOOL_RULE's 4 s, and a viewer's API client."""
    rules = tmp_path / "rules.toml"
    rules.write_text(SHORT_SPOOL_RULE)
    collector = make_collector(group="", extra=f'[incidents]\nrules_file = "{rules}"\n')
    token = create_token(f"sqlite:///{collector.workdir / 'collector.db'}", "viewer")
    api = httpx.Client(base_url=collector.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return collector, api


def _spool_tickets(api: httpx.Client, agent_id: str) -> Callable[[], list[dict[str, Any]]]:
    """Reads the agent's agent_spool tickets (open or resolved) through the API."""

    def tickets() -> list[dict[str, Any]]:
        params = {"agent_id": agent_id, "condition": "spool_writable", "limit": 50}
        return list(api.get("/api/v1/incidents", params=params).json()["items"])

    return tickets


def test_a_disk_that_stays_full_opens_one_spool_ticket_that_resolves_when_it_is_writable(
    tmp_path: Path,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    make_collector: MakeCollector,
) -> None:
    """A PC whose disk stays full for longer than the rule's minimum duration: exactly one
    `agent_spool` ticket, no earlier than that duration after the disk filled; every round
    reaches VictoriaMetrics meanwhile; the ticket resolves once the spool can be written
    again, and no batch is stored twice."""
    collector, api = _spool_rule_collector(tmp_path, make_collector)
    vm = victoria_metrics.url

    tickets = _spool_tickets(api, "pc-fills")

    spool = tmp_path / "pc-fills.db"
    config = write_config(tmp_path / "pc-fills.toml", agent_id="pc-fills", broker=mosquitto.url, spool=spool)
    agent = AgentProcess(config, tmp_path / "pc-fills.log", log_through_pipe=True).start()
    try:
        _wait_made(spool, 10)
        _wait_drained(spool)
        full_ns = time.time_ns()
        resource.prlimit(agent.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))  # the disk is full
        opened = wait_until(tickets, timeout=30, interval=0.25, what="the agent_spool ticket")
        opened_after = (opened[0]["opened_ns"] - full_ns) / 1e9
        time.sleep(3)  # the disk stays full: more rounds, more cycles, still one ticket
        during = tickets()
        resource.prlimit(agent.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        writable_ns = time.time_ns()
        resolved = _wait_resolved(tickets)
        _wait_made(spool, spool_contents(spool)[0] + 10)
        _wait_drained(spool)
        assert agent.terminate() == 0
    finally:
        agent.cleanup()
        api.close()
    result = tally(vm, "pc-fills", spool)
    failures = _agent_figure(vm, "spool_write_failures_total", "pc-fills")
    lost = _agent_figure(vm, "spool_rounds_lost_total", "pc-fills")
    gaps = collector.metric("deskwatch_ingest_sequence_gaps_total")
    duplicates = collector.metric("deskwatch_ingest_duplicates_total")
    states = _spool_states(vm, "pc-fills")
    ticket = resolved[0]
    FAULT_REPORT.append(
        f"spool disk full {(writable_ns - full_ns) / 1e9:.1f} s (rule: 4 s): made {result.made}, "
        f"sent {len(result.sent)}, stored {len(result.stored)}, lost {len(result.missing)}, "
        f"stored twice {result.stored_samples - len(result.stored)}, not spooled {failures}; "
        f"tickets {len(resolved)}, opened {opened_after:.1f} s after the disk filled, "
        f"resolved {(ticket['resolved_ns'] - writable_ns) / 1e9:.1f} s after it was writable"
    )
    assert len(during) == len(resolved) == 1, resolved  # exactly one ticket, never a second
    assert ticket["id"] == opened[0]["id"] and during[0]["status"] == "open"
    assert ticket["severity"] == "warning" and "cannot write spool" in opened[0]["summary"]
    assert opened_after >= 4  # not before the rule's minimum duration
    assert ticket["resolved_ns"] >= writable_ns
    assert failures > 20 and lost == 0 == gaps == duplicates  # connected all along: no round lost
    assert not result.missing and result.stored_samples == len(result.stored)
    assert states == [0.0] * (len(states) - 1) + [1.0]  # false in every round without the spool, then true
    assert len(states) > failures / 3  # (rounds of two sources in one millisecond are one sample)


class _Listener:
    """Every batch an agent published, as the broker passed it on: (spool life, seq) -> the
    (time in ms, seq) of its `agent_source_batch_seq` sample, the key VictoriaMetrics stores."""

    def __init__(self, url: str, agent_id: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.batches: dict[tuple[str, int], tuple[int, int]] = {}
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        subscribed = threading.Event()
        self._client.on_message = lambda _c, _u, message: self._take(message.payload)
        self._client.on_subscribe = lambda *_args: subscribed.set()
        self._client.on_connect = lambda client, *_args: client.subscribe(
            protocol.topic(protocol.DEFAULT_PREFIX, agent_id, protocol.Kind.METRICS), qos=1
        )
        self._client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        self._client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError(f"cannot subscribe at {url}")

    def _take(self, payload: bytes) -> None:
        batch = protocol.decode(payload, protocol.Batch)
        (sample,) = (s for s in batch.samples if s.measurement == "agent_source")
        self.batches[(batch.spool_id, batch.seq)] = (sample.time_ns // 1_000_000, batch.seq)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _stored_batches(vm_url: str, agent_id: str) -> list[tuple[int, int]]:
    """(time in ms, seq) of every `agent_source_batch_seq` sample VictoriaMetrics holds for `agent_id`."""
    samples = fake_agents.stored_values(vm_url, "agent_source_batch_seq")[agent_id]
    return [(ts, int(seq)) for ts, seq in samples]


def _sent_and_stored(
    listener: _Listener, vm: str, agent_id: str
) -> tuple[dict[tuple[str, int], tuple[int, int]], list[tuple[int, int]]]:
    """Every batch the listener saw the agent send, and what VictoriaMetrics holds of the agent
    once it holds all of those: (spool life, seq) -> (time in ms, seq), and the (time in ms, seq) stored."""
    time.sleep(0.5)  # the last acknowledged batches reach the listener
    listener.close()
    sent = listener.batches
    fake_agents.flush_vm(vm)
    stored = wait_until(
        lambda: _stored_batches(vm, agent_id),
        done=lambda found: set(sent.values()) <= set(found),
        timeout=30,
        interval=0.5,
        what="every batch sent to be stored",
    )
    return sent, stored


def test_an_agent_restarted_on_a_full_disk_is_not_taken_for_repeats(
    tmp_path: Path,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    make_collector: MakeCollector,
) -> None:
    """The disk fills, the agent sends its rounds past the spool, and it is restarted (a
    reboot) while the disk is still full. The numbers the first process used up are recorded
    nowhere, so the second takes them again from the file, under its own spool life: the
    collector stores every batch either process sent, once, drops none as a repeat, counts
    no gap, and the one `agent_spool` ticket resolves once the disk is writable."""
    collector, api = _spool_rule_collector(tmp_path, make_collector)
    vm = victoria_metrics.url
    listener = _Listener(mosquitto.url, "pc-reboot")

    tickets = _spool_tickets(api, "pc-reboot")

    spool = tmp_path / "pc-reboot.db"
    config = write_config(
        tmp_path / "pc-reboot.toml", agent_id="pc-reboot", broker=mosquitto.url, spool=spool
    )
    log = tmp_path / "pc-reboot.log"
    first = AgentProcess(config, log, log_through_pipe=True).start()
    second: AgentProcess | None = None
    try:
        _wait_made(spool, 10)
        _wait_drained(spool)
        stored_before = spool_contents(spool)[0]
        resource.prlimit(first.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))  # the disk is full
        opened = wait_until(tickets, timeout=30, interval=0.25, what="the agent_spool ticket")
        assert first.terminate() == 0  # rebooted with the disk still full
        assert spool_contents(spool)[0] == stored_before  # the numbers it used up are nowhere on disk
        second = AgentProcess(config, log, log_through_pipe=True).start()
        # The disk fills again as soon as it has opened the spool, before its first round (a
        # process that cannot open it at all is the next test's).
        wait_until(lambda: log.read_text().count("publishing to") == 2, timeout=30, interval=0.01)
        resource.prlimit(second.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
        time.sleep(3)  # the second process sends past the spool too, under numbers the first used
        during = tickets()
        resource.prlimit(second.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        resolved = _wait_resolved(tickets)
        _wait_made(spool, spool_contents(spool)[0] + 10)
        _wait_drained(spool)
        assert second.terminate() == 0
    finally:
        first.cleanup()
        if second is not None:
            second.cleanup()
        api.close()
    sent, stored = _sent_and_stored(listener, vm, "pc-reboot")
    lives = {life for life, _ in sent}
    first_life = next(iter(sent))[0]
    by_first = {seq for life, seq in sent if life == first_life}
    reused = by_first & {seq for life, seq in sent if life != first_life}
    gaps = collector.metric("deskwatch_ingest_sequence_gaps_total")
    duplicates = collector.metric("deskwatch_ingest_duplicates_total")
    failures = _agent_figure(vm, "spool_write_failures_total", "pc-reboot")
    text = log.read_text()
    FAULT_REPORT.append(
        f"spool disk full, agent restarted on it, then writable: sent {len(sent)} in {len(lives)} spool "
        f"lives (numbers taken by both processes {len(reused)}), stored {len(set(stored))}, "
        f"stored twice {len(stored) - len(set(stored))}, repeats dropped {duplicates:.0f}, "
        f"gaps {gaps:.0f}, not spooled (by the process that failed more) {failures}, tickets {len(resolved)}"
    )
    assert set(stored) == set(sent.values())  # sent == stored
    assert len(stored) == len(set(stored)) and duplicates == 0 == gaps
    assert len(lives) == 2  # one per process, whether the batch was spooled or not
    assert text.count("cannot write spool") == 2, text[-3000:]  # each process said it once
    assert failures > 5 and reused  # the second process did send numbers the first had used up
    assert len(during) == len(resolved) == 1 and resolved[0]["id"] == opened[0]["id"]
    assert during[0]["status"] == "open"


def test_an_agent_started_on_a_full_disk_sends_its_rounds_and_says_so(
    tmp_path: Path,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    make_collector: MakeCollector,
) -> None:
    """A PC that boots with its disk already full: SQLite cannot even open the spool (it
    must size its WAL index). The agent starts all the same, sends every round past the
    spool while connected, says so (one `agent_spool` ticket), and once the disk has room
    opens the spool and goes on from it under a new life: every batch sent is stored once,
    no gap, no repeat."""
    collector, api = _spool_rule_collector(tmp_path, make_collector)
    vm = victoria_metrics.url
    listener = _Listener(mosquitto.url, "pc-boot-full")
    tickets = _spool_tickets(api, "pc-boot-full")
    spool = tmp_path / "spool" / "pc-boot-full.db"
    config = write_config(
        tmp_path / "pc-boot-full.toml", agent_id="pc-boot-full", broker=mosquitto.url, spool=spool
    )
    log = tmp_path / "pc-boot-full.log"
    agent = AgentProcess(config, log, log_through_pipe=True, file_size_limit=1).start()
    try:
        opened = wait_until(tickets, timeout=30, interval=0.25, what="the agent_spool ticket")
        assert not spool.exists() or spool.stat().st_size == 0  # nothing could be written to it
        unspooled = len(listener.batches)
        resource.prlimit(agent.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        resolved = _wait_resolved(tickets)
        _wait_made(spool, 10)
        _wait_drained(spool)
        assert agent.terminate() == 0
    finally:
        agent.cleanup()
        api.close()
    sent, stored = _sent_and_stored(listener, vm, "pc-boot-full")
    lives = {life for life, _ in sent}
    gaps = collector.metric("deskwatch_ingest_sequence_gaps_total")
    duplicates = collector.metric("deskwatch_ingest_duplicates_total")
    text = log.read_text()
    FAULT_REPORT.append(
        f"agent started on a full disk: {unspooled} batches sent before the spool could open, "
        f"sent {len(sent)} in {len(lives)} spool lives, stored {len(set(stored))}, "
        f"stored twice {len(stored) - len(set(stored))}, gaps {gaps:.0f}, tickets {len(resolved)}"
    )
    assert unspooled >= 5  # it measured and sent while the spool could not open
    assert set(stored) == set(sent.values()) and len(stored) == len(set(stored))
    assert duplicates == 0 == gaps
    assert len(lives) == 2  # the life without a file, then the file's
    assert len(resolved) == 1 and resolved[0]["id"] == opened[0]["id"]
    assert "cannot open spool" in opened[0]["summary"]
    assert text.count("cannot open the spool") == 1, text[-3000:]
