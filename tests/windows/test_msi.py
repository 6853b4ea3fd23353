"""The MSI: its tables (msiinfo, msiextract), and an install, stop, upgrade and uninstall by Wine's msiexec.

What Wine cannot show:
- restart on failure: Wine's service manager ignores MsiServiceConfigFailureActions, so
  the table is checked instead;
- power events and the shutdown control: Wine's ControlService refuses
  SERVICE_CONTROL_POWEREVENT and SERVICE_CONTROL_SHUTDOWN from a program, as Windows does
  (programs/services/rpc.c, svcctl_ControlService), and nothing in Wine broadcasts power
  events. Wine does send PRESHUTDOWN and SHUTDOWN to a service when the prefix shuts
  down, but services.exe terminates the service process at the same moment (services.c,
  scmdatabase_wait_terminate), so the goodbye loses that race. The relay those events go
  through is tested against a real broker in tests/agent/windows/test_power_relay.py;
- the ImagePath Windows Installer writes: Wine's msiexec joins the key file's path and the
  Arguments column without quotes (msi/action.c, ITERATE_InstallService), Windows Installer
  quotes the path; test_msi_service_path checks what the table leaves to the installer.

Wine runs services only while some other program of the prefix runs, so one
(`Wine.keep_running`) runs beside the service from before the install to the end.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent import protocol
from agent.protocol import Batch, Presence
from tests.support.agent_process import write_config
from tests.support.mqtt import Received, Subscriber
from tests.support.services import Mosquitto
from tests.support.stored import spool_contents
from tests.support.waiting import wait_until
from tests.support.wine import Wine, build, windows_path
from tests.windows.conftest import WindowsBuild

SERVICE_KEY = r"HKLM\System\CurrentControlSet\Services\deskwatch-agent"
SETTINGS_KEY = r"HKLM\Software\deskwatch\Agent"


def _table(msi: Path, name: str) -> list[list[str]]:
    done = subprocess.run(["msiinfo", "export", str(msi), name], capture_output=True, text=True, check=True)
    lines = done.stdout.replace("\r\n", "\n").split("\n")[3:]  # msiinfo writes .idt: CRLF, 3 header lines
    return [line.split("\t") for line in lines if "\t" in line]


def test_msi_tables(windows_build: WindowsBuild) -> None:
    msi = windows_build.msi
    assert msi.name == "deskwatch-agent-0.1.0-x64.msi"
    (service,) = _table(msi, "ServiceInstall")
    # name, display name, own process (0x10), automatic (2), normal errors (1), LocalSystem, arguments
    assert service[1:6] == ["deskwatch-agent", "deskwatch agent", "16", "2", "1"]
    assert service[8] == "LocalSystem" and service[10] == "-m agent service" and service[11] == "Service"
    (control,) = _table(msi, "ServiceControl")
    # start on install, stop on install and uninstall, remove on uninstall
    assert control[1] == "deskwatch-agent" and int(control[2]) == 0x1 | 0x2 | 0x20 | 0x80
    (failure,) = _table(msi, "MsiServiceConfigFailureActions")
    assert failure[1] == "deskwatch-agent" and failure[6] == "1[~]1[~]1"  # restart, restart, restart
    sequence = {row[0]: int(row[2]) for row in _table(msi, "InstallExecuteSequence")}
    assert sequence["InstallServices"] < sequence["MsiConfigureServices"] < sequence["StartServices"]
    assert sequence["AppSearch"] < sequence["RestoreBroker"] < sequence["LaunchConditions"]
    props = {row[0]: row[1] for row in _table(msi, "Property")}
    assert props["UpgradeCode"] == "{6F1C8C53-3A4E-4C1B-9A0B-2D3E5C7A9B11}"
    assert {"BROKER", "AGENT_ID", "SITE", "CA_FILE", "COMMAND_KEY"} <= set(
        props["SecureCustomProperties"].split(";")
    )
    upgrades = _table(msi, "Upgrade")
    assert {row[6] for row in upgrades} == {"WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"}
    registry = {row[3]: (row[2], row[4], row[5]) for row in _table(msi, "Registry")}
    assert registry["Broker"] == (r"SOFTWARE\deskwatch\Agent", "[BROKER]", "SettingBroker")
    components = {row[0]: row for row in _table(msi, "Component")}
    assert components["SettingSite"][4] == "SITE"  # written only when the property has a value
    assert int(components["Data"][3]) & 0x10  # ProgramData: permanent, upgrades and uninstalls keep it
    listed = subprocess.run(["msiextract", "-l", str(msi)], capture_output=True, text=True, check=True).stdout
    files = {line.replace("\\", "/").split("deskwatch/", 1)[-1] for line in listed.splitlines()}
    for expected in (
        "python.exe",
        "pythonw.exe",
        "python313.dll",
        "Lib/site-packages/agent/winservice.py",
    ):
        assert expected in files, expected
    assert "_wmi.pyd" not in files and not any(f.startswith("Lib/site-packages/win32com") for f in files)


def test_msi_service_path(windows_build: WindowsBuild) -> None:
    """What the ImagePath is made of: the installer quotes the key file's path, the table adds the arguments.

    The ServiceInstall table holds no path: Windows Installer's InstallServices takes the
    component's key file (pythonw.exe in INSTALLDIR, C:\\Program Files\\deskwatch) and
    registers `"<that path>" <Arguments>`; its verbose log shows the quotes, e.g.
    `ServiceInstall(...,ImagePath="C:\\Program Files\\Intel\\iCLS Client\\SocketHeciServer.exe",...)`.
    So the Arguments column must carry only arguments, never the executable or a quote.
    """
    msi = windows_build.msi
    (service,) = _table(msi, "ServiceInstall")
    assert service[10] == "-m agent service" and '"' not in service[10] and ".exe" not in service[10]
    components = {row[0]: row for row in _table(msi, "Component")}
    service_component = components[service[11]]
    assert service_component[2] == "INSTALLDIR" and service_component[5] == "pythonw.exe"  # its key file
    files = {row[0]: row for row in _table(msi, "File")}
    assert files["pythonw.exe"][1] == service[11] and files["pythonw.exe"][2] == "pythonw.exe"
    directories = {row[0]: row for row in _table(msi, "Directory")}
    assert directories["INSTALLDIR"][1:3] == ["ProgramFiles64Folder", "deskwatch"]


def _presences(messages: list[Received], agent_id: str) -> list[Presence]:
    return [
        protocol.decode(m.payload, Presence)
        for m in messages
        if m.topic.endswith(f"/{agent_id}/state") and m.payload
    ]


def _seqs(messages: list[Received]) -> set[int]:
    return {protocol.decode(m.payload, Batch).seq for m in messages if m.topic.endswith("/metrics")}


def _retained(port: int, agent_id: str) -> Presence:
    """The retained state as a newcomer (the collector after a restart) gets it."""
    with Subscriber(port, f"deskwatch/v1/{agent_id}/state") as sub:
        (got,) = sub.wait_for(lambda messages: len(messages) >= 1, 10)
        assert got.retain
        return protocol.decode(got.payload, Presence)


def test_msiexec_installs_starts_stops_upgrades_and_uninstalls(
    tmp_path: Path, windows_build: WindowsBuild, mosquitto: Mosquitto
) -> None:
    agent_id = "wine-msi-pc"
    wine = Wine(tmp_path / "prefix")
    wine.boot()
    drive = tmp_path / "prefix" / "drive_c"
    data = drive / "ProgramData" / "deskwatch"
    data.mkdir(parents=True, exist_ok=True)
    # An administrator's agent.toml beside the MSI's properties: fast rounds and loopback-only
    # checks; the properties (broker, site, agent id) win over it.
    write_config(
        data / "agent.toml",
        agent_id="from-agent-toml",
        broker="mqtt://127.0.0.1:1",
        spool=Path("C:/ProgramData/deskwatch/spool.db"),
        interval=0.5,
        gateway_port=mosquitto.port,
    )
    keeper = wine.keep_running(windows_build.runtime)
    try:
        with Subscriber(mosquitto.port, "deskwatch/v1/+/+") as sub:

            def presences() -> list[Presence]:
                return _presences(sub.snapshot(), agent_id)

            msi = windows_path(windows_build.msi)
            done = wine.run_tool(
                ["msiexec", "/i", msi, "/qn", f"BROKER={mosquitto.url}", "SITE=HQ", f"AGENT_ID={agent_id}"],
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert (
                drive / "Program Files" / "deskwatch" / "Lib" / "site-packages" / "agent" / "runner.py"
            ).exists()
            service = wine.reg_query(SERVICE_KEY)
            assert "0x2" in service  # automatic start
            # Wine's msiexec: key file and Arguments joined, unquoted (Windows Installer quotes the
            # path); Wine's CreateProcess still finds pythonw.exe behind the space.
            assert r"C:\Program Files\deskwatch\pythonw.exe -m agent service" in service
            settings = wine.reg_query(SETTINGS_KEY)
            assert mosquitto.url in settings and "HQ" in settings and "CaFile" not in settings
            uninstall = wine.run_tool(
                ["reg", "query", r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall", "/s"]
            )
            assert "deskwatch agent" in uninstall.stdout  # Programs and Features lists it

            # The MSI's StartServices started it: no `net start` needed.
            wait_until(
                lambda: any(p.status == "online" for p in presences()),
                timeout=90,
                what="the installed service's birth",
            )
            birth = next(p for p in presences() if p.status == "online")
            assert birth.site == "HQ" and birth.facts is not None and birth.facts.version == "0.1.0"
            # platform.platform() without _wmi.pyd: sys.getwindowsversion() and `ver` (Wine says 10)
            assert birth.facts.os.startswith("Windows-10-10.0."), birth.facts.os
            log = data / "agent.log"
            assert "service deskwatch-agent starting" in log.read_text(errors="replace")
            wait_until(lambda: len(_seqs(sub.snapshot())) >= 3, timeout=60, what="batches from the service")

            # A clean stop, as `net stop` (or the Services console) asks for it: what is in
            # flight is acknowledged, the goodbye replaces the birth, and nothing waits.
            done = wine.run_tool(["net", "stop", "deskwatch-agent"])
            assert done.returncode == 0, done.stdout + done.stderr
            wait_until(lambda: presences()[-1].status == "offline", timeout=30, what="goodbye after net stop")
            assert presences()[-1].reason == "shutdown"
            stopped = wine.run_tool(["sc", "query", "deskwatch-agent"]).stdout
            assert "STOPPED" in stopped, stopped
            made, waiting = spool_contents(data / "spool.db")
            assert made >= 3 and waiting == frozenset(), (made, sorted(waiting))
            assert set(range(1, made + 1)) <= _seqs(sub.snapshot())
            retained = _retained(mosquitto.port, agent_id)
            assert (retained.status, retained.reason) == ("offline", "shutdown")
            assert "the service manager asks the agent to stop" in log.read_text(errors="replace")

            done = wine.run_tool(["net", "start", "deskwatch-agent"])
            assert done.returncode == 0, done.stdout + done.stderr
            wait_until(lambda: presences()[-1].status == "online", timeout=60, what="birth after net start")

            # An upgrade given no properties keeps them (and the spool); the installer stops the
            # old service (a clean stop again) and starts the new one.
            newer = build(tmp_path / "newer", version="0.1.1")
            done = wine.run_tool(["msiexec", "/i", windows_path(newer), "/qn"], timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
            assert mosquitto.url in wine.reg_query(SETTINGS_KEY)
            assert (data / "spool.db").exists()

            def upgraded() -> bool:
                last = presences()[-1]
                return last.status == "online" and last.facts is not None and last.facts.version == "0.1.1"

            wait_until(upgraded, timeout=90, what="birth of the upgraded service")

            done = wine.run_tool(["msiexec", "/x", windows_path(newer), "/qn"], timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
            wait_until(lambda: presences()[-1].status == "offline", timeout=30, what="goodbye at uninstall")
            went = [(p.status, p.reason) for p in presences()]
            assert ("offline", "lost") not in went, went  # every stop was a clean one
            assert went.count(("offline", "shutdown")) == 3, went  # net stop, upgrade, uninstall
        assert _retained(mosquitto.port, agent_id).reason == "shutdown"
    finally:
        wine.kill()
        keeper.wait(30)
    assert not (drive / "Program Files" / "deskwatch" / "python.exe").exists()
    assert wine.reg_query(SERVICE_KEY) == ""
    assert (data / "spool.db").exists()  # an uninstall keeps the data


def test_msiexec_without_agent_id_names_the_agent_after_the_computer(
    tmp_path: Path, windows_build: WindowsBuild, mosquitto: Mosquitto
) -> None:
    """No AGENT_ID and no agent_id in agent.toml: the agent is the computer's name, and
    `deskwatch-agent.cmd check` (as docs/agent.md tells an administrator to run it) says so.

    Wine's computer name is this Linux machine's host name (what its hostname.exe prints).
    The agent.toml beside it only keeps the round fast and the checks on loopback.
    """
    wine = Wine(tmp_path / "prefix")
    wine.boot()
    drive = tmp_path / "prefix" / "drive_c"
    data = drive / "ProgramData" / "deskwatch"
    data.mkdir(parents=True, exist_ok=True)
    toml = write_config(
        data / "agent.toml",
        agent_id="unused",
        broker="mqtt://127.0.0.1:1",
        spool=Path("C:/ProgramData/deskwatch/spool.db"),
        interval=0.5,
        gateway_port=mosquitto.port,
    )
    toml.write_text(toml.read_text().replace('agent_id = "unused"\n', ""))
    computer = wine.run_tool(["hostname"]).stdout.strip()
    assert computer, "Wine's hostname.exe printed nothing"
    keeper = wine.keep_running(windows_build.runtime)
    try:
        with Subscriber(mosquitto.port, "deskwatch/v1/+/state") as sub:
            done = wine.run_tool(
                ["msiexec", "/i", windows_path(windows_build.msi), "/qn", f"BROKER={mosquitto.url}"],
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert "AgentId" not in wine.reg_query(SETTINGS_KEY)
            wait_until(lambda: sub.snapshot(), timeout=90, what="the installed service's birth")
            (topic,) = {m.topic for m in sub.snapshot()}
            agent_id = topic.split("/")[2]
            # Windows compares computer names without case; hostname.exe prints the NetBIOS
            # form (upper case), the agent the host name as gethostname() gives it
            assert agent_id.lower() == computer.lower(), (agent_id, computer)
        out, err = tmp_path / "check.out", tmp_path / "check.err"
        launcher = r"C:\Program Files\deskwatch\deskwatch-agent.cmd"
        done = wine.run_tool(
            ["cmd", "/c", launcher, "check", ">", windows_path(out), "2>", windows_path(err)], timeout=120
        )
        assert done.returncode == 0, err.read_text(errors="replace") + done.stdout + done.stderr
        shown = out.read_text(errors="replace")
        assert f"agent id  {agent_id}  site test" in shown, shown  # site: agent.toml's
        assert f"broker    {mosquitto.url}" in shown and r"C:\ProgramData\deskwatch\agent.toml: OK" in shown
    finally:
        wine.kill()
        keeper.wait(30)
