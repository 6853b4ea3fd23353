"""Agents -> real broker -> collector ingest -> incidents engine -> API, in one collector process.

Wired the way the lead wires it (see docs/incidents.md): the Incidents bundle is an
observer of CollectorService and its router is mounted in the service's app.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from agent.protocol import PROTOCOL_VERSION, Batch, Presence, Sample, Severity, State
from collector import api
from collector.api import ApiContext
from collector.app import Incidents
from collector.auth.tokens import TokenStore
from collector.config import CollectorConfig, IncidentsConfig, with_overrides
from collector.http import provide
from collector.line_protocol import batch_lines
from collector.service import CollectorService
from tests.support import fake_agents
from tests.support.agent_process import AgentProcess, write_config
from tests.support.services import Mosquitto, VictoriaMetrics, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

RULES = """
[incidents]
cycle_seconds = 0.2
clear_cycles = 2
[agent_lost]
# these offices are at work at any hour, so a test run at night sees lost agents too
working_hours = "always"
grace_seconds = 1
hold_down_seconds = 0
"""


@pytest.fixture
def running(
    tmp_path: Path, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> Iterator[tuple[str, str]]:
    port = free_port()
    config = with_overrides(
        CollectorConfig(),
        broker=mosquitto.url,
        metrics_url=victoria_metrics.url,
        db=f"sqlite:///{tmp_path / 'collector.db'}",
        listen=f"127.0.0.1:{port}",
    )
    config = msgspec.structs.replace(
        config, metrics=msgspec.structs.replace(config.metrics, buffer_dir=str(tmp_path / "buffer"))
    )
    service = CollectorService(config)
    (tmp_path / "rules.toml").write_text(RULES)

    def ship(samples: list[Sample]) -> None:
        # what the lead's wiring does through the writer: Samples -> line protocol -> VictoriaMetrics
        now = time.time_ns()
        lines = batch_lines(
            Batch(v=PROTOCOL_VERSION, agent_id="collector", seq=0, created_ns=now, samples=samples)
        )
        httpx.post(
            f"{victoria_metrics.url}/api/v2/write", content="\n".join(lines).encode()
        ).raise_for_status()

    incidents = Incidents(IncidentsConfig(rules_file=str(tmp_path / "rules.toml")), service.engine, ship=ship)
    service.add_observer(incidents.engine)
    service.metrics.registry.register(incidents.prometheus_collector())
    provide(
        service.app, TokenStore(service.engine), ApiContext(incidents.store, incidents.kb, incidents.engine)
    )
    service.app.include_router(api.router)
    token = TokenStore(service.engine).create("helpdesk", "e2e", time.time_ns())
    service.start()
    incidents.start()
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        incidents.stop()
        service.stop()


def test_printer_and_lost_agent_incidents_through_the_broker(
    running: tuple[str, str], mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    url, token = running
    api = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    publisher = fake_agents.Publisher(mosquitto.url)
    seq = [0] * 5

    def report(ok: bool) -> None:
        for agent in range(5):
            now = time.time_ns()
            seq[agent] += 1
            publisher.publish(
                Batch(
                    v=PROTOCOL_VERSION,
                    agent_id=fake_agents.agent_id(agent),
                    seq=seq[agent],
                    created_ns=now,
                    site="hq",
                    states=[
                        State(
                            "SN-E2E",
                            "printer_toner_low",
                            ok,
                            Severity.WARNING,
                            "black low",
                            {"supply": "black"},
                            now,
                        )
                    ],
                )
            )
        publisher.wait()

    def incidents(**params: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = api.get("/incidents", params={"status": ["open"], **params}).json()[
            "items"
        ]
        return items

    for agent in range(5):
        publisher.publish(fake_agents.birth(agent, time.time_ns(), interval_seconds=60))
    report(ok=False)
    found = wait_until(
        lambda: incidents(device="SN-E2E"),
        done=lambda items: len(items) == 1,
        timeout=20,
        what="one incident",
    )
    assert [i["key"] for i in found] == ["device/SN-E2E/printer_toner_low/black"]
    time.sleep(0.5)  # the agents' pace: the next round comes later
    report(ok=False)
    assert len(incidents(device="SN-E2E")) == 1  # five agents, more rounds: still one
    report(ok=True)
    wait_until(
        lambda: incidents(device="SN-E2E"),
        done=lambda items: items == [],
        timeout=20,
        what="the incident resolved",
    )

    # pc-00001 vanishes (its Last Will), pc-00002 says goodbye
    now = time.time_ns()
    publisher.publish(
        Presence(
            v=PROTOCOL_VERSION, agent_id="pc-00001", status="offline", time_ns=now, site="hq", reason="lost"
        )
    )
    publisher.publish(
        Presence(
            v=PROTOCOL_VERSION,
            agent_id="pc-00002",
            status="offline",
            time_ns=now,
            site="hq",
            reason="shutdown",
        )
    )
    publisher.wait()
    lost = wait_until(lambda: incidents(condition="agent_lost"), timeout=20, what="an agent_lost incident")
    assert [i["agent_id"] for i in lost if i["condition"] == "agent_lost"] == ["pc-00001"]
    time.sleep(1.5)  # a fixed time: a few cycles in which the goodbye must not become "lost"
    assert [i["agent_id"] for i in incidents() if i["condition"] == "agent_lost"] == ["pc-00001"]
    publisher.publish(fake_agents.birth(1, time.time_ns(), interval_seconds=60))
    publisher.wait()
    wait_until(
        lambda: [i for i in incidents() if i["condition"] == "agent_lost"],
        done=lambda items: items == [],
        timeout=20,
        what="the agent_lost incident resolved",
    )
    publisher.close()
    api.close()

    # incident metrics reached VictoriaMetrics and /metrics
    def opened_total() -> list[dict[str, Any]]:
        fake_agents.flush_vm(victoria_metrics.url)
        return fake_agents.query(victoria_metrics.url, 'incidents_opened_total{category="printer"}')

    result = wait_until(opened_total, timeout=20, what="incidents_opened_total in VictoriaMetrics")
    assert float(result[0]["value"][1]) == 1
    assert httpx.get(f"{url}/metrics").status_code == 401  # not for anyone on the network
    scraped = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'deskwatch_incidents_opened_total{category="agent"} 1.0' in scraped


def test_killed_agent_is_lost_and_stopped_agent_is_not(
    running: tuple[str, str], mosquitto: Mosquitto, tmp_path: Path
) -> None:
    url, token = running
    api = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    agents = {
        name: AgentProcess(
            write_config(
                tmp_path / f"{name}.toml",
                agent_id=name,
                broker=mosquitto.url,
                spool=tmp_path / name,
                interval=0.5,
                extra="",
            ),
            tmp_path / f"{name}.log",
        ).start()
        for name in ("pc-kill", "pc-stop")
    }
    try:

        def statuses() -> dict[str, str]:
            return {a["agent_id"]: a["status"] for a in api.get("/agents").json()}

        wait_until(statuses, done=lambda s: s.get("pc-kill") == s.get("pc-stop") == "online", timeout=30)
        agents["pc-kill"].kill()  # kill -9: the broker publishes its Last Will
        assert agents["pc-stop"].terminate() == 0  # a goodbye: no incident

        def lost() -> list[str]:
            items = api.get("/incidents", params={"status": ["open"], "condition": "agent_lost"}).json()[
                "items"
            ]
            return sorted(i["agent_id"] for i in items)

        assert wait_until(lost, timeout=30, what="a lost agent") == ["pc-kill"]
        time.sleep(2)  # a fixed time: a few cycles in which the stopped agent must not become "lost"
        assert lost() == ["pc-kill"] and statuses()["pc-stop"] == "offline"
        agents["pc-kill"].start()
        wait_until(lost, done=lambda ids: ids == [], timeout=30, what="the lost agent back")
    finally:
        for agent in agents.values():
            agent.cleanup()
        api.close()
