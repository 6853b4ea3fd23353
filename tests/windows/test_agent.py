"""The Windows agent (official Windows CPython 3.13, win_amd64 wheels) under Wine.

What Wine shows: psutil's Windows build, the registry (both views, and the servicing
packages the last update is read from), the IP Helper API (route table, DNS servers), the
SMBIOS table and the storage driver's disk queries, sockets, SQLite, paho and the spool:
the same code paths as on Windows. What it cannot: logged-on users (Wine has no
terminal-services sessions), printers (no spooler queues here), SMBIOS strings and disk
models (Wine fills neither without /sys/class/dmi and a real disk); those fields are
empty here and have their parsers tested with recorded and built values in
tests/agent/windows/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent import protocol
from agent.inventory import system
from agent.protocol import Presence
from tests.support.agent_process import write_config
from tests.support.collector_process import CollectorProcess
from tests.support.mqtt import Received, Subscriber
from tests.support.services import REPO, Mosquitto, VictoriaMetrics
from tests.support.stored import FAULT_REPORT, spool_contents, stored_batches, tally
from tests.support.waiting import wait_until
from tests.support.wine import Wine, windows_path
from tests.windows.conftest import WindowsBuild

UNINSTALL = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
UNINSTALL_32 = r"HKLM\Software\Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall"
CBS = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages"
ROLLUP = "Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.3880.1.6"
FILETIME_2024_07_10 = 133_650_548_400_000_000  # 2024-07-10 03:14:00 UTC, 100 ns steps since 1601


def _config(tmp_path: Path, agent_id: str, broker: str, interval: float = 0.5) -> Path:
    """A test agent.toml (loopback-only checks); the spool as Windows sees it (Z:/..., TOML-safe)."""
    return write_config(
        tmp_path / f"{agent_id}.toml",
        agent_id=agent_id,
        broker=broker,
        spool=Path(f"Z:{tmp_path / agent_id}.db"),
        interval=interval,
        extra="[inventory]\nenabled = false\n",
    )


def test_once_reports_host_network_and_the_registry_inventory(
    tmp_path: Path, wine: Wine, windows_build: WindowsBuild
) -> None:
    wine.reg_add(rf"{UNINSTALL}\DeskwatchTestSuite", "DisplayName", "deskwatch test suite")
    wine.reg_add(rf"{UNINSTALL}\DeskwatchTestSuite", "DisplayVersion", "9.9.1")
    wine.reg_add(rf"{UNINSTALL}\DeskwatchTestSuite", "InstallDate", "20260102")
    wine.reg_add(rf"{UNINSTALL_32}\DeskwatchOld32", "DisplayName", "deskwatch old 32-bit tool")
    wine.reg_add(rf"{UNINSTALL}\DeskwatchPart", "DisplayName", "deskwatch hidden part")
    wine.reg_add(rf"{UNINSTALL}\DeskwatchPart", "SystemComponent", "1", "REG_DWORD")
    # The cumulative update of July 2024, as Component Based Servicing records it
    wine.reg_add(rf"{CBS}\{ROLLUP}", "CurrentState", str(0x70), "REG_DWORD")
    wine.reg_add(rf"{CBS}\{ROLLUP}", "InstallTimeHigh", str(FILETIME_2024_07_10 >> 32), "REG_DWORD")
    wine.reg_add(rf"{CBS}\{ROLLUP}", "InstallTimeLow", str(FILETIME_2024_07_10 & 0xFFFFFFFF), "REG_DWORD")
    config = _config(tmp_path, "wine-once", "mqtt://127.0.0.1:1")
    out, err = tmp_path / "once.json", tmp_path / "once.err"
    code = wine.python(
        windows_build.runtime, f"-m agent once --inventory --config {windows_path(config)}", out, err
    )
    assert code == 0, err.read_text(errors="replace")
    document = json.loads(out.read_text())
    batch, inventory = document["batch"], document["inventory"]
    samples: dict[str, list[dict[str, Any]]] = {}
    for sample in batch["samples"]:
        samples.setdefault(sample["measurement"], []).append(sample)
    assert {"cpu", "cpu_core", "memory", "disk", "net", "system", "net_gateway", "net_dns"} <= set(samples)
    assert 0 <= samples["memory"][0]["fields"]["used_percent"] <= 100
    assert any(d["tags"]["mount"] == "C:\\" for d in samples["disk"])
    assert samples["net_gateway"][0]["tags"] == {"gateway": "127.0.0.1"}
    assert samples["net_dns"][0]["fields"]["ok"] == 1  # localhost through Windows' resolver
    assert not [s for s in batch["states"] if s["condition"] == "source_ok"], batch["states"]

    software = {name: version for name, version, *_ in inventory["software"]}
    assert software["deskwatch test suite"] == "9.9.1"  # 64-bit view
    assert "deskwatch old 32-bit tool" in software  # WOW6432Node, read through KEY_WOW64_32KEY
    assert "deskwatch hidden part" not in software  # SystemComponent = 1
    assert inventory["software_source"] == "registry"
    assert inventory["os"]["name"].startswith("Microsoft Windows") and inventory["os"]["build"]
    assert inventory["os"]["last_update_ns"] == 1_720_581_240 * 10**9  # the servicing package above
    hardware = inventory["hardware"]
    assert hardware["cpu_model"] and hardware["memory_bytes"] > 0
    # The storage driver's answer for Wine's one disk; Wine's SMBIOS table has no strings here.
    disk = next(d for d in hardware["disks"] if d["name"] == r"\\.\PHYSICALDRIVE0")
    assert disk["size_bytes"] > 0 and hardware.get("serial", "") == ""  # empty fields are left out
    # Wine answers the IP Helper API from this Linux machine's own tables
    assert inventory["network"]["gateway"] == (system.netinfo.default_gateway() or "")
    linux_dns = [s for s in system.netinfo.dns_servers(Path("/")) if ":" not in s]
    assert inventory["network"]["dns_servers"][: len(linux_dns)] == linux_dns


def test_windows_agent_batches_reach_victoria_metrics_across_a_broker_restart(
    tmp_path: Path,
    wine: Wine,
    windows_build: WindowsBuild,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    make_collector: Callable[..., CollectorProcess],
) -> None:
    make_collector(group="")
    agent_id = "wine-pc"
    config = _config(tmp_path, agent_id, mosquitto.url)
    spool = tmp_path / f"{agent_id}.db"
    log, err = tmp_path / "agent.out", tmp_path / "agent.err"
    proc = wine.start_python(windows_build.runtime, f"-m agent run --config {windows_path(config)}", log, err)
    try:
        wait_until(
            lambda: len(stored_batches(victoria_metrics.url, agent_id)[0]) >= 5,
            timeout=90,
            interval=0.5,
            what="first batches",
        )
        before = len(stored_batches(victoria_metrics.url, agent_id)[0])
        mosquitto.restart()
        wait_until(
            lambda: len(stored_batches(victoria_metrics.url, agent_id)[0]) >= before + 5,
            timeout=90,
            interval=0.5,
            what="batches after the restart",
        )
    except AssertionError:
        raise AssertionError(err.read_text(errors="replace")[-3000:]) from None
    finally:
        wine.kill()  # the agent goes like a PC losing power: the spool is all it keeps
        proc.wait(30)
    made, waiting = spool_contents(spool)
    result = tally(victoria_metrics.url, agent_id, spool)
    FAULT_REPORT.append(result.line("Windows agent under Wine, broker restarted"))
    assert made > before + 5 and waiting == result.waiting
    assert not result.missing, f"batches lost: {sorted(result.missing)[:20]}"
    assert result.stored_samples == len(result.stored), "a batch was stored twice"
    assert "Traceback" not in err.read_text(errors="replace")


def test_windows_cpython_relays_sleep_resume_and_shutdown_to_the_broker(
    tmp_path: Path, wine: Wine, windows_build: WindowsBuild, mosquitto: Mosquitto
) -> None:
    """PowerRelay and the runner on the Windows CPython: what the service does with a power event.

    Wine cannot send the service SERVICE_CONTROL_POWEREVENT (its ControlService refuses it,
    as Windows' does, and nothing in Wine broadcasts power events), so a thread of
    tests/support/relayed_agent.py delivers the events where AgentService.SvcOtherEx would.
    """
    agent_id = "wine-laptop"
    config = _config(tmp_path, agent_id, mosquitto.url)
    events = tmp_path / "events"
    helper = REPO / "tests" / "support" / "relayed_agent.py"
    out, err = tmp_path / "relayed.out", tmp_path / "relayed.err"
    args = f"{windows_path(helper)} {windows_path(config)} {windows_path(events)}"

    def presences(messages: list[Received]) -> list[tuple[str, str]]:
        return [(p.status, p.reason) for p in (protocol.decode(m.payload, Presence) for m in messages)]

    def step(sub: Subscriber, event: str, expected: tuple[str, str], count: int = 1) -> None:
        if event:
            with events.open("a") as feed:
                feed.write(event + "\n")
        try:
            sub.wait_for(lambda messages: presences(messages).count(expected) >= count, 60)
        except AssertionError:
            raise AssertionError(err.read_text(errors="replace")[-3000:]) from None

    with Subscriber(mosquitto.port, f"deskwatch/v1/{agent_id}/state") as sub:
        proc = wine.start_python(windows_build.runtime, args, out, err)
        try:
            step(sub, "", ("online", ""))
            step(sub, "sleep", ("offline", "sleep"))
            step(sub, "resume", ("online", ""), count=2)
            step(sub, "shutdown", ("offline", "shutdown"))
            assert proc.wait(60) == 0, err.read_text(errors="replace")[-3000:]
            # A fixed time: what is checked is that nothing more comes; a Last Will would have by now.
            time.sleep(1.0)
        finally:
            if proc.poll() is None:
                wine.kill()
                proc.wait(30)
        assert presences(sub.snapshot()) == [
            ("online", ""),
            ("offline", "sleep"),
            ("online", ""),
            ("offline", "shutdown"),
        ]
    assert "Traceback" not in err.read_text(errors="replace")
