"""deskwatch-collector deadletter list|show|replay, against a store with real dead letters."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agent.protocol import encode
from collector import deadletter
from collector.cli import COMMANDS, main
from collector.db import begin_write, make_engine, migrate
from collector.deadletter import DeadLetter, DeadLetterSettings
from tests.support import fake_agents
from tests.support.services import VictoriaMetrics, free_port
from tests.support.waiting import wait_until


def test_commands_are_a_table_others_can_extend() -> None:
    assert {"run", "deadletter"} <= set(COMMANDS)


def test_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(db)
    migrate(engine)
    with begin_write(engine) as conn:
        deadletter.add(
            conn,
            [DeadLetter(10**18, "deskwatch/v1/pc-1/metrics", "too_large", "too big", b"{x")],
            DeadLetterSettings(max_entries=10),
        )
    assert main(["deadletter", "list", "--db", db]) == 0
    assert "too_large\tdeskwatch/v1/pc-1/metrics\ttoo big" in capsys.readouterr().out
    assert main(["deadletter", "show", "1", "--db", db]) == 0
    shown = capsys.readouterr().out
    assert shown.endswith("{x\n")
    assert f"payload: 2 bytes, sha256 {hashlib.sha256(b'{x').hexdigest()}" in shown
    assert main(["deadletter", "show", "2", "--db", db]) == 2
    assert "no dead letter with id 2" in capsys.readouterr().err


def test_dead_letters_are_bounded_in_count_and_bytes(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    by_count = DeadLetterSettings(max_entries=3)
    for index in range(5):
        with begin_write(engine) as conn:
            deadletter.add(conn, [DeadLetter(index, "t", "bad_topic", "r", b"")] * 2, by_count)
    assert [letter.received_ns for letter in deadletter.recent(engine)] == [4, 4, 3]
    assert deadletter.totals(engine).dropped == 7
    # 100-byte prefixes of 1 MiB payloads, at most 1,000 bytes of them in all
    by_bytes = DeadLetterSettings(max_payload_bytes=100, max_total_bytes=1_000)
    big = bytes(range(256)) * 4096
    for index in range(30):
        with begin_write(engine) as conn:
            deadletter.add(conn, [DeadLetter(100 + index, "t", "too_large", "r", big)], by_bytes)
    totals = deadletter.totals(engine)
    assert totals.bytes <= 1_000 and totals.letters == 10 and totals.dropped == 7 + 23
    newest = deadletter.recent(engine, limit=1)[0]
    assert (newest.received_ns, newest.size, len(newest.payload)) == (129, len(big), 100)
    assert newest.payload == big[:100] and newest.sha256 == hashlib.sha256(big).hexdigest()
    assert not newest.complete


def _letters(engine: Engine, *letters: DeadLetter) -> list[int]:
    with begin_write(engine) as conn:
        deadletter.add(conn, letters, DeadLetterSettings(max_payload_bytes=16384))
    return sorted(letter.id for letter in deadletter.recent(engine, limit=100))


def test_replay_stores_through_ingest_and_deletes_only_what_was_stored(
    tmp_path: Path, victoria_metrics: VictoriaMetrics, capsys: pytest.CaptureFixture[str]
) -> None:
    """No broker at all: a replay is ingest's own path, straight to VictoriaMetrics and the store."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(db)
    migrate(engine)
    batch = encode(fake_agents.make_batch(4, 0, time.time_ns() - 10**9))
    topic = "deskwatch/v1/pc-00004/metrics"
    stored, twice, bad, cut = _letters(
        engine,
        DeadLetter(1, topic, "internal_error", "x", batch),  # valid: say a collector bug refused it
        DeadLetter(2, topic, "internal_error", "x", batch),  # the same batch again
        DeadLetter(3, topic, "malformed_json", "x", b"{nope"),
        DeadLetter(4, topic, "too_large", "x", b"[" * 20000),  # only 16384 bytes of it kept
    )
    argv = ["deadletter", "replay", str(stored), str(twice), str(bad), str(cut), "--db", db]
    assert main([*argv, "--metrics-url", victoria_metrics.url]) == 1  # not all of them could be
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{stored}\tstored"
    assert out[1].startswith(f"{twice}\tduplicate")
    assert out[2].startswith(f"{bad}\trefused\tinvalid Batch") or out[2].startswith(f"{bad}\trefused")
    assert out[3] == f"{cut}\tincomplete\tonly the first 16384 of its 20000 bytes were kept"
    assert out[4] == "replayed 2 of 4; 2 kept"
    assert sorted(letter.id for letter in deadletter.recent(engine)) == [bad, cut]  # no new letter either
    wait_until(
        lambda: fake_agents.flushed_seqs(victoria_metrics.url),
        done=lambda seqs: seqs == {"pc-00004": [0]},  # and no other agent's
        timeout=10,
        interval=0.2,
        what="the replayed batch",
    )
    assert deadletter.totals(engine).bytes == 5 + 16384  # what is left


def test_a_replay_the_database_does_not_take_keeps_the_letter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(db)
    migrate(engine)
    batch = encode(fake_agents.make_batch(4, 0, time.time_ns()))
    (letter,) = _letters(engine, DeadLetter(1, "deskwatch/v1/pc-00004/metrics", "internal_error", "x", batch))
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: VictoriaMetrics is down
    config = tmp_path / "collector.toml"
    config.write_text("[metrics]\nretries = 0\ntimeout_seconds = 1\n")
    assert (
        main(
            ["deadletter", "replay", str(letter), "--db", db, "--metrics-url", down, "--config", str(config)]
        )
        == 1
    )
    assert capsys.readouterr().out.startswith(f"{letter}\tfailed\t")
    assert [kept.id for kept in deadletter.recent(engine)] == [letter]
