"""The agent's sources: each module has a `Settings` struct and one async `collect()`.

A source returns Samples and States; the scheduler adds the `agent_id` and `site`, so
sources never repeat them. A source that fails loses only its own round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from agent.protocol import Sample, State

if TYPE_CHECKING:
    from agent.config import AgentConfig


class Source(Protocol):
    """What the scheduler needs of a source module."""

    Settings: type[msgspec.Struct]

    async def collect(self, settings: msgspec.Struct, now_ns: int) -> Sequence[Sample | State]: ...


Observation = Sample | State


def enabled_sources(config: AgentConfig) -> list[tuple[str, Any, msgspec.Struct, float]]:
    """(name, collect, settings, interval) of every source agent.toml enables."""
    from agent.sources import host, network

    table: list[tuple[str, Any, Any]] = [
        ("host", host.collect, config.host),
        ("network", network.collect, config.network),
    ]
    if config.snmp.enabled:
        from agent.sources import snmp  # pysnmp loads only where SNMP is switched on

        table.append(("snmp", snmp.collect, config.snmp))
    return [
        (name, collect, settings, settings.interval_seconds or config.interval_seconds)
        for name, collect, settings in table
        if settings.enabled
    ]


def close_sources() -> None:
    """Release what sources hold between rounds (the SNMP engine is bound to its event loop)."""
    import sys

    snmp = sys.modules.get("agent.sources.snmp")
    if snmp is not None:
        snmp.poller().close()
