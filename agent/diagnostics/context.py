"""What checks may read of the agent's configuration: the targets triage probes, the SNMP credentials."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.snmp.settings import Settings as SnmpSettings
from agent.sources import network


@dataclass(frozen=True, slots=True)
class Context:
    """The agent's settings that checks need; commands never carry credentials or targets of their own."""

    network: network.Settings = field(default_factory=network.Settings)
    snmp: SnmpSettings = field(default_factory=SnmpSettings)
