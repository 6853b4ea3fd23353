"""A small office run for real: agents -> Mosquitto -> collector -> VictoriaMetrics, with SNMP devices.

Two agents at two sites. The one at `hq` polls a printer (the Sharp walk) and a modem
(the DrayTek walk) served by snmpsim, and checks TCP and HTTP targets on loopback; the
one at `branch` has SNMP off and an internet target that refuses, so the branch's
internet check fails as a real outage would. Half-way through, both SNMP devices are
served again with moved values (toner used, pages printed, traffic, a reboot), so
rates, forecasts and reboot counts have something to show. The collector's own
/metrics is scraped into VictoriaMetrics the way vmagent would (docs/dashboards.md).

The collector's incidents engine runs as shipped except for its pace (`RULES`): the
branch's internet outage opens an incident that stays open; the printer's low toner
(as recorded in the Sharp walk) opens one that resolves in the second phase, when the
toner is replaced and the paper jams instead, which opens a critical one.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.agent_process import AgentProcess, write_config
from tests.support.collector_process import CollectorProcess
from tests.support.fake_agents import flush_vm, query
from tests.support.services import Mosquitto, VictoriaMetrics, free_port
from tests.support.snmpsim import SnmpSim, walk_paths
from tests.support.waiting import wait_until

PRINTER_WALK = "sharp"
MODEM_WALK = "draytek"
SNMP_COMMUNITY = "public"

# None of the recorded walks has an ADSL-LINE-MIB or DOCS-IF-MIB table, so the modem walk
# gets one DSL line and one cable channel each (index 4, its WAN interface); the values are
# a typical 16 Mbit/s ADSL2+ line and a healthy DOCSIS 3.0 channel, in the MIBs' units. Per
# RFC 2662 the ATU-R (modem) reports what it receives and the ATU-C (exchange) what it
# receives, and each end's channel rate is what it transmits (agent/snmp/xdsl.py).
LINE_QUALITY = {
    "1.3.6.1.2.1.10.94.1.1.3.1.4.4": "2|62",  # adslAturCurrSnrMgn, tenth dB: downstream
    "1.3.6.1.2.1.10.94.1.1.3.1.5.4": "2|215",  # adslAturCurrAtn, tenth dB: downstream
    "1.3.6.1.2.1.10.94.1.1.3.1.8.4": "66|1100000",  # adslAturCurrAttainableRate, bit/s: upstream
    "1.3.6.1.2.1.10.94.1.1.5.1.2.4": "66|1000000",  # adslAturChanCurrTxRate, bit/s: upstream sync
    "1.3.6.1.2.1.10.94.1.1.2.1.4.4": "2|90",  # adslAtucCurrSnrMgn, tenth dB: upstream
    "1.3.6.1.2.1.10.94.1.1.2.1.5.4": "2|120",  # adslAtucCurrAtn, tenth dB: upstream
    "1.3.6.1.2.1.10.94.1.1.2.1.8.4": "66|18500000",  # adslAtucCurrAttainableRate, bit/s: downstream
    "1.3.6.1.2.1.10.94.1.1.4.1.2.4": "66|16000000",  # adslAtucChanCurrTxRate, bit/s: downstream sync
    "1.3.6.1.2.1.10.127.1.1.1.1.2.4": "2|602000000",  # docsIfDownChannelFrequency, Hz
    "1.3.6.1.2.1.10.127.1.1.1.1.6.4": "2|35",  # docsIfDownChannelPower, tenth dBmV
    "1.3.6.1.2.1.10.127.1.1.4.1.5.4": "2|385",  # docsIfSigQSignalNoise, tenth dB
    "1.3.6.1.2.1.10.127.1.2.2.1.3.4": "2|420",  # docsIfCmStatusTxPower, tenth dBmV
}
# The second half: the printer used toner and printed pages, its magenta cartridge (at 19 %,
# what its low-toner warning was about) was replaced, the warning is gone and its paper
# jammed; the modem rebooted (sysUpTime back to 10 s) and moved traffic.
PRINTER_LATER = {
    "1.3.6.1.2.1.25.3.5.1.2.1": "4x|0400",  # hrPrinterDetectedErrorState: jammed, was lowToner (2000)
    "1.3.6.1.2.1.43.11.1.1.9.1.1": "2|50",  # prtMarkerSuppliesLevel, was 55
    "1.3.6.1.2.1.43.11.1.1.9.1.2": "2|100",  # prtMarkerSuppliesLevel magenta, was 19: replaced
    "1.3.6.1.2.1.43.10.2.1.4.1.1": "65|121304",  # prtMarkerLifeCount, was 121104
}
MODEM_LATER = {
    "1.3.6.1.2.1.1.3.0": "67|1000",  # sysUpTime, TimeTicks: 10 s after a reboot
    "1.3.6.1.2.1.2.2.1.10.1": "65|2633046322",  # ifInOctets.1, 10 MB more
    "1.3.6.1.2.1.2.2.1.16.1": "65|731527397",  # ifOutOctets.1, 10 MB more
}
# Rules at the proof's pace: a cycle of 0.5 s instead of 30 s and two clear cycles, so an
# incident opens and resolves within the run. With one agent per site there are no
# neighbours to wait for, so a failing network check opens at once.
CYCLE_SECONDS = 0.5
RULES = f"""
[incidents]
cycle_seconds = {CYCLE_SECONDS}
clear_cycles = 2
[correlation]
hold_down_seconds = 0
"""


@dataclass
class Office:
    """Everything that runs, and what the proof needs to know about it."""

    workdir: Path
    broker: Mosquitto
    vm: VictoriaMetrics
    collector: CollectorProcess
    started: float = 0.0
    agents: list[AgentProcess] = field(default_factory=list)
    sims: dict[str, SnmpSim] = field(default_factory=dict)
    _stop_scrape: threading.Event = field(default_factory=threading.Event)

    def scrape_collector(self) -> None:
        """What vmagent does in production: /metrics of the collector into VictoriaMetrics."""
        target = f"{self.vm.url}/api/v1/import/prometheus?extra_label=job=deskwatch-collector"
        target += f"&extra_label=instance=127.0.0.1:{self.collector.port}"
        while not self._stop_scrape.wait(0.5):
            with contextlib.suppress(OSError):
                body = self.collector.metrics().encode()
                request = urllib.request.Request(target, data=body, method="POST")
                with urllib.request.urlopen(request, timeout=5):
                    pass

    def serve(self, name: str, walk: str, replace: dict[str, str], port: int | None = None) -> SnmpSim:
        sim = SnmpSim(port=port)
        sim.add_walk(walk_paths()[walk], community=SNMP_COMMUNITY, replace=replace)
        sim.start()
        self.sims[name] = sim
        return sim


def _agent(office: Office, agent_id: str, site: str, network: str | None = None) -> AgentProcess:
    """An agent process; `network` replaces write_config's loopback [network]/[snmp] sections."""
    workdir = office.workdir / agent_id
    workdir.mkdir()
    config = write_config(
        workdir / "agent.toml",
        agent_id=agent_id,
        broker=office.broker.url,
        spool=workdir / "spool.db",
        interval=0.5,
        gateway_port=office.broker.port,
    )
    text = config.read_text().replace('site = "test"', f'site = "{site}"')
    if network is not None:
        # A TOML table may appear only once, so hq's sections replace the defaults whole.
        text = text[: text.index("[network]")] + network
    config.write_text(text)
    return AgentProcess(config, workdir / "agent.log").start()


def _publish_malformed(port: int) -> None:
    """One payload that is not JSON, so decode errors have a real series (and a dead letter)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish("deskwatch/v1/pc-broken/metrics", b"\x00not json", qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


@contextlib.contextmanager
def office(workdir: Path, phase_seconds: float = 6.0) -> Iterator[Office]:
    """Run the office for two phases of `phase_seconds`, then yield it (still running) for queries."""
    broker = Mosquitto(workdir / "mosquitto")
    vm = VictoriaMetrics(workdir / "vm")
    broker.start()
    vm.start()
    rules = workdir / "rules.toml"
    rules.write_text(RULES)
    collector = CollectorProcess(
        workdir / "collector", broker.url, vm.url, extra=f'[incidents]\nrules_file = "{rules}"\n'
    )
    run = Office(workdir, broker, vm, collector)
    scraper = threading.Thread(target=run.scrape_collector, name="scrape", daemon=True)
    try:
        collector.start()
        run.started = time.time()
        scraper.start()
        printer = run.serve("printer", PRINTER_WALK, {})
        modem = run.serve("modem", MODEM_WALK, LINE_QUALITY)
        hq_network = f"""[network]
gateway = "127.0.0.1"
gateway_ports = [{broker.port}]
dns_names = ["localhost"]
tcp_targets = ["127.0.0.1:{broker.port}"]
http_targets = ["{collector.url}/healthz"]
internet_targets = ["127.0.0.1:{broker.port}"]
timeout_seconds = 1.0
[snmp]
enabled = true
interval_seconds = 1
timeout_seconds = 1
retries = 0
backoff_max_seconds = 1
device_urls = ["snmp://{SNMP_COMMUNITY}@127.0.0.1:{printer.port}", "snmp://{SNMP_COMMUNITY}@127.0.0.1:{modem.port}"]
[snmp.discovery]
cups = false
windows_spooler = false
## a router with SNMP off (nothing answers SNMP at that loopback address): not monitored
gateway = true
gateway_address = "127.0.0.77"
"""
        run.agents.append(_agent(run, "pc-hq-1", "hq", hq_network))
        # Nothing listens on the branch's internet target: its line is down.
        branch_network = f"""[network]
gateway = "127.0.0.1"
gateway_ports = [{broker.port}]
dns_names = ["localhost"]
internet_targets = ["127.0.0.1:{free_port()}"]
timeout_seconds = 1.0
[snmp]
enabled = false
"""
        run.agents.append(_agent(run, "pc-branch-1", "branch", branch_network))
        _publish_malformed(broker.port)
        time.sleep(phase_seconds)  # the first phase runs this long: a fixed time is the scenario

        # Second phase: the devices answer again with moved values, on the same ports.
        for name, walk, later in (
            ("printer", PRINTER_WALK, PRINTER_LATER),
            ("modem", MODEM_WALK, {**LINE_QUALITY, **MODEM_LATER}),
        ):
            port = run.sims[name].port
            run.sims.pop(name).stop()
            run.serve(name, walk, later, port=port)

        # A short VictoriaMetrics outage: the writer counts failed writes and buffers on disk.
        vm.stop()
        wait_until(
            lambda: collector.metric("deskwatch_writer_write_errors_total") > 0,
            timeout=30,
            interval=0.2,
            what="the collector to see a failed write",
        )
        vm.start()
        time.sleep(phase_seconds)  # the second phase runs this long: a fixed time is the scenario
        wait_until(
            lambda: collector.metric("deskwatch_incidents_resolved_total") > 0,
            timeout=30,
            interval=0.2,
            what="the printer's low-toner incident to resolve",
        )

        # The cycle that resolved it writes the incident figures right after.
        def resolved_stored() -> bool:
            flush_vm(vm.url)
            return bool(query(vm.url, "incidents_resolved_total > 0"))

        wait_until(resolved_stored, timeout=30, interval=0.2, what="the resolved incident's figures stored")
        yield run
    finally:
        run._stop_scrape.set()
        for agent in run.agents:
            agent.cleanup()
        for sim in run.sims.values():
            sim.stop()
        collector.kill()
        vm.stop()
        broker.stop()
