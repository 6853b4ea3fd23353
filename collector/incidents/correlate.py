"""Correlation: join what is one problem, fold many agents' symptoms into one site incident,
and mark what another explains.

Pure: conditions in, conditions out. A suppressed condition keeps its place in the
output with `suppressed_by` set, so reconciliation still sees it present (an open
incident stays open while its cause is known) and still sees it go (and resolves it):
suppression may stop an incident from opening or notifying, never from resolving.

Trust rules (DESIGN.md): a printer's own alert about a supply joins the supply's level
ticket (one ticket per supply, never two); a site's way out explains the site's other
problems only while the agents' own gateway or internet checks confirm it is down; an
agent that is away (lost, shut down, asleep) explains its own checks, which stand as it
last reported them until it is back.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence

from agent.protocol import NS, Severity
from collector.observers import AgentStatus
from collector.rules.condition import Category, Condition, agent_key, device_key, site_key
from collector.rules.settings import Correlation
from collector.state import FleetState, Scope

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_LOST = frozenset({AgentStatus.LOST, AgentStatus.STALE})
SUPPLY_LOW = "supply_low"  # the condition of the level rules for printer supplies (defaults.toml)
# The printer's error bits for low or no toner name no supply (hrPrinterDetectedErrorState):
# they join the ticket of the printer's emptiest toner or ink.
_TONER_BITS = frozenset({"printer_toner_low", "printer_toner_empty"})
_TONER_KINDS = frozenset({"toner", "tonerCartridge", "ink", "inkCartridge"})


def worst(severities: Iterable[Severity]) -> Severity:
    return max(severities, key=_RANK.__getitem__, default=Severity.INFO)


def correlate(conditions: Sequence[Condition], state: FleetState, settings: Correlation) -> list[Condition]:
    """Join supply problems, group per-agent checks by site (and sites by fleet), then mark
    what an away agent or a confirmed upstream outage explains."""
    joined = join_supplies(conditions, state)
    grouped = _group_sites(joined, state, settings)
    grouped = _group_fleet(grouped, state, settings)
    return _suppress(grouped, state, settings)


def join_supplies(conditions: Sequence[Condition], state: FleetState) -> list[Condition]:
    """One condition per printer supply: the level's, with the printer's own alerts about it joined.

    A prtAlert in the markerSupplies group names the supply by its index; the toner error
    bits name none and join the printer's emptiest toner or ink. The forecast of a supply
    that is already low is explained by its level ticket (it keeps its own key for supplies
    that are still fine but will run out).
    """
    toner_of = _emptiest_toner(state)
    keyed: dict[str, list[Condition]] = defaultdict(list)
    for c in conditions:
        key = _supply_key(c, toner_of)
        if c.condition in _TONER_BITS and key != c.key:  # name the supply the printer did not name
            index, supply, level = toner_of[c.device]
            c = dataclasses.replace(c, summary=f"{c.summary} ({supply or 'toner ' + index} at {level:.0f} %)")
        keyed[key].append(c)
    out = [_join(key, members) for key, members in keyed.items()]
    low = {c.key for c in out if c.condition == SUPPLY_LOW}
    return [
        dataclasses.replace(c, suppressed_by=explained)
        if c.rule == "supply_order"
        and (explained := device_key(c.device, SUPPLY_LOW, c.tag("supply_index"))) in low
        else c
        for c in out
    ]


def _emptiest_toner(state: FleetState) -> dict[str, tuple[str, str, float]]:
    """device -> (supply index, name, level) of the toner or ink its toner bits join.

    The emptiest one whose supply ticket is already firing, else the emptiest one: so the
    ticket does not move to another cartridge while one PC still reports the warning about
    a cartridge another PC already sees replaced.
    """
    lowest: dict[str, tuple[bool, float, str, str]] = {}
    for series in state.tracked_series("printer_supply", "level_percent"):
        if series.scope is not Scope.DEVICE or series.tag("kind") not in _TONER_KINDS:
            continue
        _, level = series.latest
        index = series.tag("supply_index")
        firing = device_key(series.owner, SUPPLY_LOW, index) in state.active
        rank = (not firing, level, index, series.tag("supply"))
        if level >= 0 and rank < lowest.get(series.owner, (True, float("inf"), "", "")):
            lowest[series.owner] = rank
    return {device: (index, name, level) for device, (_, level, index, name) in lowest.items()}


def _supply_key(c: Condition, toner_of: dict[str, tuple[str, str, float]]) -> str:
    if c.scope is not Scope.DEVICE:
        return c.key
    if c.condition.startswith("printer_alert_") and c.tag("group") == "markerSupplies":
        index = c.tag("group_index")
        if index and index.isdigit() and int(index) > 0:
            return device_key(c.device, SUPPLY_LOW, index)
    if c.condition in _TONER_BITS and c.device in toner_of:
        return device_key(c.device, SUPPLY_LOW, toner_of[c.device][0])
    return c.key


def _join(key: str, members: list[Condition]) -> Condition:
    if len(members) == 1 and members[0].key == key:
        return members[0]
    # the level rule's words lead ("Black Toner at 2 %"); the printer's own follow
    level = [c for c in members if c.condition == SUPPLY_LOW]
    lead = level[0] if level else members[0]
    said = [c.summary for c in members if c is not lead and c.summary != lead.summary]
    return dataclasses.replace(
        lead,
        key=key,
        condition=SUPPLY_LOW,
        category=Category.SUPPLY,
        severity=worst(c.severity for c in members),
        summary="; printer says: ".join([lead.summary, *dict.fromkeys(said)]) if said else lead.summary,
        since_ns=min(c.since_ns for c in members),
        observed_ns=max(c.observed_ns for c in members),
    )


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
    away = {
        a.agent_id: _away_key(a.agent_id, a.status)
        for a in state.agents.values()
        if a.status is not AgentStatus.ONLINE
    }
    gateways = _gateways(state)
    confirmed = _confirmed_sites(state, settings)
    upstream: dict[str, str] = {}  # site -> key of the condition that cut it off
    for c in conditions:
        if c.site and not c.suppressed_by and _is_upstream(c, settings, gateways, confirmed):
            upstream.setdefault(c.site, c.key)
    out = []
    for c in conditions:
        if c.suppressed_by:
            out.append(c)
            continue
        reason = ""
        if c.scope is Scope.AGENT and c.agent_id in away and c.category is not Category.AGENT:
            reason = away[c.agent_id]
        elif (
            c.site in upstream
            and upstream[c.site] != c.key
            and not _is_upstream(c, settings, gateways, confirmed)
            and c.category in settings.suppress_behind_upstream
        ):
            reason = upstream[c.site]
        out.append(dataclasses.replace(c, suppressed_by=reason) if reason else c)
    return out


def _away_key(agent_id: str, status: AgentStatus) -> str:
    """What explains an away agent's checks: its loss, or its own goodbye."""
    return agent_key(agent_id, "agent_lost" if status in _LOST else status.value)


def _confirmed_sites(state: FleetState, settings: Correlation) -> dict[str, set[tuple[str, str]]]:
    """Per site, which of the agents' own checks say its way out is down now: the independent
    signal without which a silent modem or router explains nothing.

    A check is confirmed at a site when most of the agents reporting it there fail it, and at
    least `site_min_agents` of them (or all, in a smaller office): one PC whose own internet
    check fails (its cable, its proxy) says nothing about the site's modem. Gateway checks
    count per gateway address (`("gateway_reachable", address)`); the others as `(name, "")`.
    """
    votes: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])  # [failing, reporting]
    for entry in state.states.values():
        if entry.condition not in settings.confirming_conditions or not state.current(
            Scope.AGENT, entry.agent_id, entry.observed_ns
        ):
            continue
        gateway = entry.tag("gateway") if entry.condition == "gateway_reachable" else ""
        tally = votes[(entry.site, entry.condition, gateway)]
        tally[0] += not entry.ok
        tally[1] += 1
    confirmed: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for (site, condition, gateway), (failing, reporting) in votes.items():
        if failing >= min(settings.site_min_agents, reporting) and 2 * failing > reporting:
            confirmed[site].add((condition, gateway))
    return confirmed


def _gateways(state: FleetState) -> dict[str, set[str]]:
    """Per site, the default-gateway addresses its agents check (the `gateway` tag of gateway_reachable)."""
    found: dict[str, set[str]] = defaultdict(set)
    for entry in state.states.values():
        if entry.condition == "gateway_reachable" and entry.tag("gateway"):
            found[entry.site].add(entry.tag("gateway"))
    return found


def _is_upstream(
    c: Condition,
    settings: Correlation,
    gateways: dict[str, set[str]],
    confirmed: dict[str, set[tuple[str, str]]],
) -> bool:
    """A site's way out is down: its gateway for many agents, or (confirmed by the agents' own
    checks) a modem or router device that stopped answering. A device at the address the
    agents check as their gateway is confirmed only by those gateway checks failing: a
    gateway that answers them is not down because its SNMP is silent."""
    if c.condition not in settings.upstream_conditions:
        return False
    if c.scope in (Scope.SITE, Scope.FLEET):
        return True
    if c.scope is not Scope.DEVICE:
        return False
    tags = dict(c.tags)
    site_confirms = confirmed.get(c.site, set())
    address = tags.get("address", "")
    if address and address in gateways.get(c.site, set()):
        return ("gateway_reachable", address) in site_confirms
    return bool(site_confirms) and (
        tags.get("role", "") in settings.upstream_roles
        or tags.get("kind", "") in settings.upstream_roles
        or tags.get("source", "") == "gateway"
        or c.subject in settings.upstream_devices
    )
