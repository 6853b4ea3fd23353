"""An office for the ticket scenarios: a real broker, VictoriaMetrics, collector, snmpsim printers
and real agent processes, with rules sped up (cycles of half a second) and the API to ask
which tickets are open.

The rules file only changes timings and the disk mark (so the test machine's real disk
counts as "full"); every decision is the shipped rules'.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent import protocol
from agent.protocol import AgentFacts, Batch, Kind, Presence, Sample
from agent.sources import host
from tests.support.agent_process import AgentProcess, write_config
from tests.support.collector_process import CollectorProcess, create_token
from tests.support.services import Mosquitto, VictoriaMetrics
from tests.support.snmpsim import SnmpSim, walk_paths
from tests.support.waiting import wait_until

SHARP = "6509415X00"  # prtGeneralSerialNumber of the recorded Sharp
SUPPLY_LEVEL = "1.3.6.1.2.1.43.11.1.1.9.1"  # prtMarkerSuppliesLevel.1.<supply>
ERROR_STATE = "1.3.6.1.2.1.25.3.5.1.2.1"  # hrPrinterDetectedErrorState of hrDevice 1
BLACK, MAGENTA = 4, 2  # supply indexes in the Sharp's prtMarkerSuppliesTable
SILENT_GATEWAY = "127.0.0.77"  # loopback, nothing answers SNMP there: a router with SNMP off
CYCLE = 0.5

# The machine's own mounts: each agent keeps only the first, so "two PCs with the same mount"
# are exactly two disk tickets whatever else this machine has mounted.
MOUNTS = [s.tags["mount"] for s in host._disks(frozenset(), 0)]

RULES = f"""
[incidents]
cycle_seconds = {CYCLE}
clear_cycles = 2
[correlation]
site_min_agents = 2
hold_down_seconds = 4
[agent_lost]
# these offices are at work at any hour, so a test run at night sees lost agents too
working_hours = "always"
grace_seconds = 1
hold_down_seconds = 0
[trust]
stale_seconds = 20
"""
# Added for the disk scenario only: the shipped disk_full with a mark this machine's disk is over.
FULL_DISKS = """
[[threshold]]
## the shipped disk_full with a mark the test machine's disk is always over
name = "disk_full"
measurement = "disk"
field = "used_percent"
above = 0.01
clear_below = 0.005
min_duration_seconds = 0
severity = "critical"
key_tags = ["mount"]
summary = "disk {mount} at {value:.0f} %"
"""


def sharp(*, black: int = 60, magenta: int = 60, low_toner_bit: bool = False) -> dict[str, str]:
    """Edits of the recorded Sharp: its toner levels and whether it raises its own low-toner bit."""
    return {
        f"{SUPPLY_LEVEL}.{BLACK}": f"2|{black}",
        f"{SUPPLY_LEVEL}.{MAGENTA}": f"2|{magenta}",
        ERROR_STATE: "4x|2000" if low_toner_bit else "4x|0000",  # 0x20 00: lowToner
    }


class Gateway:
    """The site's router as the agents' gateway check sees it: a TCP port on loopback.

    `down()` makes it a router that died: connections hang (its accept queue is full and it
    takes none), the way a dead router's address times out. A closed port would not do: a
    refused connection proves the host is there.
    """

    BACKLOG = 16

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(self.BACKLOG)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._up = threading.Event()
        self._downs = 0  # how often down() was called
        self._idle_after = 0  # as many as the accept loop had seen when it last found the gateway down
        self._closed = threading.Event()
        self._fillers: list[socket.socket] = []
        self._up.set()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            if not self._up.is_set():
                self._idle_after = self._downs
                self._up.wait(0.1)
                continue
            with contextlib.suppress(OSError):
                conn, _ = self._sock.accept()
                conn.close()

    def down(self) -> None:
        self._up.clear()
        self._downs += 1
        downs = self._downs
        wait_until(
            lambda: self._idle_after == downs, what="the gateway's accept loop to stop taking connections"
        )
        for _ in range(self.BACKLOG * 3):  # fill the queue: from now on SYNs get no answer
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self._fillers.append(filler)

    def up(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._fillers.clear()
        self._up.set()

    def close(self) -> None:
        self._closed.set()
        self.up()
        self._sock.close()


@dataclass
class Office:
    """The running office and the helpdesk's view of it."""

    workdir: Path
    broker: Mosquitto
    vm: VictoriaMetrics
    collector: CollectorProcess
    gateway: Gateway
    token: str = ""
    agents: dict[str, AgentProcess] = field(default_factory=dict)
    printers: dict[str, SnmpSim] = field(default_factory=dict)
    laptops: list[SimulatedPc] = field(default_factory=list)

    @property
    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.collector.url}/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def printer(self, name: str, edits: dict[str, str], port: int | None = None) -> SnmpSim:
        sim = SnmpSim(port=port)
        sim.add_walk(walk_paths()["sharp"], "sharp", edits)
        sim.start()
        self.printers[name] = sim
        return sim

    def silence_printer(self, name: str) -> int:
        """The printer stops answering (switched off, network cable out); returns its port."""
        sim = self.printers.pop(name)
        port = sim.port
        sim.stop()
        return port

    def agent(
        self,
        agent_id: str,
        *,
        site: str = "office",
        printers: tuple[str, ...] = (),
        discover_gateway: bool = False,
        extra: str = "",
        command_key: str = "",
    ) -> AgentProcess:
        """A real agent process: gateway, DNS and internet checks on loopback, the named printers
        by --device URL, and (if asked) SNMP discovery of a gateway that never answers SNMP."""
        workdir = self.workdir / agent_id
        workdir.mkdir()
        urls = ", ".join(f'"snmp://sharp@127.0.0.1:{self.printers[p].port}"' for p in printers)
        ignore = ", ".join(f'"{m}"' for m in MOUNTS[1:])
        config = write_config(
            workdir / "agent.toml",
            agent_id=agent_id,
            broker=self.broker.url,
            spool=workdir / "spool.db",
            interval=1.0,
            gateway_port=self.gateway.port,  # the gateway and the internet are the site's way out
            snmp=(
                "[snmp]\nenabled = true\ninterval_seconds = 1\ntimeout_seconds = 1\nretries = 0\n"
                f"backoff_max_seconds = 1\ndevice_urls = [{urls}]\n"
                "[snmp.discovery]\ncups = false\nwindows_spooler = false\n"
                f'gateway = {str(discover_gateway).lower()}\ngateway_address = "{SILENT_GATEWAY}"\n'
            ),
            extra=extra,
        )
        text = config.read_text().replace('site = "test"', f'site = "{site}"')
        if command_key:  # the collector's public key: the agent runs the helpdesk's checks
            text = f'command_key = "{command_key}"\n' + text
        text = text.replace("[host]\n", f"[host]\nignore_mounts = [{ignore}]\n")
        config.write_text(text)
        agent = AgentProcess(config, workdir / "agent.log").start()
        self.agents[agent_id] = agent
        return agent

    def open_tickets(self, queue: bool = True) -> dict[str, dict[str, Any]]:
        """Open or acknowledged incidents by dedup key: the helpdesk's queue, or (queue=False)
        also those silenced or explained by another incident, which the queue hides."""
        params: dict[str, Any] = {"status": ["open", "acknowledged"], "limit": 500}
        if queue:
            params["quiet"] = "false"
        with self.api as api:
            page = api.get("/incidents", params=params).json()
        return {i["key"]: i for i in page["items"]}

    def wait_for_tickets(
        self,
        keys: set[str],
        timeout: float = 45.0,
        settle: float = 3.0,
        queue: bool = True,
        hidden: frozenset[str] | None = frozenset(),
    ) -> dict[str, dict[str, Any]]:
        """Wait until the open tickets are exactly `keys`, and still are `settle` s later.

        With the queue (the default) the tickets out of it, silenced or explained by another,
        must then be exactly `hidden` (none unless told; None: not checked here), so nothing
        extra can open where the helpdesk would not see it."""
        wait_until(
            lambda: sorted(self.open_tickets(queue)),
            done=lambda seen: set(seen) == keys,
            timeout=timeout,
            interval=0.3,
            what=lambda: f"open tickets {sorted(keys)}\n{self.collector.log()[-3000:]}",
        )
        time.sleep(settle)  # the scenario: nothing more may open in this long
        tickets = self.open_tickets(queue)
        assert set(tickets) == keys, f"more opened after settling: {set(tickets) - keys}"
        if queue and hidden is not None:
            out_of_queue = set(self.open_tickets(queue=False)) - keys
            assert out_of_queue == hidden, f"open out of the queue: {sorted(out_of_queue)}"
        return tickets

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 45.0) -> None:
        wait_until(
            check, timeout=timeout, interval=0.3, what=lambda: f"{what}\n{self.collector.log()[-3000:]}"
        )


@contextlib.contextmanager
def office(
    workdir: Path, rules: str = RULES, collector_extra: str = "", env: dict[str, str] | None = None
) -> Iterator[Office]:
    """Broker, VictoriaMetrics, the site's gateway and a collector with the sped-up rules."""
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(Mosquitto(workdir / "mosquitto"))
        vm = stack.enter_context(VictoriaMetrics(workdir / "vm"))
        gateway = Gateway()
        stack.callback(gateway.close)
        (workdir / "rules.toml").write_text(rules)
        db = f"sqlite:///{workdir / 'collector.db'}"
        collector = CollectorProcess(
            workdir / "collector",
            broker.url,
            vm.url,
            group="",
            db_url=db,
            extra=f'[incidents]\nrules_file = "{workdir / "rules.toml"}"\n{collector_extra}',
            env=env,
        )
        collector.start()
        stack.callback(collector.kill)
        run = Office(workdir, broker, vm, collector, gateway, create_token(db, "helpdesk"))
        stack.callback(lambda: [a.cleanup() for a in run.agents.values()])
        stack.callback(lambda: [s.stop() for s in run.printers.values()])
        stack.callback(lambda: [pc.close() for pc in run.laptops])
        yield run


class SimulatedPc:
    """A PC at the protocol level: its own MQTT connection with the agent's Last Will, a birth
    and a batch; `vanish()` drops the connection without a word, as a closed lid does.

    For laptops: this machine has no battery for a real agent to find, and thirty agent
    processes would take more memory than the test machine should give one test.
    """

    def __init__(
        self,
        broker: Mosquitto,
        agent_id: str,
        site: str,
        battery: bool,
        clock_ns: int = 0,
        always_on: bool = False,
    ) -> None:
        self.agent_id = agent_id
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"deskwatch-agent-{agent_id}", protocol=mqtt.MQTTv5
        )
        state = protocol.topic(protocol.DEFAULT_PREFIX, agent_id, Kind.STATE)
        will = Presence(
            v=protocol.PROTOCOL_VERSION, agent_id=agent_id, status="offline", site=site, reason="lost"
        )
        self.client.will_set(state, protocol.encode(will), qos=1, retain=True)
        self.client.connect("127.0.0.1", broker.port, keepalive=30)
        self.client.loop_start()
        now = time.time_ns() + clock_ns  # clock_ns: how far this PC's clock is off
        facts = AgentFacts("test", agent_id, "Windows 11", 30.0, now, battery=battery, always_on=always_on)
        birth = Presence(
            v=protocol.PROTOCOL_VERSION,
            agent_id=agent_id,
            status="online",
            time_ns=now,
            site=site,
            facts=facts,
        )
        self.client.publish(state, protocol.encode(birth), qos=1, retain=True).wait_for_publish(10)
        batch = Batch(
            v=protocol.PROTOCOL_VERSION,
            agent_id=agent_id,
            seq=1,
            created_ns=now,
            site=site,
            samples=[Sample("cpu", {"used_percent": 12.0}, time_ns=now)],
        )
        metrics = protocol.topic(protocol.DEFAULT_PREFIX, agent_id, Kind.METRICS)
        self.client.publish(metrics, protocol.encode(batch), qos=1).wait_for_publish(10)

    def publish(self, batch: Batch) -> None:
        """One batch as this PC, acknowledged by the broker."""
        metrics = protocol.topic(protocol.DEFAULT_PREFIX, self.agent_id, Kind.METRICS)
        self.client.publish(metrics, protocol.encode(batch), qos=1).wait_for_publish(30)

    def vanish(self) -> None:
        """Close the TCP connection with no MQTT DISCONNECT: the broker publishes the Last Will."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.loop_stop()
