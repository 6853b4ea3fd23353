"""Real agent on this machine -> real Mosquitto -> real collector -> the lookup API.

The agent reads this machine's own package database alongside a fake one the test
edits, and its OS files (DMI serial, logged-in users, CUPS) from a recorded tree: this
machine has no DMI and no utmp, and the test must know the serial and user to look for.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion

from agent import protocol
from collector import helpdesk_cli
from collector.api import lookup as lookup_api
from collector.auth.tokens import TokenStore
from collector.db import make_engine
from collector.http import Server, provide
from collector.incidents.store import IncidentStore
from collector.inventory.diff import ChangeKind
from collector.inventory.lookup import Sources
from collector.inventory.store import InventoryStore
from tests.inventory.fake_tree import SERIAL, USER, make_tree, write_packages
from tests.support.agent_process import AgentProcess, write_config
from tests.support.collector_process import CollectorProcess
from tests.support.services import Mosquitto, VictoriaMetrics, free_port, wait_for_port
from tests.support.waiting import wait_until

AGENT = "inv-pc-1"


@pytest.fixture
def running(
    tmp_path: Path, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> Iterator[tuple[CollectorProcess, Path]]:
    """A collector and an agent whose inventory reads a fake tree and a fake package database."""
    root = make_tree(tmp_path / "root")
    fake = tmp_path / "pkgs"
    write_packages(fake, {"zz-old-office": "7.4.7-1", "zz-kept": "1.0"})
    collector = CollectorProcess(tmp_path / "collector", mosquitto.url, victoria_metrics.url)
    collector.start()
    config = write_config(
        tmp_path / "agent.toml",
        agent_id=AGENT,
        broker=mosquitto.url,
        spool=tmp_path / "spool.db",
        interval=5.0,
        extra=f'[inventory]\ninterval_seconds = 0.5\nroot = "{root}"\npackage_roots = ["/", "{fake}"]\n',
    )
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        yield collector, fake
    finally:
        agent.cleanup()
        collector.kill()


def test_inventory_reaches_the_collector_history_and_lookup(
    running: tuple[CollectorProcess, Path], mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    collector, fake = running
    engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
    inventories = InventoryStore(engine)

    stored = wait_until(
        lambda: inventories.latest(AGENT), timeout=30, interval=0.2, what="the first inventory"
    )
    assert stored is not None
    names = {p.name for p in stored.inventory.software}
    assert {"zz-old-office", "zz-kept"} <= names
    if Path("/var/lib/dpkg/status").exists():
        assert "dpkg" in names  # this machine's real database, alongside the fake one
    assert stored.inventory.hardware.serial == SERIAL and stored.inventory.users == [USER]

    # The user upgrades: the old office build goes, a new tool comes; the agent notices within 0.5 s.
    write_packages(fake, {"zz-kept": "1.0", "zz-new-tool": "2.0"}, removed=("zz-old-office",))

    def changed() -> list[tuple[ChangeKind, str]] | None:
        seen = [(h.kind, h.subject) for h in inventories.history(AGENT) if h.subject.startswith("zz-")]
        return seen if len(seen) >= 2 else None

    assert sorted(wait_until(changed, timeout=30, interval=0.2, what="the change history") or []) == [
        (ChangeKind.INSTALLED, "zz-new-tool"),
        (ChangeKind.REMOVED, "zz-old-office"),
    ]

    # One lookup API over the collector's store, as the helpdesk calls it.
    incidents = IncidentStore(engine)
    tokens = TokenStore(engine)
    viewer = tokens.create("viewer", "viewer-user", 1)
    app = FastAPI()
    provide(app, tokens, Sources(inventories, incidents))
    app.include_router(lookup_api.router)
    port = free_port()
    server = Server(app, "127.0.0.1", port)  # a real uvicorn, as the collector serves the API
    server.start()
    wait_for_port(port)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
    headers = {"Authorization": f"Bearer {viewer}"}
    assert client.get("/api/v1/lookup", params={"q": USER}).status_code == 401

    address = next(a for i in stored.inventory.network.interfaces for a in i.addresses)
    for query, key in (
        (socket.gethostname(), "agent" if socket.gethostname() == AGENT else "host"),
        (USER, "user"),
        (address, "ip"),
        (SERIAL.lower(), "serial"),
        (AGENT, "agent"),
    ):
        answer = client.get("/api/v1/lookup", params={"q": query}, headers=headers).json()
        assert answer["result"] == "found", (query, answer)
        pc = answer["pc"]
        assert pc["agent_id"] == AGENT and pc["matched_by"].startswith(key), (query, pc["matched_by"])
    assert pc["status"] == "online" and pc["hardware"]["serial"] == SERIAL
    assert pc["printers"][0]["name"] == "reception" and pc["uptime_seconds"] > 0
    assert sorted(
        c["subject"] for c in pc["software"]["recent_changes"] if c["subject"].startswith("zz-")
    ) == ["zz-new-tool", "zz-old-office"]
    assert list(pc)[5:7] == ["open_incidents", "failing_checks"]  # most urgent first

    unknown = client.get("/api/lookup", params={"q": "no-such-caller"}, headers=headers)
    assert unknown.status_code == 200
    assert unknown.json() == {
        "query": "no-such-caller",
        "result": "unknown",
        "message": "no PC, user, address or serial matches 'no-such-caller'",
        "candidates": [],
        "pc": None,
        "device": None,
    }

    # The same through the CLI, as a person at the helpdesk types it.
    cli = ["--api", f"http://127.0.0.1:{port}", "--token", viewer, "whois"]
    assert helpdesk_cli.main([*cli, SERIAL]) == 0
    screen = capsys.readouterr().out
    assert screen.startswith(f"{AGENT} (") and "no open incidents" in screen.splitlines()[1]
    assert f"serial {SERIAL}" in screen and "installed  zz-new-tool 2.0" in screen and USER in screen
    assert helpdesk_cli.main([*cli, USER, "--json"]) == 0
    assert msgspec.json.decode(capsys.readouterr().out)["pc"]["agent_id"] == AGENT
    assert helpdesk_cli.main([*cli, "no-such-caller"]) == 0
    assert capsys.readouterr().out.strip() == "no PC, user, address or serial matches 'no-such-caller'"

    # An oversize birth (an agent that skipped the bounds) is dead-lettered with the reason, and
    # the inventory stored before stays.
    big = protocol.Inventory(
        collected_ns=time.time_ns(),
        software=[protocol.Package(f"pkg-{i:06d}", "1.0" * 20) for i in range(5_000)],
    )
    payload = protocol.encode(protocol.Presence(v=1, agent_id=AGENT, status="online", inventory=big))
    assert len(payload) > protocol.MAX_PAYLOAD_BYTES
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    publisher.publish(protocol.topic(protocol.DEFAULT_PREFIX, AGENT, protocol.Kind.STATE), payload, qos=1)
    wait_until(
        lambda: collector.metric('deskwatch_ingest_decode_errors_total{reason="too_large"}') >= 1,
        timeout=30,
        interval=0.2,
        what="the oversize birth to be rejected",
    )
    publisher.loop_stop()
    publisher.disconnect()
    client.close()
    server.stop()
    latest = inventories.latest(AGENT)
    assert latest is not None and "zz-new-tool" in {p.name for p in latest.inventory.software}
    assert msgspec.json.decode(payload)["inventory"]["software"][0][0] == "pkg-000000"
