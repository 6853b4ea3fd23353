"""Ingest on paho's own Client: where lean_paho does not fit the installed paho, or is switched off."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import create_engine

from collector import ingest as ingest_module
from collector import lean_paho
from collector.ingest import PLAIN_PAHO, Ingest, IngestSettings
from collector.selfmetrics import SelfMetrics
from collector.writer import Sink
from tests.collector.conftest import MakeCollector, wait_for_seqs
from tests.support import fake_agents, old_paho
from tests.support.services import REPO, Mosquitto, VictoriaMetrics

WARNING = "lacks what collector/lean_paho.py relies on"


def make_ingest() -> Ingest:
    return Ingest(IngestSettings(), create_engine("sqlite://"), Sink.__new__(Sink), SelfMetrics())


def test_the_installed_paho_has_everything_lean_paho_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PLAIN_PAHO, raising=False)
    assert lean_paho.MISSING == lean_paho.missing() == ()
    assert type(make_ingest()._client) is lean_paho.LeanClient


def test_a_reshaped_paho_is_named_in_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean_paho, "_packet", None)  # as paho 2.1, which decodes in client.py
    plain_init = mqtt.Client.__init__

    def init_without_timestamp(self: mqtt.Client, *args: Any, **kwargs: Any) -> None:
        plain_init(self, *args, **kwargs)
        del self._last_bytes_received  # paho 2.1 calls it _last_msg_in

    monkeypatch.setattr(mqtt.Client, "__init__", init_without_timestamp)

    def queue(self: mqtt.Client, packet: bytes, command: int, mid: int, qos: int) -> None:
        pass  # the same parameters in another order

    monkeypatch.setattr(mqtt.Client, "_packet_queue", queue)
    assert lean_paho.missing() == (
        "paho.mqtt._packet.Properties",
        "Client._packet_queue(command, packet, mid, qos)",
        "Client._last_bytes_received",
    )


def test_ingest_falls_back_to_paho_s_client_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(PLAIN_PAHO, raising=False)
    monkeypatch.setattr(lean_paho, "MISSING", ("Client._last_bytes_received",))
    monkeypatch.setattr(ingest_module, "_said_plain", False)
    with caplog.at_level(logging.WARNING, logger="collector.ingest"):
        first, second = make_ingest(), make_ingest()
    assert type(first._client) is type(second._client) is mqtt.Client
    assert [r.getMessage() for r in caplog.records if WARNING in r.getMessage()] == [
        f"paho-mqtt {paho.mqtt.__version__} {WARNING} "
        "(Client._last_bytes_received): ingest uses paho's own client, at more CPU per message"
    ]


def test_the_switch_chooses_paho_s_client_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(PLAIN_PAHO, "1")
    monkeypatch.setattr(ingest_module, "_said_plain", False)
    with caplog.at_level(logging.WARNING, logger="collector.ingest"):
        assert type(make_ingest()._client) is mqtt.Client
    assert not caplog.records


def test_with_paho_2_1_the_collector_still_ingests(
    make_collector: MakeCollector, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    old = old_paho.path()
    # Its own paho first on the path; lean_paho not switched off, whatever lane runs this.
    collector = make_collector(env={"PYTHONPATH": f"{old}{os.pathsep}{REPO}", PLAIN_PAHO: ""})
    publisher = fake_agents.Publisher(mosquitto.url)
    base_ns = time.time_ns() - 60 * 10**9
    for agent in range(2):
        for seq in range(4):
            publisher.publish(fake_agents.make_batch(agent, seq, base_ns + seq * 10**9, with_state=seq == 0))
    publisher.close()
    expected = {fake_agents.agent_id(a): list(range(4)) for a in range(2)}
    assert wait_for_seqs(victoria_metrics.url, expected) == expected
    assert collector.metric("deskwatch_ingest_batches_total") >= 8
    warnings = [line for line in collector.log().splitlines() if WARNING in line]
    assert len(warnings) == 1, collector.log()[-3000:]
    assert " WARNING collector.ingest: paho-mqtt 2.1.0 " in warnings[0]
    assert "paho.mqtt._packet.Properties" in warnings[0]
