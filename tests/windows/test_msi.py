"""The MSI: its tables (msiinfo, msiextract), and an install, upgrade and uninstall by Wine's msiexec.

What Wine cannot show: restart on failure (Wine's service manager ignores
MsiServiceConfigFailureActions; the table is checked instead), power events (Wine sends
none; tests/agent/windows/ checks their mapping), and Wine's msiexec writes the service's
ImagePath without the quotes Windows Installer puts around a path with a space, so the
test quotes it, as Windows would have, before starting the service. Wine also runs
services only while some other program of the prefix runs, so one waits beside it. Wine's
`net stop` did not reach the service's stop handler here (the stop path itself is the
runner's stop event, which the Linux tests stop gracefully), so the test does not stop it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.mqtt import Received, Subscriber
from tests.support.services import Mosquitto
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
        "Lib/site-packages/agent/windows/service.py",
    ):
        assert expected in files, expected
    assert "_wmi.pyd" not in files and not any(f.startswith("Lib/site-packages/win32com") for f in files)


def _state(sub: Subscriber, agent_id: str, status: str, timeout: float = 60) -> dict[str, object]:
    def last(messages: list[Received]) -> dict[str, object] | None:
        mine = [json.loads(m.payload) for m in messages if m.topic.endswith(f"/{agent_id}/state")]
        # Wine may start the automatic service more than once (each time its service manager
        # starts); any birth of the installed agent proves it runs as a service.
        return next((m for m in reversed(mine) if m["status"] == status), None)

    sub.wait_for(lambda messages: last(messages) is not None, timeout)
    found = last(sub.snapshot())
    assert found is not None
    return found


def test_msiexec_installs_starts_upgrades_and_uninstalls(
    tmp_path: Path, windows_build: WindowsBuild, mosquitto: Mosquitto
) -> None:
    wine = Wine(tmp_path / "prefix")
    wine.boot()
    drive = tmp_path / "prefix" / "drive_c"
    try:
        with Subscriber(mosquitto.port, "deskwatch/v1/+/state") as sub:
            msi = windows_path(windows_build.msi)
            done = wine.run_tool(
                ["msiexec", "/i", msi, "/qn", f"BROKER={mosquitto.url}", "SITE=HQ", "AGENT_ID=wine-msi-pc"],
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert (
                drive / "Program Files" / "deskwatch" / "Lib" / "site-packages" / "agent" / "runner.py"
            ).exists()
            service = wine.reg_query(SERVICE_KEY)
            assert "pythonw.exe -m agent service" in service and "0x2" in service  # automatic start
            settings = wine.reg_query(SETTINGS_KEY)
            assert mosquitto.url in settings and "HQ" in settings and "CaFile" not in settings
            uninstall = wine.run_tool(
                ["reg", "query", r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall", "/s"]
            )
            assert "deskwatch agent" in uninstall.stdout  # Programs and Features lists it

            image = r'"C:\Program Files\deskwatch\pythonw.exe" -m agent service'
            wine.reg_add(SERVICE_KEY, "ImagePath", image, "REG_EXPAND_SZ")
            keeper = wine.start_python(
                drive / "Program Files" / "deskwatch",
                '-c "import time; time.sleep(600)"',
                tmp_path / "keeper.out",
                tmp_path / "keeper.err",
            )
            try:
                wine.run_tool(["net", "start", "deskwatch-agent"])
                birth = _state(sub, "wine-msi-pc", "online")
                assert birth["site"] == "HQ"
                log = drive / "ProgramData" / "deskwatch" / "agent.log"
                assert "service deskwatch-agent starting" in log.read_text(errors="replace")
                assert (drive / "ProgramData" / "deskwatch" / "spool.db").exists()

                # An upgrade given no properties keeps them (and the spool).
                newer = build(tmp_path / "newer", version="0.1.1")
                done = wine.run_tool(["msiexec", "/i", windows_path(newer), "/qn"], timeout=300)
                assert done.returncode == 0, done.stdout + done.stderr
                assert mosquitto.url in wine.reg_query(SETTINGS_KEY)
                assert (drive / "ProgramData" / "deskwatch" / "spool.db").exists()

                done = wine.run_tool(["msiexec", "/x", windows_path(newer), "/qn"], timeout=300)
                assert done.returncode == 0, done.stdout + done.stderr
            finally:
                wine.kill()
                keeper.wait(30)
        assert not (drive / "Program Files" / "deskwatch" / "python.exe").exists()
        assert wine.reg_query(SERVICE_KEY) == ""
        assert (drive / "ProgramData" / "deskwatch" / "spool.db").exists()  # an uninstall keeps the data
    finally:
        wine.kill()
