"""A PC that goes to sleep or shuts down says so before it goes, so it is never taken for lost.

A real agent process, a real Mosquitto and a real dbus-daemon; only logind is a stand-in
(tests/support/logind.py: the real one would put this machine to sleep).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import protocol
from agent.protocol import Presence
from tests.support.agent_process import AgentProcess, write_config
from tests.support.logind import Bus, FakeLogind
from tests.support.mqtt import Received, Subscriber
from tests.support.services import Mosquitto
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def logind(tmp_path: Path) -> Iterator[tuple[Bus, FakeLogind]]:
    with Bus(tmp_path / "dbus") as bus:
        fake = FakeLogind(bus)
        try:
            yield bus, fake
        finally:
            fake.close()


def presences(messages: list[Received]) -> list[Presence]:
    return [protocol.decode(m.payload, Presence) for m in messages if m.payload]


def last_presence(sub: Subscriber) -> Presence | None:
    found = presences(sub.snapshot())
    return found[-1] if found else None


def test_sleep_is_announced_before_the_lock_is_released_and_the_last_will_never_fires(
    tmp_path: Path, mosquitto: Mosquitto, logind: tuple[Bus, FakeLogind]
) -> None:
    bus, fake = logind
    config = write_config(
        tmp_path / "agent.toml",
        agent_id="laptop-7",
        broker=mosquitto.url,
        spool=tmp_path / "spool",
    )
    agent = AgentProcess(config, tmp_path / "agent.log", env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
    with Subscriber(mosquitto.port, "deskwatch/v1/laptop-7/state") as sub:
        agent.start()
        try:
            wait_until(lambda: (p := last_presence(sub)) is not None and p.status == "online", what="online")
            wait_until(lambda: fake.held() == 1, what="an inhibitor lock")
            assert fake.inhibits[0] == (
                "sleep:shutdown",
                "deskwatch",
                "tell the helpdesk this PC goes to sleep or shuts down",
                "delay",
            )

            fake.signal("PrepareForSleep", True)
            wait_until(
                lambda: fake.held() == 0, what="the lock released"
            )  # logind may go on: the goodbye is out by now
            goodbye = last_presence(sub)
            assert goodbye is not None and (goodbye.status, goodbye.reason) == ("offline", "sleep")
            # The agent disconnected cleanly: the broker dropped its Last Will ("lost"). A fixed
            # time, for nothing to arrive in: a Will would come at once.
            time.sleep(1.0)
            assert [p.reason for p in presences(sub.snapshot()) if p.status == "offline"] == ["sleep"]

            fake.signal("PrepareForSleep", False)  # woke up
            wait_until(lambda: (p := last_presence(sub)) is not None and p.status == "online", what="online")
            wait_until(lambda: fake.held() == 1, what="an inhibitor lock")  # a new lock for the next sleep
            assert len(fake.inhibits) == 2

            fake.signal("PrepareForShutdown", True)
            wait_until(lambda: fake.held() == 0, what="the lock released")
            last = last_presence(sub)
            assert last is not None and (last.status, last.reason) == ("offline", "shutdown")
            assert agent.terminate() == 0  # the service stop that follows says nothing more
            time.sleep(0.5)  # a fixed time, for nothing more to arrive in
            offline = [p.reason for p in presences(sub.snapshot()) if p.status == "offline"]
            assert offline == ["sleep", "shutdown"]
        finally:
            agent.cleanup()


def test_a_pc_that_dies_asleep_is_still_asleep_not_lost(
    tmp_path: Path, mosquitto: Mosquitto, logind: tuple[Bus, FakeLogind]
) -> None:
    # A sleeping laptop's connection dies without a word; so does a killed process. The
    # broker publishes a Last Will only for a connection that did not end with DISCONNECT.
    bus, fake = logind
    config = write_config(
        tmp_path / "agent.toml", agent_id="laptop-8", broker=mosquitto.url, spool=tmp_path / "spool"
    )
    agent = AgentProcess(config, tmp_path / "agent.log", env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
    with Subscriber(mosquitto.port, "deskwatch/v1/laptop-8/state") as sub:
        agent.start()
        try:
            wait_until(lambda: fake.held() == 1, what="an inhibitor lock")
            fake.signal("PrepareForSleep", True)
            wait_until(lambda: fake.held() == 0, what="the lock released")
            agent.kill()
            time.sleep(1.0)  # a fixed time, for a Last Will to arrive in (none may)
            assert [(p.status, p.reason) for p in presences(sub.snapshot())][-1] == ("offline", "sleep")
        finally:
            agent.cleanup()
    # and without the announcement the same death is the Last Will: "lost"
    agent = AgentProcess(config, tmp_path / "agent2.log", env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
    with Subscriber(mosquitto.port, "deskwatch/v1/laptop-8/state") as sub:
        agent.start()
        try:
            wait_until(lambda: (p := last_presence(sub)) is not None and p.status == "online", what="online")
            agent.kill()
            wait_until(lambda: (p := last_presence(sub)) is not None and p.reason == "lost", what="lost")
        finally:
            agent.cleanup()


def test_without_logind_the_agent_runs_as_before(tmp_path: Path, mosquitto: Mosquitto) -> None:
    # No bus at that address: nothing is announced, and the graceful stop still says goodbye.
    config = write_config(
        tmp_path / "agent.toml", agent_id="desk-1", broker=mosquitto.url, spool=tmp_path / "spool"
    )
    missing = f"unix:path={tmp_path / 'no-bus'}"
    agent = AgentProcess(config, tmp_path / "agent.log", env={"DBUS_SYSTEM_BUS_ADDRESS": missing})
    with Subscriber(mosquitto.port, "deskwatch/v1/desk-1/state") as sub:
        agent.start()
        try:
            wait_until(lambda: (p := last_presence(sub)) is not None and p.status == "online", what="online")
            assert agent.terminate() == 0
            wait_until(
                lambda: (p := last_presence(sub)) is not None and p.reason == "shutdown", what="shutdown"
            )
        finally:
            agent.cleanup()
    assert "sleep and shutdown are not announced" in (tmp_path / "agent.log").read_text()
