"""States an agent reported as not ok: printer errors, failed network checks, interfaces down."""

from __future__ import annotations

from collector.rules.condition import Condition, agent_key, device_key
from collector.rules.settings import Settings, StateRule
from collector.state import FleetState, Scope, StateEntry


def evaluate(state: FleetState, settings: Settings) -> list[Condition]:
    rules: dict[str, StateRule] = {}
    prefixes: list[tuple[str, StateRule]] = []  # "printer_alert_*" matches every printer_alert_<code>
    for rule in settings.state:
        if rule.enabled:
            for name in rule.conditions:
                if name.endswith("*"):
                    prefixes.append((name[:-1], rule))
                else:
                    rules.setdefault(name, rule)
    if not rules and not prefixes:
        return []
    # A device is seen by several agents: the newest observation of each (device, condition, tags) wins.
    newest: dict[str, tuple[StateRule, StateEntry]] = {}
    found: list[Condition] = []
    for entry in state.states.values():
        found_rule = rules.get(entry.condition)
        if found_rule is None:
            found_rule = next((r for prefix, r in prefixes if entry.condition.startswith(prefix)), None)
            if found_rule is None:
                continue
        rule = found_rule
        parts = [entry.tag(t) for t in rule.key_tags]
        if rule.scope is Scope.DEVICE:
            device, detail = device_of(entry)
            key = device_key(device, entry.condition, detail, *parts)
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
            found.append(_condition(key, rule, entry, Scope.DEVICE, device_of(entry)[0]))
    return found


def device_of(entry: StateEntry) -> tuple[str, str]:
    """The device serial and the part of the subject below it ("SN1/cover/2" -> ("SN1", "cover/2"))."""
    device = entry.tag("device") or entry.subject
    if entry.subject.startswith(device + "/"):
        return device, entry.subject[len(device) + 1 :]
    return device, ""


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
        device=subject if scope is Scope.DEVICE else "",
        tags=entry.tags,
        groupable=rule.groupable and scope is Scope.AGENT,
    )
