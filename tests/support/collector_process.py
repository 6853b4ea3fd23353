"""A real `python -m collector run` child process, with a config sized for tests and benches."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.services import REPO, free_port
from tests.support.waiting import wait_until

# The switches to ingest's slower paths (collector/ingest.py, collector/line_protocol.py):
# deploy/test.sh sets them to run the same tests on those paths, so children inherit them.
PATH_SWITCHES = ("DESKWATCH_PLAIN_PAHO", "DESKWATCH_NO_C_LINES")
PASSWORD_ENV = "DESKWATCH_TEST_COLLECTOR_PW"  # the broker password's variable ([mqtt] password_env)


def create_token(db_url: str, role: str) -> str:
    """A new API token for `role`, made with the command an administrator uses."""
    made = subprocess.run(
        [sys.executable, "-m", "collector", "token", "create", "--role", role, "--db", db_url],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


class CollectorProcess:
    """One collector process; kill -9 and restart keep its client id, store and buffer."""

    def __init__(
        self,
        workdir: Path,
        broker_url: str,
        metrics_url: str,
        client_id: str = "collector-1",
        db_url: str | None = None,
        extra: str = "",
        flush_interval_seconds: float = 0.05,
        presence_check_seconds: float = 0.5,
        default_interval_seconds: float = 1.0,
        group: str = "test",
        env: dict[str, str] | None = None,
        username: str = "",
        password: str = "",
        ca_file: str = "",
    ) -> None:
        """`username`, `password` and `ca_file` (with an mqtts:// broker) log in as the production
        collector does; the password reaches it by `password_env`, as in production."""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.internal_port = free_port()  # /metrics without a token, as a scraper on loopback reads it
        self.config_path = workdir / "collector.toml"
        login = f'username = "{username}"\npassword_env = "{PASSWORD_ENV}"\n' if username else ""
        login += f'ca_file = "{ca_file}"\n' if ca_file else ""
        db = db_url or f"sqlite:///{workdir / 'collector.db'}"
        self.config_path.write_text(
            f"""
[mqtt]
broker = "{broker_url}"
client_id = "{client_id}"
group = "{group}"
{login}
[metrics]
url = "{metrics_url}"
flush_interval_seconds = {flush_interval_seconds}
retry_backoff_seconds = 0.1
max_backoff_seconds = 1.0
timeout_seconds = 2.0
buffer_dir = "{workdir / "buffer"}"
shutdown_timeout_seconds = 5.0

[store]
url = "{db}"

[presence]
check_interval_seconds = {presence_check_seconds}
default_interval_seconds = {default_interval_seconds}

[http]
listen = "127.0.0.1:{self.port}"
internal_listen = "127.0.0.1:{self.internal_port}"
{extra}
"""
        )
        switches = {name: os.environ[name] for name in PATH_SWITCHES if name in os.environ}
        self.env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **switches, **(env or {})}
        if username:
            self.env[PASSWORD_ENV] = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the process and return at once (start() also waits until it is connected)."""
        log = open(self.workdir / "collector.log", "ab")  # noqa: SIM115 - lives as long as the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "run", "--config", str(self.config_path)],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def start(self, timeout: float = 20.0) -> None:
        self.spawn()
        proc = self.proc
        assert proc is not None
        wait_until(
            lambda: proc.poll() is not None or self.health().get("mqtt_connected"),
            timeout=timeout,
            what=lambda: f"the collector to connect to the broker: {self.log()[-2000:]}",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited with {proc.returncode}: {self.log()[-2000:]}")

    def health(self) -> dict[str, object]:
        with contextlib.suppress(OSError, ValueError):
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as resp:
                    result: dict[str, object] = json.load(resp)
                    return result
            except urllib.error.HTTPError as err:
                result = json.load(err)
                return result
        return {}

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.internal_url}/metrics", timeout=5) as resp:
            text: str = resp.read().decode()
            return text

    def metric(self, name: str) -> float:
        """The sum of every series of `name` on /metrics (0 if absent)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def log(self) -> str:
        path = self.workdir / "collector.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the collector is not running")
        return self.proc.pid

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.proc = None
        return code
