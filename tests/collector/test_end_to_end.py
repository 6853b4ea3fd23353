"""Agent -> broker -> collector -> VictoriaMetrics, queried back with PromQL."""

from __future__ import annotations

import time

import pytest

from tests.collector.conftest import MakeCollector, wait_for_seqs
from tests.support import fake_agents
from tests.support.collector_process import CollectorProcess
from tests.support.services import Mosquitto, VictoriaMetrics


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
