"""A real agent process answering signed commands through a real broker, against loopback targets."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import protocol
from agent.diagnostics.registry import CHECKS
from agent.protocol import CommandResult, ParamValue
from tests.diagnostics.conftest import DiagEnv, agent_config, wait_ready
from tests.support.agent_process import AgentProcess
from tests.support.commands import Commander, make_command, public_key_text, sign
from tests.support.local_targets import HttpTarget
from tests.support.services import Mosquitto
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def run(diag: DiagEnv, check: str, params: dict[str, ParamValue] | None = None, **kw: Any) -> CommandResult:
    return diag.commander.send(sign(make_command(diag.agent_id, check, params, **kw), diag.key))


Expect = Callable[[DiagEnv, CommandResult], None]


def _ping(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["received"] == 2 and r.result["method"] in ("icmp", "tcp/443")


def _ping_tcp(d: DiagEnv, r: CommandResult) -> None:
    # a refused connection proves the host is there: the TCP fallback counts it as an answer
    assert r.result["method"] == f"tcp/{d.closed_port}" and r.result["received"] == 2


def _dns_system(d: DiagEnv, r: CommandResult) -> None:
    assert "127.0.0.1" in r.result["addresses"] and r.result["ok"]


def _dns_server(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["addresses"] == ["127.0.0.1"] and r.result["server"] == "127.0.0.1"


def _dns_nxdomain(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["problems"] == [
        "DNS lookup of nowhere.office.test at 127.0.0.1 failed: the name does not exist"
    ]


def _tcp_open(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["reachable"] is True


def _tcp_closed(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["reachable"] is False and "refused" in r.result["problems"][0]


def _http_ok(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["status_code"] == 200 and r.result["ok"]


def _http_404(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["status_code"] == 404 and "HTTP 404" in r.result["problems"][0]


def _route(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["hops"][-1]["address"] == "127.0.0.1" and r.result["ok"]


def _printer(d: DiagEnv, r: CommandResult) -> None:
    device = r.result["device"]
    assert device["reachable"] and device["kind"] == "printer" and device["supplies"]
    assert device["address"] == f"127.0.0.1:{d.snmp_port}"


def _print_queue(d: DiagEnv, r: CommandResult) -> None:
    # CUPS is not installed on this machine: information, not a fault of the PC
    assert r.result["print_system"].startswith("none") and not r.result["problems"]


def _disk(d: DiagEnv, r: CommandResult) -> None:
    assert r.result["disks"] and all(0 <= x["used_percent"] <= 100 for x in r.result["disks"])


def _memory(d: DiagEnv, r: CommandResult) -> None:
    assert 0 < r.result["memory"]["available_bytes"] <= r.result["memory"]["total_bytes"]


def _top(d: DiagEnv, r: CommandResult) -> None:
    assert len(r.result["processes"]) == 3 and all(p["pid"] > 0 for p in r.result["processes"])


def _services(d: DiagEnv, r: CommandResult) -> None:
    states = {s["name"]: s["state"] for s in r.result["services"]}
    assert states["mosquitto"] == "running" and states["no-such-service"] in ("stopped", "not_found")
    assert any("no-such-service" in p for p in r.result["problems"])


def _services_default(d: DiagEnv, r: CommandResult) -> None:
    # no names: what an office PC relies on (printing, DNS, the network), each with a state
    assert [s["name"] for s in r.result["services"]] == ["cups", "NetworkManager", "systemd-resolved"]
    assert all(s["state"] for s in r.result["services"])


def _network_config(d: DiagEnv, r: CommandResult) -> None:
    assert any(i["name"] == "lo" for i in r.result["interfaces"])
    assert "gateway" in r.result and "dns_servers" in r.result


def _triage(d: DiagEnv, r: CommandResult) -> None:
    res = r.result
    assert res["pending"] == [] and r.duration_seconds < 5
    areas = {f["area"] for f in res["findings"]}
    assert {"gateway", "dns", "internet", "printers", "disk", "memory", "cpu"} <= areas
    # what is wrong comes first: every problem finding precedes every fine one
    oks = [f["ok"] for f in res["findings"]]
    assert oks == sorted(oks)
    assert res["problems"] == [f["text"] for f in res["findings"] if not f["ok"]]
    assert [p["kind"] for p in res["printers"]] == ["printer"]  # the modem is no printer
    assert [d["kind"] for d in res["devices"]] == ["network"]
    assert not any("print system" in p for p in res["problems"])


def _triage_dns(d: DiagEnv, r: CommandResult) -> None:
    # the local DNS server does not know "localhost": asked directly, DNS is the problem
    assert "DNS lookup of localhost at 127.0.0.1 failed: the name does not exist" in r.result["problems"]


CASES: list[tuple[str, str, Callable[[DiagEnv], dict[str, ParamValue]], Expect]] = [
    ("ping", "ping", lambda d: {"host": "127.0.0.1", "count": 2, "interval_seconds": 0.1}, _ping),
    (
        "ping-tcp",
        "ping",
        lambda d: {"host": "127.0.0.1", "count": 2, "method": "tcp", "port": d.closed_port},
        _ping_tcp,
    ),
    ("dns", "dns", lambda d: {"name": "localhost"}, _dns_system),
    (
        "dns-server",
        "dns",
        lambda d: {"name": "printer.office.test", "server": "127.0.0.1", "server_port": d.dns.port},
        _dns_server,
    ),
    (
        "dns-nxdomain",
        "dns",
        lambda d: {"name": "nowhere.office.test", "server": "127.0.0.1", "server_port": d.dns.port},
        _dns_nxdomain,
    ),
    ("tcp-open", "tcp", lambda d: {"host": "127.0.0.1", "port": d.http.port}, _tcp_open),
    ("tcp-closed", "tcp", lambda d: {"host": "127.0.0.1", "port": d.closed_port}, _tcp_closed),
    ("http", "http", lambda d: {"url": d.http.url("/")}, _http_ok),
    ("http-404", "http", lambda d: {"url": d.http.url("/missing")}, _http_404),
    ("route", "route", lambda d: {"host": "127.0.0.1", "max_hops": 3}, _route),
    ("printer", "printer", lambda d: {"host": "127.0.0.1", "port": d.snmp_port}, _printer),
    ("print_queue", "print_queue", lambda d: {}, _print_queue),
    ("disk", "disk", lambda d: {}, _disk),
    ("memory", "memory", lambda d: {}, _memory),
    ("top_processes", "top_processes", lambda d: {"count": 3, "sample_seconds": 0.2}, _top),
    ("services", "services", lambda d: {"names": "mosquitto,no-such-service"}, _services),
    ("services-default", "services", lambda d: {}, _services_default),
    ("network_config", "network_config", lambda d: {}, _network_config),
    ("triage", "triage", lambda d: {}, _triage),
    (
        "triage-dns-server",
        "triage",
        lambda d: {"dns_server": "127.0.0.1", "dns_port": d.dns.port},
        _triage_dns,
    ),
]


def test_every_check_has_a_round_trip_case() -> None:
    assert {check for _, check, _, _ in CASES} == set(CHECKS)


@pytest.mark.parametrize(("check", "params", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_round_trip(
    diag: DiagEnv, check: str, params: Callable[[DiagEnv], dict[str, ParamValue]], expect: Expect
) -> None:
    result = run(diag, check, params(diag))
    assert result.agent_id == diag.agent_id and result.check == check
    assert result.status == "ok", result.error
    expect(diag, result)


def _tampered(d: DiagEnv) -> bytes:
    signed = sign(make_command(d.agent_id, "http", {"url": d.http.url("/probe")}), d.key)
    # the signature was made for another URL: altered on the way
    return protocol.encode(msgspec.structs.replace(signed, params={"url": d.http.url("/probe?evil")}))


def _unsigned(d: DiagEnv) -> bytes:
    return protocol.encode(make_command(d.agent_id, "http", {"url": d.http.url("/probe")}))


def _expired(d: DiagEnv) -> bytes:
    now = time.time_ns()
    cmd = make_command(d.agent_id, "http", {"url": d.http.url("/probe")}, issued_ns=now - 20 * 10**9)
    return protocol.encode(sign(msgspec.structs.replace(cmd, expires_ns=now - 10**9), d.key))


def _other_agent(d: DiagEnv) -> bytes:
    return protocol.encode(sign(make_command("pc-other", "http", {"url": d.http.url("/probe")}), d.key))


def _unknown(d: DiagEnv) -> bytes:
    return protocol.encode(sign(make_command(d.agent_id, "shell", {"cmd": "rm -rf /"}), d.key))


def _invalid(d: DiagEnv) -> bytes:
    return protocol.encode(sign(make_command(d.agent_id, "http", {"url": "file:///etc/passwd"}), d.key))


def _option_host(d: DiagEnv) -> bytes:
    return protocol.encode(sign(make_command(d.agent_id, "route", {"host": "-fhelp"}), d.key))


def _extra_param(d: DiagEnv) -> bytes:
    params: dict[str, ParamValue] = {"url": d.http.url("/probe"), "method": "POST"}
    return protocol.encode(sign(make_command(d.agent_id, "http", params), d.key))


def _garbage(d: DiagEnv) -> bytes:
    return b'{"id": "x1", "not": "a command"}'


REJECTIONS: list[tuple[str, Callable[[DiagEnv], bytes], str]] = [
    ("tampered", _tampered, "bad signature"),
    ("unsigned", _unsigned, "unsigned command"),
    ("expired", _expired, "expired"),
    ("other-agent", _other_agent, "addressed to agent pc-other"),
    ("unknown-check", _unknown, "unknown check 'shell'"),
    ("invalid-params", _invalid, "invalid parameters for http"),
    ("option-as-host", _option_host, "invalid parameters for route"),
    ("unknown-param", _extra_param, "invalid parameters for http"),
    ("malformed", _garbage, "malformed command"),
]


@pytest.mark.parametrize(("make", "reason"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_bad_commands_are_rejected_with_reason_and_nothing_runs(
    diag: DiagEnv, make: Callable[[DiagEnv], bytes], reason: str
) -> None:
    before = sum(diag.http.hits.values())
    result = diag.commander.send_raw(diag.agent_id, make(diag))
    assert result.status == "rejected" and reason in result.error, result.error
    assert result.result == {}
    assert sum(diag.http.hits.values()) == before  # the HTTP target was never asked
    wait_until(lambda: reason in diag.log.read_text(), timeout=5, what=f"the agent's log to say {reason!r}")


def test_replayed_nonce_is_rejected_and_runs_once(diag: DiagEnv) -> None:
    payload = protocol.encode(
        sign(make_command(diag.agent_id, "http", {"url": diag.http.url("/replay")}), diag.key)
    )
    first = diag.commander.send_raw(diag.agent_id, payload)
    second = diag.commander.send_raw(diag.agent_id, payload)
    assert first.status == "ok" and second.status == "rejected"
    assert "replayed" in second.error
    assert diag.http.hits["/replay"] == 1


def test_overrunning_check_returns_partial_result_marked_timeout(diag: DiagEnv) -> None:
    # 10 pings a second apart cannot fit into a command that expires in 2.5 s
    params: dict[str, ParamValue] = {"host": "127.0.0.1", "count": 10, "interval_seconds": 1.0}
    started = time.monotonic()
    result = run(diag, "ping", params, lifetime=2.5)
    assert time.monotonic() - started < 3.5
    assert result.status == "timeout" and "partial" in result.error
    assert 1 <= result.result["sent"] < 10 and len(result.result["attempts"]) == result.result["sent"]
    assert result.result["problems"][-1] == result.error


def test_slow_http_target_overruns_into_timeout(diag: DiagEnv) -> None:
    result = run(diag, "http", {"url": diag.http.url("/slow"), "timeout_seconds": 10}, lifetime=1.5)
    assert result.status == "timeout" and result.duration_seconds < 1.5


def test_a_command_replayed_after_an_agent_restart_is_refused(tmp_path: Path) -> None:
    """A command seen before a restart, replayed after it while still fresh (issued within
    the clock skew of the new start): the nonce is remembered across the restart."""
    key = Ed25519PrivateKey.generate()
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(Mosquitto(tmp_path / "broker"))
        http = stack.enter_context(HttpTarget())
        config = agent_config(
            tmp_path / "agent.toml", agent_id="pc-restart", broker=broker.url, key_text=public_key_text(key)
        )
        agent = AgentProcess(config, tmp_path / "agent.log").start()
        stack.callback(agent.cleanup)
        commander = Commander(broker.port)
        stack.callback(commander.close)
        wait_ready(commander, "pc-restart", key)
        payload = protocol.encode(
            sign(make_command("pc-restart", "http", {"url": http.url("/once")}, lifetime=60), key)
        )
        first = commander.send_raw("pc-restart", payload)
        assert first.status == "ok" and http.hits["/once"] == 1
        assert agent.terminate() == 0
        agent.start()
        wait_ready(commander, "pc-restart", key)
        replayed = commander.send_raw("pc-restart", payload)
    assert replayed.status == "rejected" and "replayed" in replayed.error, replayed
    assert http.hits["/once"] == 1  # it ran once, before the restart
