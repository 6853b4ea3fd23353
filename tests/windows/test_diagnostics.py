"""Diagnostics and the print spooler on the Windows CPython under Wine.

The checks run through the agent's own check runner (tests/support/wine_checks.py:
registry.validate, then agent.diagnostics.execute.run_check with the Context the agent
builds from its agent.toml), which is what CommandHandler does once a command passed its
gates, on the MSI's runtime under Wine, against a broker port and an HTTP server the test
starts. Not the whole command path (MQTT, signature, reply) as tests/diagnostics/ runs it
with the Linux agent, because under Wine the command handler cannot load: it verifies
signatures with cryptography, whose Rust core (_rust.pyd, cryptography 50 built with Rust
>= 1.78) imports ProcessPrng from bcryptprimitives.dll, which every Windows 10 and 11 has
and Wine 8 (Debian's wine64) does not ship, so `import cryptography.hazmat.bindings._rust`
fails with "DLL load failed while importing _rust: Module not found". The command path
itself (gates, signing, MQTT) does not depend on the OS and is tested on Linux in
tests/diagnostics/.

A printer is installed in the prefix through the spooler's own API (AddPrinterDriverExW,
then AddPrinter, tests/support/wine_printer.py) on a Standard TCP/IP port whose registry
key names its host, and the agent finds it through EnumPrinters: in the inventory, as an
SNMP discovery candidate, and in the print_queue check. What Wine cannot do, so what is
not shown here:
- print jobs: Wine's EnumJobsW is a stub (dlls/winspool.drv/info.c returns FALSE and
  sets no error), so the queue of a printer cannot be read and print_queue says so for
  that printer; the job fields' parsing is tested with built values in
  tests/agent/windows/test_parsers.py;
- the services an office PC relies on (Dnscache, Dhcp, LanmanWorkstation, NlaSvc): Wine
  has none of them, so the services check asks for Wine's own (PlugPlay, RpcSs);
- Wi-Fi: Wine's netsh has no `wlan` context, so the Wi-Fi list is empty and
  parse_netsh_wlan is tested with recorded output in tests/agent/windows/test_parsers.py;
- a route beyond this machine: the test stays on loopback, where the first hop is the
  host; the TTL-expired replies of routers are parsed in test_parsers.py.
Nothing is mocked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent import netinfo
from agent.protocol import ParamValue
from tests.support.agent_process import write_config
from tests.support.local_targets import HttpTarget
from tests.support.services import REPO, Mosquitto, free_port
from tests.support.wine import Wine, windows_path
from tests.windows.conftest import WindowsBuild

TCPIP_PORTS = r"HKLM\SYSTEM\CurrentControlSet\Control\Print\Monitors\Standard TCP/IP Port\Ports"
LASER, LASER_PORT, LASER_HOST = "Office-Laser", "IP_office-laser", "127.0.0.77"  # nothing answers SNMP there
LABELS = "Label-Writer"  # on FILE:, no address: not for SNMP
HELPER = REPO / "tests" / "support" / "wine_printer.py"


def _helper(wine: Wine, build: WindowsBuild, tmp: Path, args: str) -> None:
    out, err = tmp / "printer.out", tmp / "printer.err"
    code = wine.python(build.runtime, f"{windows_path(HELPER)} {args}", out, err)
    assert code == 0, err.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wine]:
    """A prefix of this module's own, shadowing the session's: the printers it installs must
    not meet what the agent tests leave behind. (Seen: after the power-relay test in the
    session prefix, a printer added on FILE: was not listed, and the helper's own listing
    came back empty; in a fresh prefix, and after the other agent tests, both are.)"""
    prefix = Wine(tmp_path_factory.mktemp("wine-diagnostics") / "prefix")
    prefix.boot()
    yield prefix
    prefix.kill()


@pytest.fixture(scope="module")
def printers(
    wine: Wine, windows_build: WindowsBuild, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Two printers in the prefix for this module: a network laser (the default), a label printer on FILE:."""
    tmp = tmp_path_factory.mktemp("printers")
    wine.reg_add(rf"{TCPIP_PORTS}\{LASER_PORT}", "HostName", LASER_HOST)
    _helper(wine, windows_build, tmp, f"add {LASER} {LASER_PORT} --default")
    _helper(wine, windows_build, tmp, f"add {LABELS} FILE:")
    yield
    _helper(wine, windows_build, tmp, f"remove {LASER}")
    _helper(wine, windows_build, tmp, f"remove {LABELS}")


@dataclass
class Targets:
    """What the checks are pointed at: services this test starts on loopback."""

    broker: Mosquitto
    http: HttpTarget
    closed_port: int


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    tmp = tmp_path_factory.mktemp("wine-diag")
    with Mosquitto(tmp / "broker") as broker, HttpTarget() as http:
        yield Targets(broker, http, free_port())


Expect = Callable[[Targets, dict[str, Any]], None]


def _ping(a: Targets, r: dict[str, Any]) -> None:
    # the ICMP API, not a socket: Wine (like Windows) would also let a raw socket through
    assert (r["method"], r["api"]) == ("icmp", "IcmpSendEcho") and r["received"] == 2 and r["ok"]


def _dns(a: Targets, r: dict[str, Any]) -> None:
    assert "127.0.0.1" in r["addresses"] and r["server"] == "system" and r["ok"]


def _tcp_open(a: Targets, r: dict[str, Any]) -> None:
    assert r["reachable"] is True and r["target"] == f"127.0.0.1:{a.broker.port}"


def _tcp_closed(a: Targets, r: dict[str, Any]) -> None:
    assert r["reachable"] is False and "refused" in r["problems"][0]


def _http(a: Targets, r: dict[str, Any]) -> None:
    assert r["status_code"] == 200 and r["ok"] and a.http.hits["/"] >= 1


def _http_404(a: Targets, r: dict[str, Any]) -> None:
    assert r["status_code"] == 404 and "HTTP 404" in r["problems"][0]


def _route(a: Targets, r: dict[str, Any]) -> None:
    # tracert's method through the ICMP API: Wine has no tracert.exe, and it is not needed
    assert (r["method"], r["api"]) == ("icmp", "IcmpSendEcho")
    assert r["hops"] and r["hops"][-1]["address"] == "127.0.0.1" and r["ok"]


def _services(a: Targets, r: dict[str, Any]) -> None:
    states = {s["name"]: (s["state"], s["method"]) for s in r["services"]}
    # Wine's own services, through the service manager (psutil.win_service_get)
    assert states == {
        "PlugPlay": ("running", "windows"),
        "RpcSs": ("running", "windows"),
        "NoSuchService": ("not_found", "windows"),
    }
    assert r["problems"] == ["service NoSuchService is not found"]


def _disk(a: Targets, r: dict[str, Any]) -> None:
    disk = next(d for d in r["disks"] if d["mount"] == "C:\\")
    assert disk["total_bytes"] > 0 and 0 <= disk["used_percent"] <= 100


def _memory(a: Targets, r: dict[str, Any]) -> None:
    assert 0 < r["memory"]["available_bytes"] <= r["memory"]["total_bytes"]


def _top(a: Targets, r: dict[str, Any]) -> None:
    # names where psutil's image-name query fails under Wine come from the command line
    assert len(r["processes"]) == 3 and all(p["name"].endswith(".exe") for p in r["processes"])


def _network_config(a: Targets, r: dict[str, Any]) -> None:
    # the IP Helper API, which Wine answers from this machine's own tables
    assert any("127.0.0.1/8" in i["addresses"] for i in r["interfaces"])
    assert r["gateway"] == (netinfo.default_gateway() or "")
    assert r["dns_servers"] and r["wifi"] == []


def _print_queue(a: Targets, r: dict[str, Any]) -> None:
    # EnumPrinters finds both; EnumJobs is a stub in Wine, so each queue is "unknown", said why
    queues = {p["name"]: p for p in r["printers"]}
    assert set(queues) == {LASER, LABELS} and r["jobs"] == []
    for queue in queues.values():
        assert queue["state"] == "idle" or queue["detail"].startswith("cannot read its queue"), queue


def _triage(a: Targets, r: dict[str, Any]) -> None:
    assert r["pending"] == []
    crashed = [f["text"] for f in r["findings"] if " failed: " in f.get("text", "")]
    assert not crashed, crashed


CASES: list[tuple[str, dict[str, ParamValue], Expect]] = [
    ("ping", {"host": "127.0.0.1", "count": 2, "interval_seconds": 0.1}, _ping),
    ("dns", {"name": "localhost"}, _dns),
    ("tcp", {"host": "127.0.0.1", "port": -1}, _tcp_open),  # -1: the broker's port
    ("tcp", {"host": "127.0.0.1", "port": -2, "timeout_seconds": 1.0}, _tcp_closed),  # -2: a closed port
    ("http", {"url": "<http>/"}, _http),
    ("http", {"url": "<http>/missing"}, _http_404),
    ("route", {"host": "127.0.0.1", "max_hops": 3}, _route),
    ("services", {"names": "PlugPlay,RpcSs,NoSuchService"}, _services),
    ("disk", {}, _disk),
    ("memory", {}, _memory),
    ("top_processes", {"count": 3, "sort": "memory", "sample_seconds": 0.2}, _top),
    ("network_config", {}, _network_config),
    ("print_queue", {}, _print_queue),
    ("triage", {}, _triage),
]


def _params(t: Targets, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
    out = dict(params)
    if out.get("port") == -1:
        out["port"] = t.broker.port
    if out.get("port") == -2:
        out["port"] = t.closed_port
    if isinstance(out.get("url"), str):
        out["url"] = str(out["url"]).replace("<http>", f"http://127.0.0.1:{t.http.port}")
    return out


def test_checks_on_the_windows_cpython(
    tmp_path: Path, wine: Wine, windows_build: WindowsBuild, printers: None, targets: Targets
) -> None:
    """Every check with a Windows form, run as a command would run it, in one Windows process."""
    config = write_config(  # [network] on loopback, as the Linux agents' tests have it
        tmp_path / "agent.toml",
        agent_id="wine-diag",
        broker=targets.broker.url,
        spool=Path(f"Z:{tmp_path / 'spool.db'}"),
        gateway_port=targets.broker.port,
    )
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([[check, _params(targets, params)] for check, params, _ in CASES]))
    helper = REPO / "tests" / "support" / "wine_checks.py"
    out, err = tmp_path / "checks.json", tmp_path / "checks.err"
    args = f"{windows_path(helper)} {windows_path(config)} {windows_path(cases)}"
    code = wine.python(windows_build.runtime, args, out, err, timeout=300)
    assert code == 0, err.read_text(errors="replace")[-3000:]
    outcomes = json.loads(out.read_text())
    failed = []
    for (check, params, expect), outcome in zip(CASES, outcomes, strict=True):
        try:
            assert outcome["status"] == "ok", (outcome["status"], outcome["error"])
            expect(targets, outcome["result"])
        except (AssertionError, KeyError, StopIteration) as problem:
            failed.append(f"{check} {params}: {problem!r}\n  {json.dumps(outcome['result'])[:1500]}")
    assert not failed, "\n".join(failed)
    assert "Traceback" not in err.read_text(errors="replace")


def test_spooler_printers_reach_the_inventory_and_snmp_discovery(
    tmp_path: Path, wine: Wine, windows_build: WindowsBuild, printers: None
) -> None:
    """EnumPrinters, the TCP/IP port's HostName and the default printer, read by `once --inventory`.

    SNMP discovery asks only the spooler here (no CUPS, no gateway); the laser's host is a
    loopback address where nothing answers, so it shows as a discovered printer that does
    not answer SNMP, and the label printer (no address) is not asked at all.
    """
    snmp = (
        "[snmp]\nenabled = true\ntimeout_seconds = 0.5\nretries = 0\n"
        "[snmp.discovery]\ncups = false\nwindows_spooler = true\ngateway = false\n"
    )
    config = write_config(
        tmp_path / "agent.toml",
        agent_id="wine-printers",
        broker="mqtt://127.0.0.1:1",
        spool=Path(f"Z:{tmp_path / 'spool.db'}"),
        snmp=snmp,
    )
    out, err = tmp_path / "once.json", tmp_path / "once.err"
    code = wine.python(
        windows_build.runtime, f"-m agent once --inventory --config {windows_path(config)}", out, err
    )
    assert code == 0, err.read_text(errors="replace")[-3000:]
    document = json.loads(out.read_text())
    found = {p["name"]: p for p in document["inventory"]["printers"]}
    assert set(found) == {LASER, LABELS}
    laser = found[LASER]
    assert (laser["host"], laser["uri"], laser["default"]) == (LASER_HOST, LASER_PORT, True)
    assert laser["driver"] == "deskwatch test driver" and laser["state"] == "idle"
    assert found[LABELS].get("host", "") == "" and not found[LABELS].get("default", False)
    asked = [s["tags"] for s in document["batch"]["states"] if s["condition"] == "snmp_reachable"]
    assert [(t["address"], t["source"]) for t in asked] == [(LASER_HOST, "printer")], asked
