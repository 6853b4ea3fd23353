"""The whole system as an office would run it: three agents, a printer, a modem, the stack.

Three real agent processes poll the same simulated Sharp printer (whose recorded walk
says "toner low": hrPrinterDetectedErrorState 0x20) and a DrayTek modem served by
snmpsim, and publish through a real Mosquitto to a real collector writing to a real
VictoriaMetrics. Expected: exactly one incident for the printer, keyed by its serial,
with its knowledge-base article, delivered once to a helpdesk webhook; when the printer
is served again with the toner replaced, the incident resolves and the webhook hears so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.incidents.test_notify import SECRET, Receiver
from tests.support import fake_agents
from tests.support.agent_process import AgentProcess, snmp_section, write_config
from tests.support.collector_process import CollectorProcess, create_token
from tests.support.services import Mosquitto, VictoriaMetrics, free_port
from tests.support.snmpsim import SnmpSim, walk_paths
from tests.support.stored import FAULT_REPORT
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
SHARP_SERIAL = "6509415X00"  # prtGeneralSerialNumber in the Sharp walk
ERROR_STATE = "1.3.6.1.2.1.25.3.5.1.2.1"  # hrPrinterDetectedErrorState of hrDevice 1


MAGENTA_LEVEL = "1.3.6.1.2.1.43.11.1.1.9.1.2"  # prtMarkerSuppliesLevel of the magenta toner: 19 %


def _serve_printer(sim: SnmpSim, toner_low: bool) -> None:
    # The toner the printer's warning is about is the magenta at 19 %: replaced, it reads 100.
    fresh = {ERROR_STATE: "4x|0000", MAGENTA_LEVEL: "2|100"}
    sim.add_walk(walk_paths()["sharp"], "sharp", None if toner_low else fresh)


def test_toner_low_opens_one_incident_and_resolves_when_replaced(
    tmp_path: Path, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    receiver = Receiver(free_port())
    receiver.start()
    # One simulator per device: the agent polls one device per address, as in an office.
    sim, modem = SnmpSim(), SnmpSim()
    _serve_printer(sim, toner_low=True)
    modem.add_walk(walk_paths()["draytek"], "draytek")
    sim.start()
    modem.start()
    rules = tmp_path / "rules.toml"
    rules.write_text("[incidents]\ncycle_seconds = 1\nclear_cycles = 2\n")
    db = f"sqlite:///{tmp_path / 'collector.db'}"
    collector = CollectorProcess(
        tmp_path / "collector",
        mosquitto.url,
        victoria_metrics.url,
        group="",
        db_url=db,
        env={"E2E_WEBHOOK_SECRET": SECRET.decode()},
        extra=(
            f'[incidents]\nrules_file = "{rules}"\nnotify_interval_seconds = 0.2\n'
            f"[incidents.retry]\nfirst_delay_seconds = 0.2\n"
            f'[incidents.webhooks.helpdesk]\nurl = "http://127.0.0.1:{receiver.port}/hook"\n'
            'secret_env = "E2E_WEBHOOK_SECRET"\n'
        ),
    )
    agents: list[AgentProcess] = []
    api = httpx.Client(base_url=collector.url, timeout=10)
    try:
        collector.start()
        token = create_token(db, "helpdesk")
        api.headers["Authorization"] = f"Bearer {token}"
        devices = [f"snmp://sharp@127.0.0.1:{sim.port}", f"snmp://draytek@127.0.0.1:{modem.port}"]
        for n in range(3):
            config = write_config(
                tmp_path / f"pc-{n}.toml",
                agent_id=f"pc-e2e-{n}",
                broker=mosquitto.url,
                spool=tmp_path / f"pc-{n}.db",
                interval=1,
                snmp=snmp_section(devices),
                gateway_port=mosquitto.port,  # gateway, DNS and internet checks pass: the office is fine
            )
            agents.append(AgentProcess(config, tmp_path / f"pc-{n}.log").start())

        def all_incidents() -> list[dict[str, Any]]:
            rows = api.get("/api/v1/incidents", params={"limit": 200}).json()
            items: list[dict[str, Any]] = rows["items"] if isinstance(rows, dict) else rows
            return items

        def printer_incidents() -> list[dict[str, Any]]:
            return [i for i in all_incidents() if SHARP_SERIAL in i["key"] and i["condition"] == "supply_low"]

        wait_until(
            all_incidents,
            done=lambda items: any(
                SHARP_SERIAL in i["key"] and i["condition"] == "supply_low" for i in items
            ),
            timeout=60,
            interval=0.5,
            what="toner incident",
        )
        opened = printer_incidents()
        time.sleep(3)  # a fixed time: more rounds from all three agents, and still one incident
        found = printer_incidents()
        assert len(found) == 1, found
        incident = api.get(f"/api/v1/incidents/{found[0]['id']}").json()
        assert incident["status"] == "open"
        articles = incident.get("articles") or incident.get("kb") or []
        assert any("toner" in (a.get("title", "") + a.get("slug", "")).lower() for a in articles), incident
        wait_until(
            lambda: [e for e, doc, _ in receiver.received if doc["incident"]["id"] == opened[0]["id"]],
            done=lambda events: "opened" in " ".join(events),
            timeout=60,
            interval=0.5,
            what="webhook opened",
        )

        # A viewer may look a caller up but not run diagnostics on their PC.
        viewer = create_token(db, "viewer")
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        found_pc = api.get("/api/v1/lookup", params={"q": "pc-e2e-1"}, headers=as_viewer)
        assert found_pc.status_code == 200 and "pc-e2e-1" in found_pc.text
        denied = api.post("/api/v1/agents/pc-e2e-1/diagnostics", json={"check": "memory"}, headers=as_viewer)
        assert denied.status_code == 403

        # Management's report carries the fleet's inventory: three PCs, their OS, their software.
        csv_report = api.get("/api/v1/reports", params={"format": "csv"}).text
        assert "fleet,pcs,3" in csv_report.replace("\r", "")
        assert "fleet.os_version," in csv_report and "fleet.software_version," in csv_report
        assert (
            "Software versions across the fleet" in api.get("/api/v1/reports", params={"format": "html"}).text
        )

        # The incident figures reach VictoriaMetrics too, labelled with the incident's site.
        def open_printer_incidents() -> list[dict[str, Any]]:
            fake_agents.flush_vm(victoria_metrics.url)
            return fake_agents.query(victoria_metrics.url, 'incidents_open{category="supply",site="test"}')

        wait_until(
            open_printer_incidents,
            done=lambda rows: any(float(r["value"][1]) == 1 for r in rows),
            timeout=60,
            interval=0.5,
            what="metric",
        )

        # Fresh toner: the printer is served again without the low-toner bit.
        sim.stop()
        sim = SnmpSim(port=sim.port)  # the same printer, same address, fresh toner
        _serve_printer(sim, toner_low=False)
        sim.start()
        resolved = wait_until(
            lambda: api.get(f"/api/v1/incidents/{found[0]['id']}").json(),
            done=lambda doc: doc["status"] == "resolved",
            timeout=90,
            interval=0.5,
            what="resolution",
        )
        assert resolved["status"] == "resolved"
        events = wait_until(
            lambda: [e for e, doc, _ in receiver.received if doc["incident"]["id"] == found[0]["id"]],
            done=lambda ev: any("resolved" in e for e in ev),
            timeout=60,
            interval=0.5,
            what="webhook resolved",
        )
        assert all(good for _, _, good in receiver.received), "a webhook signature did not verify"
        assert sum("opened" in e for e in events) == 1
        assert len(printer_incidents()) == 1  # resolved, not duplicated

        def resolved_total() -> float:
            fake_agents.flush_vm(victoria_metrics.url)
            rows = fake_agents.query(victoria_metrics.url, 'incidents_resolved_total{category="supply"}')
            return max((float(r["value"][1]) for r in rows), default=0.0)

        wait_until(
            resolved_total,
            done=lambda total: total >= 1,
            timeout=60,
            interval=0.5,
            what="incidents_resolved_total",
        )

        # The printer's figures reached VictoriaMetrics, keyed by the serial, from the agents.
        fake_agents.flush_vm(victoria_metrics.url)
        supplies = fake_agents.query(victoria_metrics.url, f'printer_supply_level{{device="{SHARP_SERIAL}"}}')
        assert supplies and {r["metric"]["agent_id"] for r in supplies} <= {f"pc-e2e-{n}" for n in range(3)}
        FAULT_REPORT.append(
            f"end to end: 3 agents, 1 printer low on toner -> {len(found)} incident, webhook events {events}"
        )
    finally:
        api.close()
        for agent in agents:
            agent.cleanup()
        collector.kill()
        sim.stop()
        modem.stop()
        receiver.stop()
