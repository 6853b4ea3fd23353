"""Diagnostics latency: round trip of a trivial check through the broker, and triage wall time.

Everything real and on loopback: a private Mosquitto, a collector process, an agent
process and the SNMP simulator serving one printer. Figures, each next to its baseline
from the same run:

  - MQTT echo: a client that republishes every message, the floor any command pays;
  - the `memory` check sent by a plain MQTT client straight to the agent (signed);
  - the same through the collector's API (HTTP -> collector -> broker -> agent -> back);
  - `triage` with every target answering, and with the gateway and DNS server silent.

Targets (issue 8): p50 < 50 ms; triage < 5 s reachable, < 8 s with DNS and gateway timing out.

    python -m bench.diagnostics [--calls 200]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from bench.report import record
from collector.auth.tokens import TokenStore
from collector.config import CollectorConfig, StoreSettings, signing_key_path
from collector.db import make_engine, migrate
from collector.diagnostics import signing_key
from tests.diagnostics.conftest import agent_config, wait_ready
from tests.support.agent_process import AgentProcess
from tests.support.collector_process import CollectorProcess
from tests.support.commands import Commander, make_command, sign
from tests.support.local_targets import HttpTarget
from tests.support.services import DEPLOY, Mosquitto, free_port
from tests.support.snmpsim import SnmpSim, walk_paths

NETWORK_REACHABLE = """
[network]
gateway = "127.0.0.1"
gateway_ports = [{open_port}]
dns_names = ["localhost"]
internet_targets = ["127.0.0.1:{open_port}"]
http_targets = ["{http}"]
timeout_seconds = 2.0
[snmp]
enabled = false
device_urls = ["snmp://brother@127.0.0.1:{snmp_port}"]
"""


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):6.1f} ms   p99 {p99:6.1f} ms   (n={len(ms)})"


def timed(calls: int, once: Callable[[], object]) -> list[float]:
    for _ in range(5):  # warm-up: connections, imports, caches
        once()
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        once()
        out.append(time.perf_counter() - start)
    return out


def echo_baseline(port: int, calls: int, no_delay: bool = False) -> list[float]:
    """Round trip publish -> echo client republishes -> back, at QoS 1, MQTT v5."""
    got = threading.Event()
    echo = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    echo.on_connect = lambda c, *_: c.subscribe("bench/ping", qos=1)
    echo.on_message = lambda c, _u, m: c.publish("bench/pong", m.payload, qos=1)
    caller = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    caller.on_connect = lambda c, *_: c.subscribe("bench/pong", qos=1)
    caller.on_message = lambda *_: got.set()
    for client in (echo, caller):
        if no_delay:
            client.on_socket_open = lambda _c, _u, s: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.connect("127.0.0.1", port)
        client.loop_start()
    time.sleep(0.5)

    def once() -> None:
        got.clear()
        caller.publish("bench/ping", b"x" * 300, qos=1)
        if not got.wait(5):
            raise TimeoutError("echo lost")

    try:
        return timed(calls, once)
    finally:
        for client in (echo, caller):
            client.disconnect()
            client.loop_stop()


@contextlib.contextmanager
def silent_tcp_port() -> Iterator[int]:
    """A port whose accept queue is full: connects hang until their timeout, like a dead gateway."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for s in (*fillers, server):
            s.close()


@contextlib.contextmanager
def silent_udp_port() -> Iterator[int]:
    """A DNS 'server' that never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def start_agent(tmp: Path, name: str, broker: Mosquitto, key: str, network: str) -> AgentProcess:
    config = agent_config(tmp / f"{name}.toml", agent_id=name, broker=broker.url, key_text=key)
    text = config.read_text()
    # replace the loopback defaults of write_config with this run's [network] and [snmp]
    head = text.split("[network]")[0]
    tail = text.split("[commands]")[1] if "[commands]" in text else ""
    config.write_text(head + network + "[commands]\nper_minute = 6000\nburst = 1000\n" + tail)
    return AgentProcess(config, tmp / f"{name}.log").start()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--triage-runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="deskwatch-bench-diag-"))
    db_url = f"sqlite:///{tmp / 'collector.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    from collector.diagnostics import public_key_text

    # where the collector started below looks for it: beside its SQLite store
    collector_key = signing_key(engine, signing_key_path(CollectorConfig(store=StoreSettings(db_url))))
    token = TokenStore(engine).create("helpdesk", "bench", time.time_ns())
    engine.dispose()
    direct_key = Ed25519PrivateKey.generate()
    with contextlib.ExitStack() as stack:
        # Baseline: the broker and the clients with Nagle on, as paho and Mosquitto default to;
        # small requests and replies then wait 40 ms a hop for delayed ACKs.
        nagle_conf = (DEPLOY / "mosquitto" / "dev.conf").read_text().replace("set_tcp_nodelay true", "")
        with Mosquitto(tmp / "broker-nagle", config=nagle_conf) as nagle_broker:
            nagle_echo = echo_baseline(nagle_broker.port, args.calls)
        broker = stack.enter_context(Mosquitto(tmp / "broker"))  # deploy/mosquitto/dev.conf as shipped
        http = stack.enter_context(HttpTarget())
        snmp = SnmpSim()
        snmp.add_walk(walk_paths()["brother"])
        stack.enter_context(snmp)
        open_port = http.port
        reachable = NETWORK_REACHABLE.format(open_port=open_port, http=http.url("/"), snmp_port=snmp.port)
        silent_tcp = stack.enter_context(silent_tcp_port())
        silent_dns = stack.enter_context(silent_udp_port())
        dead = reachable.replace(f"gateway_ports = [{open_port}]", f"gateway_ports = [{silent_tcp}]")

        collector = CollectorProcess(
            tmp / "collector", broker.url, f"http://127.0.0.1:{free_port()}", db_url=db_url
        )
        collector.start()
        stack.callback(collector.stop)
        key_text = public_key_text(collector_key)
        agents = [
            start_agent(tmp, "pc-bench", broker, key_text, reachable),
            start_agent(tmp, "pc-bench-dead", broker, key_text, dead),
            start_agent(tmp, "pc-bench-direct", broker, _public(direct_key), reachable),
        ]
        for agent in agents:
            stack.callback(agent.cleanup)
        commander = Commander(broker.port)
        stack.callback(commander.close)
        wait_ready(commander, "pc-bench-direct", direct_key)
        api = httpx.Client(base_url=collector.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        stack.callback(api.close)

        def via_api(agent_id: str, check: str, params: dict[str, object] | None = None) -> dict[str, object]:
            body = {"check": check, "params": params or {}, "timeout_seconds": 15}
            response = api.post(f"/api/v1/agents/{agent_id}/diagnostics", json=body)
            response.raise_for_status()
            answer: dict[str, object] = response.json()
            return answer

        deadline = time.monotonic() + 30
        for agent_id in ("pc-bench", "pc-bench-dead"):
            while (
                api.post(f"/api/v1/agents/{agent_id}/diagnostics", json={"check": "memory"}).status_code
                != 200
            ):
                if time.monotonic() > deadline:
                    sys.exit(f"{agent_id} never became reachable through the API")
                time.sleep(0.2)

        print(f"diagnostics round trip, {args.calls} calls each (2 shared cores, loopback)")
        no_nagle = echo_baseline(broker.port, args.calls, True)
        print(
            f"  baseline: MQTT echo, Nagle on      {percentiles(nagle_echo)}   (paho and Mosquitto defaults)"
        )
        print(
            f"  baseline: MQTT echo, no Nagle      {percentiles(no_nagle)}   (dev.conf, TCP_NODELAY clients)"
        )
        direct = timed(
            args.calls, lambda: commander.send(sign(make_command("pc-bench-direct", "memory"), direct_key))
        )
        print(f"  memory check, MQTT straight        {percentiles(direct)}")
        through_api = timed(args.calls, lambda: via_api("pc-bench", "memory"))
        print(f"  memory check, API -> collector     {percentiles(through_api)}   target p50 < 50 ms")
        p50 = statistics.median(through_api) * 1000
        baseline = f"MQTT echo p50 {statistics.median(no_nagle) * 1000:.1f} ms (no Nagle)"
        record("diagnostics", "round trip via API, p50", p50, "ms", baseline, "< 50 ms", p50 < 50)
        ordered = sorted(through_api)
        record(
            "diagnostics",
            "round trip via API, p99",
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "ms",
        )

        print(f"triage wall time, {args.triage_runs} runs each (default 2 s probe timeout)")
        for label, agent_id, params, target in (
            ("every target answers", "pc-bench", {}, 5.0),
            (
                "gateway and DNS silent",
                "pc-bench-dead",
                {"dns_server": "127.0.0.1", "dns_port": silent_dns},
                8.0,
            ),
        ):
            walls, agent_side, problems = [], [], 0
            for _ in range(args.triage_runs):
                start = time.perf_counter()
                answer = via_api(agent_id, "triage", params)
                walls.append(time.perf_counter() - start)
                agent_side.append(float(answer["duration_seconds"]))  # type: ignore[arg-type]
                problems = len(answer["result"]["problems"])  # type: ignore[index]
            record(
                "diagnostics",
                f"triage, {label}",
                statistics.median(walls),
                "s",
                "",
                f"< {target:g} s",
                statistics.median(walls) < target,
            )
            print(
                f"  {label:24} median {statistics.median(walls):5.2f} s  max {max(walls):5.2f} s"
                f"  (agent {statistics.median(agent_side):.2f} s, {problems} problems)  target < {target:g} s"
            )


def _public(key: Ed25519PrivateKey) -> str:
    from tests.support.commands import public_key_text

    return public_key_text(key)


if __name__ == "__main__":
    main()
