"""The quick start's service scripts: they say "listening" only for their own process."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.services import DEPLOY, free_port

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
