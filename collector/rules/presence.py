"""An agent that vanished when it should be there, and stayed away past the grace time.

Offices are full of PCs that come and go by design: laptops go home, desktops are
switched off at the button in the evening, PCs sleep. Only a PC that vanishes without a
goodbye (Last Will, or no batch for too long) *when it is normally there* is a ticket:
a desktop within its site's working hours, an agent marked always-on at any hour. A
laptop (the agent reports a battery) never is, unless `[agent_lost] laptops = true`.
A PC that announced sleep is asleep, not lost.
"""

from __future__ import annotations

from agent.protocol import NS
from collector.observers import AgentStatus
from collector.rules.condition import Category, Condition, agent_key
from collector.rules.settings import AgentLostRule, Settings
from collector.state import AgentEntry, FleetState, Scope

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
            observed_ns=agent.since_ns,
        )
        for agent in state.agents.values()
        if agent.status in LOST and state.as_of - agent.since_ns >= grace_ns and expected(agent, rule)
    ]


def expected(agent: AgentEntry, rule: AgentLostRule) -> bool:
    """Whether the agent should have been there when it vanished (so its absence is a problem)."""
    facts = agent.facts
    if facts is not None and facts.always_on:
        return True
    if facts is not None and facts.battery and not rule.laptops:
        return False
    hours, zone = rule.hours_of(agent.site)
    return hours.contains(agent.since_ns, zone)


def away_reason(agent: AgentEntry, rule: AgentLostRule) -> str:
    """Why an agent that is not online is no problem ("" if it is one, or online)."""
    if agent.status is AgentStatus.ONLINE:
        return ""
    if agent.status is AgentStatus.ASLEEP:
        return "asleep"
    if agent.status is AgentStatus.OFFLINE:
        return "shut down"
    if expected(agent, rule):
        return ""
    if agent.facts is not None and agent.facts.battery and not rule.laptops:
        return "laptop away"
    return "away outside working hours"
