"""States an agent reported as not ok: printer errors, failed network checks, interfaces down."""

from __future__ import annotations

from collector.rules.condition import Condition, agent_key, device_key
from collector.rules.settings import Settings, StateRule
from collector.state import FleetState, Scope, StateEntry


def evaluate(state: FleetState, settings: Settings) -> list[Condition]:
    rules: dict[str, StateRule] = {}
    for rule in settings.state:
        if rule.enabled:
            for name in rule.conditions:
                rules.setdefault(name, rule)
    if not rules:
        return []
    # A device is seen by several agents: the newest observation of each (device, condition, tags) wins.
    newest: dict[str, tuple[StateRule, StateEntry]] = {}
    found: list[Condition] = []
    for entry in state.states.values():
        found_rule = rules.get(entry.condition)
        if found_rule is None:
            continue
        rule = found_rule
        parts = [entry.tag(t) for t in rule.key_tags]
        if rule.scope is Scope.DEVICE:
            key = device_key(entry.subject, entry.condition, *parts)
            seen = newest.get(key)
            if seen is None or seen[1].observed_ns < entry.observed_ns:
                newest[key] = (rule, entry)
            continue
        if entry.ok:
            continue
        subject = "" if entry.subject in ("", entry.agent_id) else entry.subject
        found.append(
            _condition(
                agent_key(entry.agent_id, entry.condition, subject, *parts),
                rule,
                entry,
                Scope.AGENT,
                entry.agent_id,
            )
        )
    for key, (rule, entry) in newest.items():
        if not entry.ok:
            found.append(_condition(key, rule, entry, Scope.DEVICE, entry.subject))
    return found


def _condition(key: str, rule: StateRule, entry: StateEntry, scope: Scope, subject: str) -> Condition:
    where = "" if scope is Scope.DEVICE or entry.subject == entry.agent_id else f" {entry.subject}"
    text = entry.text or f"{entry.condition} failed"
    return Condition(
        key=key,
        rule=rule.name,
        condition=entry.condition,
        category=rule.category,
        severity=rule.severity or entry.severity,
        scope=scope,
        subject=subject,
        site=entry.site,
        summary=f"{text}{where}" if scope is Scope.AGENT else text,
        since_ns=entry.since_ns,
        agent_id=entry.agent_id if scope is Scope.AGENT else "",
        device=entry.subject if scope is Scope.DEVICE else "",
        tags=entry.tags,
        groupable=rule.groupable and scope is Scope.AGENT,
    )
