"""deskwatch-collector deadletter list|show|replay, against a store with real dead letters."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.protocol import encode
from collector import deadletter
from collector.cli import COMMANDS, main
from collector.db import begin_write, make_engine, migrate
from collector.deadletter import DeadLetter
from tests.collector.conftest import MakeCollector
from tests.support import fake_agents
from tests.support.services import Mosquitto, VictoriaMetrics


def test_commands_are_a_table_others_can_extend() -> None:
    assert {"run", "deadletter"} <= set(COMMANDS)


def test_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(db)
    migrate(engine)
    with begin_write(engine) as conn:
        deadletter.add(
            conn, [DeadLetter(10**18, "deskwatch/v1/pc-1/metrics", "too_large", "too big", b"{x")], 10
        )
    assert main(["deadletter", "list", "--db", db]) == 0
    assert "too_large\tdeskwatch/v1/pc-1/metrics\ttoo big" in capsys.readouterr().out
    assert main(["deadletter", "show", "1", "--db", db]) == 0
    assert capsys.readouterr().out.endswith("{x\n")
    assert main(["deadletter", "show", "2", "--db", db]) == 2
    assert "no dead letter with id 2" in capsys.readouterr().err


def test_dead_letters_are_bounded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    for index in range(5):
        with begin_write(engine) as conn:
            deadletter.add(conn, [DeadLetter(index, "t", "bad_topic", "r", b"")] * 2, max_entries=3)
    assert [letter.received_ns for letter in deadletter.recent(engine)] == [4, 4, 3]


def test_replay_publishes_the_payload_again(
    make_collector: MakeCollector,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    capsys: pytest.CaptureFixture[str],
) -> None:
    collector = make_collector()
    db = f"sqlite:///{collector.workdir / 'collector.db'}"
    engine = make_engine(db)
    # A valid batch that was dead-lettered (say, by an older collector): replay stores it.
    batch = fake_agents.make_batch(4, 0, time.time_ns() - 10**9)
    with begin_write(engine) as conn:
        letter = DeadLetter(1, "deskwatch/v1/pc-00004/metrics", "internal_error", "x", encode(batch))
        deadletter.add(conn, [letter], 10)
    (stored,) = deadletter.recent(engine)
    assert main(["deadletter", "replay", str(stored.id), "--db", db, "--broker", mosquitto.url]) == 0
    assert "replayed 1" in capsys.readouterr().out
    assert deadletter.recent(engine) == []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        fake_agents.flush_vm(victoria_metrics.url)
        if fake_agents.stored_seqs(victoria_metrics.url) == {"pc-00004": [0]}:
            break
        time.sleep(0.2)
    assert fake_agents.stored_seqs(victoria_metrics.url) == {"pc-00004": [0]}
