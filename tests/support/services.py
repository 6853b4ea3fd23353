"""Private instances of Mosquitto and VictoriaMetrics for one test, on free ports.

Each instance has its own config and data directory under the test's tmp path, is
started from the Debian binaries that deploy/install-deps.sh installs, and can be
stopped, killed and restarted on the same port and data, as the fault tests need.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on now (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    """Return once a TCP connect to the port succeeds; raise AssertionError otherwise."""

    def connects() -> bool:
        socket.create_connection((host, port), timeout=0.5).close()
        return True

    wait_until(connects, timeout=timeout, what=f"something to listen on {host}:{port}", ignore=(OSError,))


def require_binary(name: str) -> str:
    """The path of a binary deploy/install-deps.sh installs; fail loudly if it is missing."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        raise RuntimeError(f"{name} is not installed: run deploy/install-deps.sh")
    return path


class Service:
    """A child process on a fixed port that can be stopped, killed and started again."""

    name = "service"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        log = open(self.workdir / f"{self.name}.stdout", "ab")  # noqa: SIM115 - lives as long as the child
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        log.close()
        try:
            self.wait_ready()
        except AssertionError:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        """The running service's process id."""
        if self.proc is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self.proc.pid

    def wait_ready(self) -> None:
        wait_for_port(self.port)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM), SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """Crash it: SIGKILL, no chance to save anything."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Mosquitto(Service):
    """A private broker; `config` is a template with @PORT@ and @DIR@ (default: deploy/mosquitto/dev.conf)."""

    name = "mosquitto"

    def __init__(self, workdir: Path, port: int | None = None, config: str | None = None) -> None:
        super().__init__(workdir, port)
        template = config if config is not None else (DEPLOY / "mosquitto" / "dev.conf").read_text()
        self.config_path = self.workdir / "mosquitto.conf"
        self.config_path.write_text(template.replace("@PORT@", str(self.port)).replace("@DIR@", str(workdir)))

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [require_binary("mosquitto"), "-c", str(self.config_path)]


class VictoriaMetrics(Service):
    """A private VictoriaMetrics with settings from deploy/local/victoria-metrics.sh."""

    name = "victoria-metrics"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            require_binary("victoria-metrics"),
            f"-storageDataPath={self.workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=1",
            # Same as production: one sample per series and timestamp, whatever is written twice.
            "-dedup.minScrapeInterval=1ms",
            # Tests query what they just wrote: no 30 s hiding of fresh data, no cached answers.
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
        ]

    def wait_ready(self) -> None:
        def status() -> int:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as resp:
                return int(resp.status)

        wait_until(
            status,
            done=lambda code: code == 200,
            timeout=20,
            what=f"VictoriaMetrics on {self.port} to be healthy",
            ignore=(OSError,),
        )


class ProductionMosquitto(Mosquitto):
    """The production config (TLS, passwords, ACL) from deploy/mosquitto/, in a private directory."""

    def __init__(self, workdir: Path, users: dict[str, str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "data").mkdir(exist_ok=True)
        subprocess.run(
            [str(DEPLOY / "mosquitto" / "make-certs.sh"), str(workdir / "certs"), "localhost"],
            check=True,
            capture_output=True,
        )
        shutil.copy(DEPLOY / "mosquitto" / "acl", workdir / "acl")
        passwd = workdir / "passwd"
        passwd.touch()
        for user, password in users.items():
            subprocess.run(
                [require_binary("mosquitto_passwd"), "-b", str(passwd), user, password], check=True
            )
        # `information` adds the line that says a SIGHUP was taken (reload() waits for it).
        config = (DEPLOY / "mosquitto" / "production.conf").read_text() + "user root\nlog_type information\n"
        super().__init__(workdir, config=config)
        self.ca_file = str(workdir / "certs" / "ca.crt")

    def reload(self) -> None:
        """SIGHUP, and return once Mosquitto has re-read its password file and ACL.

        It logs "Reloading config." and reloads before it serves anything else (one thread),
        so a client that connects after the line is there meets the new passwords.
        """
        log = self.workdir / "mosquitto.log"

        def reloads() -> int:
            return log.read_text(errors="replace").count("Reloading config.") if log.exists() else 0

        before = reloads()
        if self.proc is None:
            raise RuntimeError("Mosquitto is not running")
        self.proc.send_signal(signal.SIGHUP)
        wait_until(reloads, done=lambda count: count > before, what="Mosquitto to re-read its config")

    @property
    def tls_url(self) -> str:
        """Where agents and the collector connect: TLS, by the name the server certificate holds."""
        return f"mqtts://localhost:{self.port}"

    def run_enroll(self, agent_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """`deskwatch-collector agents enroll AGENT_ID *extra` on this broker's files, as run."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "collector",
                "agents",
                "enroll",
                agent_id,
                "--passwd-file",
                str(self.workdir / "passwd"),
                "--acl-file",
                str(self.workdir / "acl"),
                *extra,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            check=False,
        )

    def enroll(self, agent_id: str) -> str:
        """Enroll an agent as an administrator does (`deskwatch-collector agents enroll`, then a
        reload) and return the password it prints for the PC."""
        result = self.run_enroll(agent_id)
        if result.returncode != 0:
            raise RuntimeError(f"enrolling {agent_id} failed: {result.stderr}")
        self.reload()
        return result.stdout.strip().splitlines()[-1]
