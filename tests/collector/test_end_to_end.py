"""Agent -> broker -> collector -> VictoriaMetrics, queried back with PromQL."""

from __future__ import annotations

import time

import pytest

from agent.protocol import PROTOCOL_VERSION, Presence
from collector import deadletter, presence, sites
from collector.db import make_engine, migrate
from collector.ingest import SITE_MISMATCH
from tests.collector.conftest import MakeCollector, wait_for_seqs
from tests.support import fake_agents
from tests.support.collector_process import CollectorProcess
from tests.support.services import Mosquitto, VictoriaMetrics
from tests.support.waiting import wait_until


@pytest.fixture
def collector(make_collector: MakeCollector) -> CollectorProcess:
    return make_collector()


def test_promql_returns_exactly_the_values_sent(
    collector: CollectorProcess, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    publisher = fake_agents.Publisher(mosquitto.url)
    base_ns = time.time_ns() - 60 * 10**9
    sent: dict[str, dict[int, float]] = {}
    for agent in range(3):
        for seq in range(5):
            created = base_ns + seq * 10**9 + agent * 10**6
            publisher.publish(
                fake_agents.make_batch(agent, seq, created, site="Main office", with_state=True)
            )
            for index in range(59):
                if index % 5 == 0:  # the "cpu" samples
                    sent.setdefault(f"{fake_agents.agent_id(agent)}/i{index:02d}", {})[created // 10**6] = (
                        fake_agents.value(agent, seq, index)
                    )
    publisher.close()
    expected = {fake_agents.agent_id(a): list(range(5)) for a in range(3)}
    assert wait_for_seqs(victoria_metrics.url, expected) == expected

    result = fake_agents.query(victoria_metrics.url, 'cpu_value{site="Main office"}[1h]')
    got = {
        f"{item['metric']['agent_id']}/{item['metric']['item']}": {
            round(float(ts) * 1000): float(v) for ts, v in item["values"]
        }
        for item in result
    }
    assert got == sent
    labels = result[0]["metric"]
    assert labels["site"] == "Main office"
    assert {item["metric"]["unit"] for item in result} == {"C:\\", "eth 0", "intranet,dns", "sda=1"}
    states = fake_agents.query(victoria_metrics.url, "state_ok[1h]")
    assert {item["metric"]["condition"] for item in states} == {"dns_resolves"}
    assert sorted(v for item in states for _, v in item["values"]) == sorted(
        [str(int(seq % 2 == 0)) for seq in range(5)] * 3
    )
    assert collector.metric("deskwatch_ingest_samples_total") == 3 * 5 * 61
    assert collector.metric("deskwatch_ingest_decode_errors_total") == 0
    # At start the incidents engine loaded its rule histories from this VictoriaMetrics.
    assert f"rule histories loaded from {victoria_metrics.url}" in collector.log()


def test_a_bound_agent_naming_another_site_is_dead_lettered(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    """pc-00001 is bound to hq (`agents enroll --site hq`); whatever it sends naming branch is
    refused with the reason, counted and said once per change; hq and no site are taken (no
    site: hq). pc-00002 is not bound and names branch as before. Runs on both lanes
    (deploy/test.sh runs this file again with DESKWATCH_NO_C_LINES=1)."""
    collector = make_collector(start=False)
    engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
    migrate(engine)
    sites.bind(engine, "pc-00001", "hq", time.time_ns())
    collector.start()
    try:
        publisher = fake_agents.Publisher(mosquitto.url)
        base_ns = time.time_ns() - 60 * 10**9
        claims = ["branch", "branch", "branch", "hq", "", "branch"]
        for seq, site in enumerate(claims):
            publisher.publish(fake_agents.make_batch(1, seq, base_ns + seq * 10**9, site=site))
            publisher.wait()
        publisher.publish(fake_agents.make_batch(2, 0, base_ns, site="branch"))
        publisher.publish(Presence(PROTOCOL_VERSION, "pc-00001", "online", base_ns, site="branch"))
        publisher.close()
        expected = {"pc-00001": [3, 4], "pc-00002": [0]}
        assert wait_for_seqs(victoria_metrics.url, expected) == expected
        letters = wait_until(
            lambda: deadletter.recent(engine, reason_code=SITE_MISMATCH),
            done=lambda found: len(found) == 5,
            timeout=10,
            what="five dead letters",
        )
        assert {letter.reason for letter in letters} == {
            "agent pc-00001 is bound to site 'hq' but names site 'branch'"
        }
        assert sorted(letter.topic.rsplit("/", 1)[1] for letter in letters) == ["metrics"] * 4 + ["state"]
        series = fake_agents.query(victoria_metrics.url, "fake_seq[1h]")
        sites_of = {(s["metric"]["agent_id"], s["metric"].get("site", "")) for s in series}
        assert sites_of == {("pc-00001", "hq"), ("pc-00002", "branch")}  # no site: the bound one
        with engine.connect() as conn:
            stored = {row.agent_id: row.site for row in presence.agents(conn)}
        assert stored == {"pc-00001": "hq", "pc-00002": "branch"}
        counted = [
            line
            for line in collector.metrics().splitlines()
            if line.startswith("deskwatch_ingest_decode_errors_total{")
        ]
        assert any('reason="site_mismatch"' in line and line.endswith(" 5.0") for line in counted), counted
        log = collector.log()
        # Said once per change of what it claims, not once per message.
        assert log.count("is bound to site 'hq' but names site 'branch': its messages are dead-lettered") == 2
        assert log.count("agent pc-00001 names its bound site 'hq' again") == 1
    finally:
        engine.dispose()
