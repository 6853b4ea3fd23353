"""An agent that vanished without saying goodbye and stayed away past the grace time."""

from __future__ import annotations

from collector.observers import AgentStatus
from collector.rules.condition import Category, Condition, agent_key
from collector.rules.settings import NS, Settings
from collector.state import FleetState, Scope

LOST = frozenset({AgentStatus.LOST, AgentStatus.STALE})


def evaluate(state: FleetState, settings: Settings) -> list[Condition]:
    rule = settings.agent_lost
    if not rule.enabled:
        return []
    grace_ns = int(rule.grace_seconds * NS)
    hold_ns = int(rule.hold_down_seconds * NS)
    return [
        Condition(
            key=agent_key(agent.agent_id, "agent_lost"),
            rule="agent_lost",
            condition="agent_lost",
            category=Category.AGENT,
            severity=rule.severity,
            scope=Scope.AGENT,
            subject=agent.agent_id,
            site=agent.site,
            summary=f"{agent.agent_id} stopped reporting ({agent.status})",
            since_ns=agent.since_ns + grace_ns,  # the condition holds once the grace is over
            agent_id=agent.agent_id,
            groupable=True,
            hold_down_ns=hold_ns,
        )
        for agent in state.agents.values()
        if agent.status in LOST and state.as_of - agent.since_ns >= grace_ns
    ]
