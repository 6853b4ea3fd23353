"""The quick start's service scripts: they say "listening" only for their own process; and the
quick start itself: the console login it prints works, and `stop` ends what it started."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.agent_process import agent_env
from tests.support.services import DEPLOY, REPO, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
SCRIPTS = ["mosquitto.sh", "victoria-metrics.sh"]


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEPLOY / "local" / name), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_port_in_use_is_refused_not_reported_as_listening(name: str, tmp_path: Path) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()  # another program (or another stack's broker) holds the port
    port = str(squatter.getsockname()[1])
    try:
        started = _script(name, "start", str(tmp_path / "data"), port)
        status = _script(name, "status", str(tmp_path / "data"))
    finally:
        _script(name, "stop", str(tmp_path / "data"))
        squatter.close()
    assert started.returncode == 1, started.stdout
    assert f"port {port} is in use by another process" in started.stderr
    assert "listening" not in started.stdout and "on http" not in started.stdout
    assert status.stdout.strip() == "stopped"


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_free_port_starts_and_stops(name: str, tmp_path: Path) -> None:
    port = str(free_port())
    try:
        started = _script(name, "start", str(tmp_path / "data"), port)
        assert started.returncode == 0, started.stderr
        assert f"127.0.0.1:{port}" in started.stdout
        assert _script(name, "status", str(tmp_path / "data")).stdout.strip() == "running"
    finally:
        _script(name, "stop", str(tmp_path / "data"))
    assert _script(name, "status", str(tmp_path / "data")).stdout.strip() == "stopped"


def _quickstart(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEPLOY / "quickstart.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
        check=False,
    )


def _alive(pid: int) -> bool:
    """Running, and not a zombie no one has reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def test_the_quick_start_prints_a_console_login_that_works_and_stop_ends_it_all(tmp_path: Path) -> None:
    """`bash deploy/quickstart.sh` in a directory and on ports of its own (so it never meets another
    stack on this machine): it prints the console's address and a one-time admin password, which
    sign in to the queue; a second start shows no password; `stop` ends every process it started."""
    state = tmp_path / "quickstart"
    ports = {name: free_port() for name in ("BROKER", "VM", "API", "OPS")}
    env = {
        **agent_env(),  # this checkout's code, whichever deskwatch the venv was installed from
        "DESKWATCH_QUICKSTART_DIR": str(state),
        **{f"DESKWATCH_{name}_PORT": str(port) for name, port in ports.items()},
    }
    pids: dict[str, int] = {}
    try:
        started = _quickstart(env)
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        shown = re.search(
            r"helpdesk console\s+(http://\S+/)\s+login: admin / (\S+)\s+\(shown only this once\)",
            started.stdout,
        )
        assert shown, started.stdout
        url, password = shown.groups()
        assert url == f"http://127.0.0.1:{ports['API']}/"
        pids = {p.stem: int(p.read_text()) for p in state.rglob("*.pid")}
        assert set(pids) == {"agent", "collector", "office", "mosquitto", "victoria-metrics"}, pids
        with httpx.Client(base_url=url, timeout=30) as browser:
            form = browser.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert form.status_code == 200 and csrf
            signed_in = browser.post(
                "/login", data={"username": "admin", "password": password, "csrf": csrf.group(1)}
            )
            assert signed_in.status_code == 303, signed_in.text
            queue = browser.get("/")
            assert queue.status_code == 200 and 'data-count="total"' in queue.text
            assert (
                "<h1>Queue</h1>" in queue.text and "<span>admin <small>(admin)</small></span>" in queue.text
            )
        again = _quickstart(env)  # idempotent; the password was shown once
        assert again.returncode == 0, again.stderr[-3000:]
        assert password not in again.stdout and "its password was shown when it was made" in again.stdout
        assert {p.stem: int(p.read_text()) for p in state.rglob("*.pid")} == pids  # nothing started twice
    finally:
        stopped = _quickstart(env, "stop", timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    wait_until(
        lambda: not any(_alive(pid) for pid in pids.values()) and not any(map(_answers, ports.values())),
        timeout=15,
        interval=0.2,
        what=lambda: f"every quick-start process to end: {[n for n, p in pids.items() if _alive(p)]}",
    )
    status = _quickstart(env, "status", timeout=60).stdout
    assert "running" not in status and status.count("stopped") == 5, status
