"""What real agents sent (from their spools) and what VictoriaMetrics stored, batch by batch."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from agent.spool import Spool
from tests.support import fake_agents
from tests.support.waiting import wait_until

# Fault tests add a line each (what was sent, what was stored); tests/conftest.py prints
# them as one table at the end of the run, so the CI log carries the counts.
FAULT_REPORT: list[str] = []


def report_seqs(name: str, sent: dict[str, list[int]], stored: dict[str, list[int]]) -> None:
    """Record a fault test's counts from per-agent sequence numbers sent and stored."""
    total = sum(len(v) for v in sent.values())
    kept = sum(len(set(v)) for v in stored.values())
    missing = sum(len(set(v) - set(stored.get(a, []))) for a, v in sent.items())
    twice = sum(len(v) - len(set(v)) for v in stored.values())
    FAULT_REPORT.append(f"{name}: sent {total}, stored {kept}, missing {missing}, stored twice {twice}")


@dataclass(frozen=True)
class Tally:
    """Sequence numbers an agent made, still holds, and VictoriaMetrics has."""

    made: int  # batches the agent produced: 1..made
    waiting: frozenset[int]  # still in its spool, not acknowledged by the broker
    stored: frozenset[int]
    stored_samples: int  # samples of agent_source_batch_seq, to spot a batch stored twice

    @property
    def sent(self) -> frozenset[int]:
        return frozenset(range(1, self.made + 1)) - self.waiting

    @property
    def missing(self) -> frozenset[int]:
        return self.sent - self.stored

    def line(self, name: str) -> str:
        return (
            f"{name}: made {self.made}, sent {len(self.sent)}, stored {len(self.stored)}, "
            f"missing {len(self.missing)}, stored twice {self.stored_samples - len(self.stored)}"
        )


def spool_contents(path: Path) -> tuple[int, frozenset[int]]:
    spool = Spool(path, 1 << 30)
    try:
        stats = spool.stats()
        waiting = frozenset(seq for seq, _ in spool.oldest(0, 1_000_000))
        return stats.next_seq - 1, waiting
    finally:
        spool.close()


def stored_batches(vm_url: str, agent_id: str) -> tuple[frozenset[int], int]:
    fake_agents.flush_vm(vm_url)
    rows = fake_agents.query(vm_url, f'agent_source_batch_seq{{agent_id="{agent_id}"}}[1h]')
    values = [int(float(v)) for row in rows for _, v in row["values"]]
    return frozenset(values), len(values)


def tally(vm_url: str, agent_id: str, spool: Path, timeout: float = 30.0) -> Tally:
    """Wait until every batch the agent sent is stored (or time runs out) and count."""
    made, waiting = spool_contents(spool)

    def count() -> Tally:
        return Tally(made, waiting, *stored_batches(vm_url, agent_id))

    with contextlib.suppress(AssertionError):  # out of time: the caller reports what is missing
        return wait_until(count, done=lambda t: not t.missing, timeout=timeout, interval=0.5)
    return count()
