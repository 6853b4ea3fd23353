"""Correlation: fold many agents' symptoms into one site incident, and mark what another explains.

Pure: conditions in, conditions out. A suppressed condition keeps its place in the
output with `suppressed_by` set, so reconciliation still sees it present (an open
incident stays open while its cause is known) and still sees it go (and resolves it):
suppression may stop an incident from opening or notifying, never from resolving.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence

from agent.protocol import Severity
from collector.observers import AgentStatus
from collector.rules.condition import Category, Condition, agent_key, site_key
from collector.rules.settings import NS, Correlation
from collector.state import FleetState, Scope

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_LOST = frozenset({AgentStatus.LOST, AgentStatus.STALE})


def worst(severities: Iterable[Severity]) -> Severity:
    return max(severities, key=_RANK.__getitem__, default=Severity.INFO)


def correlate(conditions: Sequence[Condition], state: FleetState, settings: Correlation) -> list[Condition]:
    """Group per-agent checks by site (and sites by fleet), then mark agent-lost and upstream suppression."""
    grouped = _group_sites(conditions, state, settings)
    grouped = _group_fleet(grouped, state, settings)
    return _suppress(grouped, state, settings)


def _group_sites(
    conditions: Sequence[Condition], state: FleetState, settings: Correlation
) -> list[Condition]:
    out: list[Condition] = []
    groups: dict[tuple[str, str], list[Condition]] = defaultdict(list)
    for c in conditions:
        if c.groupable and c.scope is Scope.AGENT:
            groups[(c.site, c.condition)].append(c)
        else:
            out.append(c)
    hold_ns = int(settings.hold_down_seconds * NS)
    for (site, name), members in groups.items():
        agents = tuple(sorted({c.agent_id for c in members}))
        if site and len(agents) >= settings.site_min_agents:
            key = site_key(site, name)
            out.append(
                Condition(
                    key=key,
                    rule=members[0].rule,
                    condition=name,
                    category=members[0].category,
                    severity=worst(c.severity for c in members),
                    scope=Scope.SITE,
                    subject=site,
                    site=site,
                    summary=f"{name} failing on {len(agents)} agents of site {site}",
                    since_ns=min(c.since_ns for c in members),
                    affected=agents,
                )
            )
            # an agent incident opened before its neighbours joined stays, explained by the site one
            out += [dataclasses.replace(c, suppressed_by=key) for c in members if c.key in state.active]
        else:
            out += [
                c
                for c in members
                if c.key in state.active
                or state.as_of - c.since_ns >= (hold_ns if c.hold_down_ns is None else c.hold_down_ns)
            ]
    return out


def _group_fleet(conditions: list[Condition], state: FleetState, settings: Correlation) -> list[Condition]:
    by_name: dict[str, list[Condition]] = defaultdict(list)
    for c in conditions:
        if c.scope is Scope.SITE and not c.suppressed_by:
            by_name[c.condition].append(c)
    grouped = {c.key for members in by_name.values() for c in members}
    out = [c for c in conditions if c.key not in grouped]
    for name, members in by_name.items():
        if len(members) < settings.fleet_min_sites:
            out += members
            continue
        key = f"fleet/{name}"
        agents = sum(len(c.affected) for c in members)
        out.append(
            Condition(
                key=key,
                rule=members[0].rule,
                condition=name,
                category=members[0].category,
                severity=worst(c.severity for c in members),
                scope=Scope.FLEET,
                subject="fleet",
                site="",
                summary=f"{name} failing at {len(members)} sites ({agents} agents)",
                since_ns=min(c.since_ns for c in members),
                affected=tuple(sorted(c.site for c in members)),
            )
        )
        out += [dataclasses.replace(c, suppressed_by=key) for c in members if c.key in state.active]
    return out


def _suppress(conditions: list[Condition], state: FleetState, settings: Correlation) -> list[Condition]:
    lost = {a.agent_id for a in state.agents.values() if a.status in _LOST}
    gateways = _gateways(state)
    upstream: dict[str, str] = {}  # site -> key of the condition that cut it off
    for c in conditions:
        if c.site and _is_upstream(c, settings, gateways) and not c.suppressed_by:
            upstream.setdefault(c.site, c.key)
    out = []
    for c in conditions:
        if c.suppressed_by:
            out.append(c)
            continue
        reason = ""
        if c.scope is Scope.AGENT and c.agent_id in lost and c.category is not Category.AGENT:
            reason = agent_key(c.agent_id, "agent_lost")
        elif (
            c.site in upstream
            and upstream[c.site] != c.key
            and not _is_upstream(c, settings, gateways)
            and c.category in settings.suppress_behind_upstream
        ):
            reason = upstream[c.site]
        out.append(dataclasses.replace(c, suppressed_by=reason) if reason else c)
    return out


def _gateways(state: FleetState) -> dict[str, set[str]]:
    """Per site, the default-gateway addresses its agents check (the `gateway` tag of gateway_reachable)."""
    found: dict[str, set[str]] = defaultdict(set)
    for entry in state.states.values():
        if entry.condition == "gateway_reachable" and entry.tag("gateway"):
            found[entry.site].add(entry.tag("gateway"))
    return found


def _is_upstream(c: Condition, settings: Correlation, gateways: dict[str, set[str]]) -> bool:
    """A site's way out is down: its gateway for many agents, or a modem/router device unreachable."""
    if c.condition not in settings.upstream_conditions:
        return False
    if c.scope in (Scope.SITE, Scope.FLEET):
        return True
    tags = dict(c.tags)
    return c.scope is Scope.DEVICE and (
        tags.get("role", "") in settings.upstream_roles
        or tags.get("kind", "") in settings.upstream_roles
        or c.subject in settings.upstream_devices
        or tags.get("address", "") in gateways.get(c.site, set())
    )
