"""Host and network sources on this machine, against local servers and closed ports."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from agent import protocol
from agent.protocol import Batch, Sample, State
from agent.sources import host, network
from tests.support.agent_process import run_cli
from tests.support.services import free_port


def _samples(items: list[Sample | State], measurement: str) -> list[Sample]:
    return [s for s in items if isinstance(s, Sample) and s.measurement == measurement]


def _state(items: list[Sample | State], condition: str) -> State:
    found = [s for s in items if isinstance(s, State) and s.condition == condition]
    assert len(found) == 1, found
    return found[0]


def test_host_figures_agree_with_psutil() -> None:
    items = list(asyncio.run(host.collect(host.Settings(), 1)))
    (memory,) = _samples(items, "memory")
    vm = psutil.virtual_memory()
    assert memory.fields["total_bytes"] == vm.total
    assert abs(memory.fields["available_bytes"] - vm.available) < 0.05 * vm.total
    (cpu,) = _samples(items, "cpu")
    assert 0 <= cpu.fields["used_percent"] <= 100
    assert cpu.fields["cores"] == psutil.cpu_count()
    assert len(_samples(items, "cpu_core")) == psutil.cpu_count()
    disks = _samples(items, "disk")
    assert any(d.tags["mount"] == "/" for d in disks)
    for disk in disks:
        assert 0 <= disk.fields["used_percent"] <= 100
        assert disk.fields["free_bytes"] <= disk.fields["total_bytes"]
    (system,) = _samples(items, "system")
    assert system.fields["uptime_seconds"] > 0
    assert abs(system.fields["processes"] - len(psutil.pids())) < 50
    nets = _samples(items, "net")
    assert nets and all(n.tags["interface"] != "lo" for n in nets)
    assert all(v >= 0 for n in nets for v in n.fields.values())


def test_host_samples_never_use_the_device_tag() -> None:
    # `device` names an SNMP device (protocol.DEVICE_TAG): a disk tagged with it became a
    # "device" shared by every PC with the same layout.
    samples = asyncio.run(host.collect(host.Settings(), time.time_ns()))
    tagged = [s for s in samples if isinstance(s, Sample) and protocol.DEVICE_TAG in s.tags]
    assert tagged == []
    disks = [s for s in samples if isinstance(s, Sample) and s.measurement == "disk"]
    assert disks and all(s.tags.get("block_device") for s in disks)


def test_a_pc_without_sensors_is_not_scanned_for_them_every_round(monkeypatch: pytest.MonkeyPatch) -> None:
    # This machine has no temperature sensor: psutil's real scan finds none. The wrapper
    # only counts the scans; the second half stands in for a PC that has sensors, which
    # cannot be produced here.
    calls: list[int] = []
    real = psutil.sensors_temperatures

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real()

    monkeypatch.setattr(psutil, "sensors_temperatures", counted)
    monkeypatch.setattr(host, "_no_sensors_until_ns", 0)
    if real():
        pytest.skip("this machine has temperature sensors; the no-sensor case cannot be shown here")
    t = 10**18
    assert list(host._temperatures(t)) == [] and len(calls) == 1
    assert list(host._temperatures(t + 10 * 10**9)) == [] and len(calls) == 1  # next round: no scan
    list(host._temperatures(t + host.NO_SENSORS_RECHECK_NS))
    assert len(calls) == 2  # looked again after ten minutes

    shwtemp = collections.namedtuple("shwtemp", "label current high critical")  # psutil's shape
    entry = shwtemp("Core 0", 41.0, None, None)
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {"coretemp": [entry]})
    monkeypatch.setattr(host, "_no_sensors_until_ns", 0)
    for round_ in range(2):  # with sensors: read every round
        (sample,) = host._temperatures(t + round_ * 10 * 10**9)
        assert (sample.fields, sample.tags) == ({"celsius": 41.0}, {"chip": "coretemp", "sensor": "Core 0"})


def test_top_processes_travel_as_states_not_tags() -> None:
    settings = host.Settings(top_processes=3, top_processes_interval_seconds=60)
    items = list(asyncio.run(host.collect(settings, 1)))
    top = _state(items, "top_memory_processes")
    assert top.ok and "pid" in top.text and top.text.count(";") == 2
    for sample in (s for s in items if isinstance(s, Sample)):
        assert "pid" not in sample.tags and "process" not in sample.tags
    # The list is due again only after its interval: the next round leaves it out.
    later = list(asyncio.run(host.collect(settings, 1 + 30 * 10**9)))
    assert not [s for s in later if isinstance(s, State) and s.condition == "top_memory_processes"]
    again = list(asyncio.run(host.collect(settings, 1 + 61 * 10**9)))
    assert _state(again, "top_memory_processes").ok


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts nothing and answers nothing: a full backlog, so connects hang."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    fillers = []
    for _ in range(8):  # fill the accept queue so further SYNs get no answer
        f = socket.socket()
        f.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            f.connect(sock.getsockname())
        fillers.append(f)
    yield sock.getsockname()[1]
    for f in fillers:
        f.close()
    sock.close()


def test_network_checks_give_right_states_and_reasons(http_port: int) -> None:
    closed = free_port()
    settings = network.Settings(
        gateway="127.0.0.1",
        gateway_ports=(http_port,),
        dns_names=("localhost", "no-such-host.invalid"),
        tcp_targets=(f"127.0.0.1:{http_port}", f"127.0.0.1:{closed}"),
        http_targets=(
            f"http://127.0.0.1:{http_port}/ok",
            f"http://127.0.0.1:{http_port}/down",
            f"http://127.0.0.1:{closed}/",
        ),
        internet_targets=(f"127.0.0.1:{closed}", f"127.0.0.1:{http_port}"),
        timeout_seconds=2,
    )
    items = list(asyncio.run(network.collect(settings, 1)))
    states = {s.subject: s for s in items if isinstance(s, State)}
    assert states["gateway:127.0.0.1"].ok
    assert states["dns:localhost"].ok
    bad_dns = states["dns:no-such-host.invalid"]
    assert not bad_dns.ok and bad_dns.text.startswith("DNS lookup of no-such-host.invalid failed")
    assert states[f"tcp:127.0.0.1:{http_port}"].ok
    refused = states[f"tcp:127.0.0.1:{closed}"]
    assert (
        not refused.ok
        and refused.text == f"TCP connection to 127.0.0.1:{closed} was refused: nothing listens there"
    )
    assert states[f"http:http://127.0.0.1:{http_port}/ok"].ok
    down = states[f"http:http://127.0.0.1:{http_port}/down"]
    assert not down.ok and "answered HTTP 503" in down.text
    assert "refused" in states[f"http:http://127.0.0.1:{closed}/"].text
    assert states["internet"].ok  # one of two targets answered
    codes = {s.tags["url"]: s.fields["status_code"] for s in _samples(items, "net_http")}
    assert codes[f"http://127.0.0.1:{http_port}/down"] == 503
    for sample in _samples(items, "net_tcp"):
        assert sample.fields["ok"] in (0, 1) and sample.fields["rtt_seconds"] >= 0


def test_silent_targets_time_out_with_a_reason(silent_port: int) -> None:
    settings = network.Settings(
        gateway="127.0.0.1",
        gateway_ports=(silent_port,),
        dns_names=(),
        tcp_targets=(f"127.0.0.1:{silent_port}",),
        internet_targets=(f"127.0.0.1:{silent_port}",),
        timeout_seconds=0.5,
    )
    items = list(asyncio.run(network.collect(settings, 1)))
    states = {s.subject: s for s in items if isinstance(s, State)}
    assert (
        states[f"tcp:127.0.0.1:{silent_port}"].text
        == f"TCP connection to 127.0.0.1:{silent_port} timed out after 0.5 s"
    )
    assert not states["gateway:127.0.0.1"].ok
    assert "does not answer" in states["gateway:127.0.0.1"].text
    assert not states["internet"].ok


def test_once_prints_a_batch_that_decodes(tmp_path: pytest.TempPathFactory) -> None:
    result = run_cli("once", "--agent-id", "pc-once", "--site", "hq", "--config", _local_config(tmp_path))
    assert result.returncode == 0, result.stderr
    batch = protocol.decode(json.dumps(json.loads(result.stdout)).encode(), Batch)
    assert batch.agent_id == "pc-once" and batch.site == "hq"
    measurements = {s.measurement for s in batch.samples}
    assert {"cpu", "memory", "disk", "net", "system", "net_gateway", "net_dns"} <= measurements


def _local_config(tmp_path: object) -> str:
    from pathlib import Path

    path = Path(str(tmp_path)) / "agent.toml"
    path.write_text(
        '[network]\ngateway = "127.0.0.1"\ndns_names = ["localhost"]\ninternet_targets = []\n'
        "timeout_seconds = 0.5\n"
    )
    return str(path)
