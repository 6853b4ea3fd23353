"""The Windows service's power events, through PowerRelay to the runner, against a real Mosquitto.

The relay and the runner are pure Python, so they run here as they do on Windows; only the
service control manager is played by a thread of tests/support/relayed_agent.py (Windows
would call the service with SERVICE_CONTROL_POWEREVENT, which nothing here can send). The
same helper runs under the Windows CPython in tests/windows/test_agent.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import protocol
from agent.protocol import Presence
from tests.support.agent_process import agent_env, write_config
from tests.support.mqtt import Received, Subscriber
from tests.support.services import REPO, Mosquitto

pytestmark = pytest.mark.slow

HELPER = REPO / "tests" / "support" / "relayed_agent.py"


def presences(messages: list[Received]) -> list[tuple[str, str]]:
    return [(p.status, p.reason) for p in (protocol.decode(m.payload, Presence) for m in messages)]


def wait_for(sub: Subscriber, presence: tuple[str, str], count: int = 1) -> None:
    sub.wait_for(lambda messages: presences(messages).count(presence) >= count, 20)


def retained(port: int, agent_id: str) -> tuple[str, str]:
    """The state a collector that subscribes now is told."""
    with Subscriber(port, f"deskwatch/v1/{agent_id}/state") as late:
        (got,) = late.wait_for(lambda messages: len(messages) >= 1, 10)
        assert got.retain
        return presences([got])[0]


def start(tmp_path: Path, agent_id: str, broker: str) -> tuple[subprocess.Popen[bytes], Path]:
    config = write_config(
        tmp_path / "agent.toml",
        agent_id=agent_id,
        broker=broker,
        spool=tmp_path / "spool",
        extra="[inventory]\nenabled = false\n",
    )
    events = tmp_path / "events"
    with (tmp_path / "agent.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, str(HELPER), str(config), str(events)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=agent_env(),
            cwd=REPO,
        )
    return proc, events


def deliver(events: Path, event: str) -> None:
    with events.open("a") as out:
        out.write(event + "\n")


def test_sleep_resume_shutdown_through_the_relay_leave_no_last_will(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    proc, events = start(tmp_path, "laptop-w1", mosquitto.url)
    try:
        with Subscriber(mosquitto.port, "deskwatch/v1/laptop-w1/state") as sub:
            wait_for(sub, ("online", ""))
            deliver(events, "sleep")
            wait_for(sub, ("offline", "sleep"))
            assert retained(mosquitto.port, "laptop-w1") == ("offline", "sleep")

            deliver(events, "resume")  # Windows sends two resumes; the relay passes one
            deliver(events, "resume")
            wait_for(sub, ("online", ""), count=2)
            assert retained(mosquitto.port, "laptop-w1") == ("online", "")

            deliver(events, "shutdown")
            wait_for(sub, ("offline", "shutdown"))
            assert proc.wait(20) == 0  # the relayed shutdown also ends the service
            # A fixed time, for nothing to arrive in: the connection is gone, a Last Will would be here.
            time.sleep(1.0)
            assert presences(sub.snapshot()) == [
                ("online", ""),
                ("offline", "sleep"),
                ("online", ""),
                ("offline", "shutdown"),
            ]
        assert retained(mosquitto.port, "laptop-w1") == ("offline", "shutdown")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "agent.log").read_text()
    assert "announced sleep to the broker" in log and "announced shutdown to the broker" in log


def test_a_pc_that_dies_asleep_stays_asleep(tmp_path: Path, mosquitto: Mosquitto) -> None:
    # The battery runs out in the bag: the process and its socket die without a word, after
    # the relayed sleep had already disconnected cleanly, so the broker holds no Will to send.
    proc, events = start(tmp_path, "laptop-w2", mosquitto.url)
    try:
        with Subscriber(mosquitto.port, "deskwatch/v1/laptop-w2/state") as sub:
            wait_for(sub, ("online", ""))
            deliver(events, "sleep")
            wait_for(sub, ("offline", "sleep"))
            proc.kill()
            proc.wait()
            time.sleep(1.0)  # a fixed time, for a Last Will to arrive in (none may)
            assert presences(sub.snapshot()) == [("online", ""), ("offline", "sleep")]
        assert retained(mosquitto.port, "laptop-w2") == ("offline", "sleep")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
