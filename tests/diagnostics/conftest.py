"""One broker, one SNMP simulator, loopback targets and one real agent process per test module."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.agent_process import AgentProcess, write_config
from tests.support.commands import Commander, make_command, public_key_text, sign
from tests.support.local_targets import DnsTarget, HttpTarget
from tests.support.services import Mosquitto, free_port
from tests.support.snmpsim import SnmpSim, walk_paths
from tests.support.waiting import wait_until


@dataclass
class DiagEnv:
    broker: Mosquitto
    key: Ed25519PrivateKey
    http: HttpTarget
    dns: DnsTarget
    snmp_port: int
    agent_id: str
    agent: AgentProcess
    log: Path
    commander: Commander
    closed_port: int


def agent_config(
    path: Path, *, agent_id: str, broker: str, key_text: str, snmp_port: int | None = None, commands: str = ""
) -> Path:
    """write_config's loopback-only agent, with the command key and (optionally) a printer and a modem."""
    snmp = (
        f'device_urls = ["snmp://brother@127.0.0.1:{snmp_port}", "snmp://draytek@127.0.0.1:{snmp_port}"]\n'
        if snmp_port
        else ""
    )
    write_config(
        path, agent_id=agent_id, broker=broker, spool=path.with_suffix(".spool"), interval=5, extra=snmp
    )
    text = path.read_text()
    # top-level keys must come before the first table
    path.write_text(f'command_key = "{key_text}"\n' + text + (f"[commands]\n{commands}" if commands else ""))
    return path


def wait_ready(commander: Commander, agent_id: str, key: Ed25519PrivateKey, timeout: float = 20) -> None:
    """Until the agent answers a command: it is connected and subscribed to its cmd topic."""
    wait_until(
        lambda: commander.send(sign(make_command(agent_id, "memory"), key), timeout=1),
        done=lambda _answer: True,
        timeout=timeout,
        what=f"agent {agent_id} to answer",
        ignore=(TimeoutError,),
    )


@pytest.fixture(scope="module")
def diag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DiagEnv]:
    tmp = tmp_path_factory.mktemp("diag")
    key = Ed25519PrivateKey.generate()
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(Mosquitto(tmp / "broker"))
        http = stack.enter_context(HttpTarget(slow_seconds=4))
        dns = stack.enter_context(DnsTarget({"printer.office.test": "127.0.0.1"}))
        snmp = SnmpSim()
        snmp.add_walk(walk_paths()["brother"])
        snmp.add_walk(walk_paths()["draytek"])  # a DSL modem: triage must not call it a printer
        stack.enter_context(snmp)
        agent_id = "pc-diag"
        config = agent_config(
            tmp / "agent.toml",
            agent_id=agent_id,
            broker=broker.url,
            key_text=public_key_text(key),
            snmp_port=snmp.port,
            commands="per_minute = 600\nburst = 100\n",
        )
        log = tmp / "agent.log"
        agent = AgentProcess(config, log).start()
        stack.callback(agent.cleanup)
        commander = Commander(broker.port)
        stack.callback(commander.close)
        wait_ready(commander, agent_id, key)
        yield DiagEnv(broker, key, http, dns, snmp.port, agent_id, agent, log, commander, free_port())
