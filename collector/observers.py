"""What ingest tells the rest of the collector: accepted batches and presence changes.

Ingest decodes, deduplicates and stores; whatever else wants to see the fleet (the
incidents engine, the inventory index) registers an Observer and is called, in the
ingest thread, for every batch that was accepted and every change of an agent's
presence. Observers must be quick and must not raise: slow work goes to their own queue.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from agent.protocol import AgentFacts, Batch


class AgentStatus(enum.StrEnum):
    """An agent as the collector sees it."""

    ONLINE = "online"  # birth received, batches arriving
    OFFLINE = "offline"  # stopped gracefully (reason "shutdown"): not a problem
    ASLEEP = "asleep"  # the PC announced sleep or hibernation (reason "sleep"): not a problem
    LOST = "lost"  # Last Will: the connection dropped without a goodbye
    STALE = "stale"  # still "online" on the broker, but no batch for N intervals


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """One agent moved from one status to another at `time_ns`."""

    agent_id: str
    site: str
    status: AgentStatus
    previous: AgentStatus | None
    time_ns: int
    last_seen_ns: int
    facts: AgentFacts | None = None


class Observer(Protocol):
    """Something that wants every accepted batch and every presence change."""

    def sample_fields(self) -> Iterable[tuple[str, str]]:
        """The (measurement, field) pairs it reads. The batches it is given hold only the
        samples with one of them (and all their States): turning every sample into a Python
        object only to pass over it was most of ingest's work (collector/fastlane.py)."""
        ...

    def observe_batch(self, batch: Batch, received_ns: int) -> None: ...

    def observe_presence(self, change: PresenceChange) -> None: ...
