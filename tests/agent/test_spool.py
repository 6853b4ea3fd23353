"""The spool keeps batches until acknowledged, in order, across restarts, within its bound."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent import protocol
from agent.config import AgentConfig
from agent.errors import BatchNotSpooled, SpoolError
from agent.scheduler import Scheduler, SourceRun
from agent.spool import Spool
from collector.sequence import SequenceTracker, Verdict


def _put(spool: Spool, size: int = 100) -> int:
    return spool.put(1, lambda seq: b"x" * size)


def test_spool_replays_oldest_batch_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", 1 << 20)
    seqs = [spool.put(i, lambda seq: f"batch {seq}".encode()) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert spool.oldest(limit=2) == [(1, b"batch 1"), (2, b"batch 2")]
    assert [s for s, _ in spool.oldest(after_seq=3)] == [4, 5]
    spool.remove(1)
    spool.remove(1)  # a second PUBACK for the same batch is harmless
    assert spool.stats().depth == 4
    assert spool.oldest(limit=1)[0][0] == 2


def test_sequence_numbers_and_batches_survive_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", 1 << 20)
    for _ in range(3):
        _put(spool)
    spool.remove(1)
    spool.close()
    again = Spool(tmp_path / "s.db", 1 << 20)
    assert [s for s, _ in again.oldest()] == [2, 3]
    assert _put(again) == 4


def test_full_spool_drops_oldest_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", 64 * 1024)
    for _ in range(100):
        _put(spool, 1024)
    stats = spool.stats()
    assert stats.bytes <= 64 * 1024
    assert stats.depth == 64
    assert stats.dropped_total == 36
    assert stats.oldest_seq == 37  # the oldest went, the newest stayed
    assert [s for s, _ in spool.oldest(limit=1000)][-1] == 100


def test_failed_payload_does_not_use_up_a_sequence_number(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", 1 << 20)

    def broken(seq: int) -> bytes:
        raise ValueError("encoding failed")

    with pytest.raises(ValueError):
        spool.put(1, broken)
    assert _put(spool) == 1


def test_a_batch_that_cannot_be_stored_uses_up_its_number(tmp_path: Path) -> None:
    """The collector must see a gap where a round was lost (the real disk-full case runs in
    tests/e2e/test_faults.py; here the payload builder fails the write)."""
    spool = Spool(tmp_path / "s.db", 1 << 20)

    def full(_seq: int) -> bytes:
        raise OSError(28, "No space left on device")

    assert spool.put(1, lambda seq: b"a") == 1
    for _ in range(2):
        with pytest.raises(SpoolError, match="No space left on device"):
            spool.put(2, full)
    assert spool.put(3, lambda seq: b"b") == 4  # 2 and 3 were used up
    assert spool.write_failures_total == 2
    spool.close()
    assert Spool(tmp_path / "s.db", 1 << 20).put(4, lambda seq: b"c") == 5  # and stay used up


class _NoSpace:
    """A spool's connection on a full disk: every batch insert fails as SQLite's does."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("INSERT INTO batch"):
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)


class _FullDisk(Spool):
    """A spool whose disk is full while `full` is set."""

    @property
    def full(self) -> bool:
        return isinstance(self._db, _NoSpace)

    @full.setter
    def full(self, full: bool) -> None:
        real = self._db._db if isinstance(self._db, _NoSpace) else self._db
        self._db = _NoSpace(real) if full else real  # type: ignore[assignment]


def test_a_batch_the_spool_cannot_take_carries_its_number(tmp_path: Path) -> None:
    spool = _FullDisk(tmp_path / "s.db", 1 << 20)
    assert _put(spool) == 1
    spool.full = True
    for seq in (2, 3):
        with pytest.raises(BatchNotSpooled, match="disk is full") as caught:
            _put(spool)
        assert caught.value.seq == seq and isinstance(caught.value, SpoolError)
    spool.full = False
    assert _put(spool) == 4


def _states(payload: bytes) -> list[tuple[bool, str]]:
    batch = protocol.decode(payload, protocol.Batch)
    return [(s.ok, s.text) for s in batch.states if s.condition == "spool_writable"]


def test_rounds_the_spool_cannot_take_go_out_without_it_and_say_so(tmp_path: Path) -> None:
    """Connected: each round the spool cannot take is sent with the number it used up and the
    State false; offline: it is lost and counted; the first batch stored again says true, once."""
    spool = _FullDisk(tmp_path / "s.db", 1 << 20)
    sent: list[tuple[int, bytes]] = []
    online = [True]

    def send(seq: int, payload: bytes) -> bool:
        if online[0]:
            sent.append((seq, payload))
        return online[0]

    source = SourceRun("host", lambda settings, now: [], AgentConfig().host, 30)
    scheduler = Scheduler("pc-1", "hq", [source], spool, send_unspooled=send)
    assert scheduler.emit(source, [], 1) == 1
    spool.full = True
    assert [scheduler.emit(source, [], t) for t in (2, 3)] == [2, 3]
    online[0] = False
    assert scheduler.emit(source, [], 4) is None  # offline too: lost
    online[0] = True
    assert scheduler.emit(source, [], 5) == 5
    assert [seq for seq, _ in sent] == [2, 3, 5]
    for seq, payload in sent:
        batch = protocol.decode(payload, protocol.Batch)
        assert batch.seq == seq and batch.spool_id == spool.spool_id
        ((ok, text),) = _states(payload)
        assert not ok and "disk is full" in text
    assert "5 rounds not spooled" not in _states(sent[-1][1])[0][1]
    assert "4 rounds not spooled" in _states(sent[-1][1])[0][1] and "1 lost" in _states(sent[-1][1])[0][1]
    assert scheduler.rounds_lost_total == 1 and spool.write_failures_total == 4
    spool.full = False
    assert scheduler.emit(source, [], 6) == 6  # numbers go on after the used-up ones
    assert scheduler.emit(source, [], 7) == 7
    stored = dict(spool.oldest())
    assert sorted(stored) == [1, 6, 7]
    ((ok, text),) = _states(stored[6])
    assert ok and "4 rounds not spooled" in text and "3 of them sent without the spool, 1 lost" in text
    assert _states(stored[7]) == []  # said once
    agent = next(s for s in protocol.decode(stored[7], protocol.Batch).samples if s.measurement == "agent")
    assert agent.fields["spool_rounds_lost_total"] == 1 and agent.fields["spool_write_failures_total"] == 4


class _Collector:
    """The collector's sequence judgement (collector/sequence.py) of what an agent delivers."""

    def __init__(self) -> None:
        self.tracker = SequenceTracker()
        self.verdicts: list[tuple[int, Verdict]] = []

    def receive(self, payload: bytes) -> None:
        batch = protocol.decode(payload, protocol.Batch)
        self.verdicts.append((batch.seq, self.tracker.observe(batch.agent_id, batch.seq, batch.spool_id)))

    def drain(self, spool: Spool) -> None:
        """The broker acknowledges everything the spool holds, as the publisher sends it."""
        for seq, payload in spool.oldest(limit=1000):
            self.receive(payload)
            spool.remove(seq)

    @property
    def repeats(self) -> list[int]:
        return [seq for seq, verdict in self.verdicts if verdict is Verdict.DUPLICATE]


def _process(spool: Spool, collector: _Collector, online: list[bool]) -> tuple[Scheduler, SourceRun]:
    """One agent process on `spool`: rounds the spool cannot take go to `collector` while online."""

    def send(seq: int, payload: bytes) -> bool:
        if online[0]:
            collector.receive(payload)
        return online[0]

    source = SourceRun("host", lambda settings, now: [], AgentConfig().host, 30)
    return Scheduler("pc-1", "hq", [source], spool, send_unspooled=send), source


@pytest.mark.parametrize("full_at_restart", [True, False], ids=["still-full", "writable-again"])
def test_a_restart_after_rounds_sent_without_the_spool_is_not_taken_for_repeats(
    tmp_path: Path, full_at_restart: bool
) -> None:
    """Numbers used up while the disk was full are recorded nowhere, so the next process takes
    them again from the file: the collector must judge those batches as new, not as repeats of
    the ones it received without the spool, and count only the rounds really lost as gaps."""
    collector, online = _Collector(), [True]
    first = _FullDisk(tmp_path / "s.db", 1 << 20)
    scheduler, source = _process(first, collector, online)
    for t in range(3):
        scheduler.emit(source, [], t)
    collector.drain(first)
    first.full = True
    for t in range(3, 9):  # a day of rounds on a full disk, in short: sent without the spool...
        online[0] = t != 6  # ...but one while the broker was away as well: lost
        scheduler.emit(source, [], t)
    first.close()  # the PC reboots with its disk still full, or with some space freed

    second = _FullDisk(tmp_path / "s.db", 1 << 20)
    second.full = full_at_restart
    scheduler, source = _process(second, collector, online)
    for t in range(9, 12):
        scheduler.emit(source, [], t)
    second.full = False
    for t in range(12, 15):
        scheduler.emit(source, [], t)
    collector.drain(second)

    assert len(collector.verdicts) == 14  # 15 rounds, one lost
    assert collector.repeats == []
    state = collector.tracker.get("pc-1")
    assert state is not None and state.gaps == 1 and state.duplicates == 0


def test_a_spool_that_cannot_be_opened_refuses_batches_until_it_can(tmp_path: Path) -> None:
    # Its folder is a file here (on a PC: a disk full from the start, a spool it may not write).
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    path = blocker / "spool.db"
    with pytest.raises(SpoolError, match="cannot open spool"):
        Spool(path, 1 << 20)  # what `deskwatch-agent spool` gets: the reason, and nothing else
    spool = Spool.for_agent(path, 1 << 20)
    assert not spool.opened and spool.stats().depth == 0
    unopened_life = spool.spool_id
    refused = []
    for _ in range(3):
        with pytest.raises(BatchNotSpooled, match="cannot open spool") as err:
            spool.put(1, lambda seq: b"round %d" % seq)
        refused.append(err.value.seq)
    assert refused == [1, 2, 3]  # used up in order, for the batches sent without the spool
    assert spool.write_failures_total == 3
    blocker.unlink()  # room again: the next batch opens the file
    seq = spool.put(2, lambda seq: b"round %d" % seq)
    assert spool.opened and spool.spool_id != unopened_life  # numbered under a life of its own
    assert seq == 1 and spool.oldest() == [(1, b"round 1")] and spool.stored_spool_id() == spool.spool_id
    spool.close()
    assert Spool(path, 1 << 20).stats().depth == 1  # on disk
