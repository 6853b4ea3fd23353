"""The agent's sources: each module has a `Settings` struct and one async `collect()`.

A source returns Samples and States; the scheduler adds the `agent_id` and `site`, so
sources never repeat them. A source that fails loses only its own round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from agent.protocol import Sample, State


class Source(Protocol):
    """What the scheduler needs of a source module."""

    Settings: type[msgspec.Struct]

    async def collect(self, settings: msgspec.Struct, now_ns: int) -> Sequence[Sample | State]: ...


Observation = Sample | State


def close_sources() -> None:
    """Release what sources hold between rounds (the SNMP engine is bound to its event loop)."""
    import sys

    snmp = sys.modules.get("agent.sources.snmp")
    if snmp is not None:
        snmp.poller().close()
