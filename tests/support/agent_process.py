"""Run `deskwatch-agent` as a real process, the way a PC's service manager would."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.services import REPO

# Loopback only: the tests never probe the machine's real gateway or the internet.
LOCAL_NETWORK = """
[network]
gateway = "127.0.0.1"
gateway_ports = [{gateway_port}]
dns_names = ["localhost"]
internet_targets = ["127.0.0.1:{gateway_port}"]
timeout_seconds = 1.0
"""


def agent_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def snmp_section(device_urls: list[str], interval: float = 1.0) -> str:
    """[snmp] polling exactly these devices (no discovery: nothing off this machine is asked)."""
    urls = ", ".join(f'"{u}"' for u in device_urls)
    return (
        f"[snmp]\nenabled = true\ninterval_seconds = {interval}\ntimeout_seconds = 1\n"
        f"device_urls = [{urls}]\n"
        "[snmp.discovery]\ncups = false\nwindows_spooler = false\ngateway = false\n"
    )


def write_config(
    path: Path,
    *,
    agent_id: str,
    broker: str,
    spool: Path,
    interval: float = 0.2,
    gateway_port: int = 9,
    extra: str = "",
    snmp: str = "[snmp]\nenabled = false\n",
) -> Path:
    """An agent.toml for tests: fast rounds, no jitter, loopback-only network checks."""
    path.write_text(
        f'agent_id = "{agent_id}"\nsite = "test"\ninterval_seconds = {interval}\njitter_seconds = 0\n'
        f'[mqtt]\nbroker = "{broker}"\nreconnect_max_seconds = 1\n'
        f'[spool]\npath = "{spool}"\n[host]\ntop_processes = 0\n'
        + LOCAL_NETWORK.format(gateway_port=gateway_port)
        + snmp
        + extra
    )
    return path


class AgentProcess:
    """`python -m agent run --config F` in the background; stop (SIGTERM) or kill (SIGKILL).

    `log_through_pipe`: the agent writes its log to a pipe this process copies into `log`,
    so the log survives limits put on the agent's own file writes (RLIMIT_FSIZE). `env` is
    added to the agent's environment. `file_size_limit` starts it with RLIMIT_FSIZE set to so
    many bytes (1: a disk full before the agent starts; with `log_through_pipe`).
    """

    def __init__(
        self,
        config: Path,
        log: Path,
        env: dict[str, str] | None = None,
        log_through_pipe: bool = False,
        file_size_limit: int | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.env = env or {}
        self.log_through_pipe = log_through_pipe
        self.file_size_limit = file_size_limit
        self.proc: subprocess.Popen[bytes] | None = None
        self._copier: threading.Thread | None = None

    def start(self) -> AgentProcess:
        command = [sys.executable, "-m", "agent", "run", "--config", str(self.config)]
        if self.log_through_pipe:
            self.proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**agent_env(), **self.env},
                cwd=REPO,
                preexec_fn=self._limit_file_size if self.file_size_limit is not None else None,
            )
            self._copier = threading.Thread(target=self._copy, args=(self.proc,), daemon=True)
            self._copier.start()
            return self
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env={**agent_env(), **self.env}, cwd=REPO
            )
        return self

    def _limit_file_size(self) -> None:  # in the child, before the agent starts
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_size_limit or 1, resource.RLIM_INFINITY))

    def _copy(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with proc.stdout, self.log.open("ab", buffering=0) as out:
            for line in proc.stdout:
                out.write(line)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def terminate(self, timeout: float = 15) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        self.proc = None
        if self._copier is not None:
            self._copier.join(5)
        return rc

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._copier is not None:
            self._copier.join(5)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`deskwatch-agent ARGS` to completion, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        capture_output=True,
        text=True,
        env=agent_env(),
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
