"""Condition: what a rule says is wrong right now, keyed for deduplication."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from agent.protocol import Severity
from collector.state import FleetState, Scope, Series, TagKey


class Category(enum.StrEnum):
    """Which kind of problem; routing and reports group by it."""

    HOST = "host"
    NETWORK = "network"
    PRINTER = "printer"
    SUPPLY = "supply"
    DEVICE = "device"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Condition:
    """A problem present at evaluation time; `key` is the incident dedup key."""

    key: str
    rule: str
    condition: str  # the condition name, what knowledge-base articles are matched on
    category: Category
    severity: Severity
    scope: Scope
    subject: str  # agent id, device serial, site, or "fleet"
    site: str
    summary: str
    since_ns: int  # when the problem was first seen
    agent_id: str = ""
    device: str = ""
    tags: TagKey = ()
    affected: tuple[str, ...] = ()  # agents (or sites) folded into a site (or fleet) condition
    groupable: bool = False  # a per-agent check that correlation may fold into one site condition
    hold_down_ns: int | None = None  # how long a lone groupable one waits; None: correlation's default
    suppressed_by: str = ""  # key of the condition that explains this one
    # when it was last reported (0: unknown). A problem someone resolved by hand comes back
    # only once a report newer than that says it is still there.
    observed_ns: int = 0

    def tag(self, name: str) -> str:
        for key, value in self.tags:
            if key == name:
                return value
        return ""


def agent_key(agent_id: str, condition: str, *parts: str) -> str:
    return "/".join(("agent", agent_id, condition, *(p for p in parts if p)))


def device_key(device: str, condition: str, *parts: str) -> str:
    return "/".join(("device", device, condition, *(p for p in parts if p)))


def site_key(site: str, condition: str) -> str:
    return f"site/{site}/{condition}"


def series_key(series: Series, condition: str, *parts: str) -> str:
    """The key of a condition on one series: its device's for a device's series, else its agent's."""
    if series.scope is Scope.DEVICE:
        return device_key(series.owner, condition, *parts)
    return agent_key(series.owner, condition, *parts)


class _Rule(Protocol):
    @property
    def enabled(self) -> bool: ...


R = TypeVar("R", bound=_Rule)


def each_enabled(
    state: FleetState, rules: Iterable[R], evaluate_rule: Callable[[FleetState, R], list[Condition]]
) -> list[Condition]:
    """The conditions of every enabled rule of one kind."""
    return [c for rule in rules if rule.enabled for c in evaluate_rule(state, rule)]


class _SeriesRule(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def category(self) -> Category: ...
    @property
    def severity(self) -> Severity: ...


def on_series(
    series: Series,
    rule: _SeriesRule,
    condition: str,
    key: str,
    summary: str,
    since_ns: int,
    observed_ns: int,
    tags: TagKey | None = None,
) -> Condition:
    """A rule's condition about one series: a device's (its serial) or an agent's."""
    device = series.scope is Scope.DEVICE
    return Condition(
        key=key,
        rule=rule.name,
        condition=condition,
        category=rule.category,
        severity=rule.severity,
        scope=series.scope,
        subject=series.owner,
        site=series.site,
        summary=summary,
        since_ns=since_ns,
        agent_id="" if device else series.owner,
        device=series.owner if device else "",
        tags=series.tags if tags is None else tags,
        observed_ns=observed_ns,
    )
