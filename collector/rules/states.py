"""States an agent reported as not ok: printer errors, failed network checks, interfaces down.

An agent's own state holds while it is current (`FleetState.current`). A device's is
kept per PC that polls it: with `observers = "any"` a problem holds while any PC that
reported the device lately says so, with `"all"` only when all of them do. A device
that never answered SNMP is "not monitored by SNMP": its silence is no problem at all.
"""

from __future__ import annotations

from agent.protocol import NS
from collector.rules.condition import Condition, agent_key, device_key
from collector.rules.settings import Settings, StateRule
from collector.state import REACHABILITY, FleetState, Monitoring, Scope, StateEntry


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
    # A device is seen by several agents: each one's latest report of a (device, condition, tags).
    reports: dict[str, tuple[StateRule, str, list[StateEntry]]] = {}
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
            device, detail = state.device_of(entry)
            key = device_key(device, entry.condition, detail, *parts)
            reports.setdefault(key, (rule, device, []))[2].append(entry)
            continue
        if entry.ok or not state.current(Scope.AGENT, entry.agent_id, entry.observed_ns):
            continue
        if state.as_of - entry.since_ns < rule.min_duration_seconds * NS:
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
    for key, (rule, device, entries) in reports.items():
        condition = _device_condition(state, key, rule, device, entries)
        if condition is not None:
            found.append(condition)
    return found


def _device_condition(
    state: FleetState, key: str, rule: StateRule, device: str, entries: list[StateEntry]
) -> Condition | None:
    live = [e for e in entries if state.current(Scope.DEVICE, e.agent_id, e.observed_ns)]
    failing = [e for e in live if not e.ok]
    if not failing or (rule.observers == "all" and len(failing) < len(live)):
        return None  # nobody sees it lately (its incident stays as it is), or it is fine
    if state.as_of - min(e.since_ns for e in failing) < rule.min_duration_seconds * NS:
        return None
    if failing[0].condition in REACHABILITY and state.monitoring(device) is not Monitoring.UNREACHABLE:
        return None  # it never answered SNMP: not monitored, which is no problem
    newest = max(failing, key=lambda e: e.observed_ns)
    return _condition(
        key,
        rule,
        newest,
        Scope.DEVICE,
        device,
        since_ns=min(e.since_ns for e in failing),
    )


def _condition(
    key: str, rule: StateRule, entry: StateEntry, scope: Scope, subject: str, since_ns: int | None = None
) -> Condition:
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
        since_ns=entry.since_ns if since_ns is None else since_ns,
        agent_id=entry.agent_id if scope is Scope.AGENT else "",
        device=subject if scope is Scope.DEVICE else "",
        tags=entry.tags,
        groupable=rule.groupable and scope is Scope.AGENT,
        observed_ns=entry.observed_ns,
    )
