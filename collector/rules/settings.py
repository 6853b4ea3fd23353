"""Rule settings as data: shipped defaults (defaults.toml) merged with an operator's file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec

from agent.protocol import Severity
from collector.rules.condition import Category
from collector.state import Scope, Track

DEFAULTS = Path(__file__).with_name("defaults.toml")
NS = 1_000_000_000


class _Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class ThresholdRule(_Settings, frozen=True, forbid_unknown_fields=True):
    """A number above a mark for a while; it clears only below `clear_below` (hysteresis)."""

    name: str
    measurement: str
    field: str
    above: float
    clear_below: float | None = None
    min_duration_seconds: float = 0
    severity: Severity = Severity.WARNING
    category: Category = Category.HOST
    key_tags: list[str] = []
    summary: str = "{field} at {value:.1f}"
    enabled: bool = True


class StateRule(_Settings, frozen=True, forbid_unknown_fields=True):
    """States whose `ok` is false; `scope = device` deduplicates across the agents polling a device."""

    name: str
    conditions: list[str]
    scope: Scope = Scope.AGENT  # agent or device
    category: Category = Category.NETWORK
    severity: Severity | None = None  # None: the severity the agent reported
    key_tags: list[str] = []
    groupable: bool = False  # many agents of a site failing it make one site incident
    enabled: bool = True


class RateRule(_Settings, frozen=True, forbid_unknown_fields=True):
    """A falling value that reaches zero within `horizon_seconds` at its current rate."""

    name: str
    measurement: str
    field: str
    horizon_seconds: float
    window_seconds: float
    min_span_seconds: float
    condition: str = ""  # defaults to the rule name
    min_points: int = 4
    reset_rise: float = 0.05  # a rise by this fraction of the range restarts the fit (refill, cleanup)
    unit_seconds: float = 3600
    unit: str = "h"
    severity: Severity = Severity.WARNING
    category: Category = Category.HOST
    key_tags: list[str] = []
    summary: str = "{what} empty in ~{left:.1f} {unit} at the current rate"
    enabled: bool = True


class AgentLostRule(_Settings, frozen=True, forbid_unknown_fields=True):
    """An agent that vanished (Last Will, or no batch for too long) and stayed away for the grace time."""

    grace_seconds: float = 120
    hold_down_seconds: float = 60  # after the grace, a lone lost agent waits this long for its neighbours
    severity: Severity = Severity.WARNING
    enabled: bool = True


class Correlation(_Settings, frozen=True, forbid_unknown_fields=True):
    """How per-agent conditions fold into site ones, and what suppresses what."""

    site_min_agents: int = 3
    hold_down_seconds: float = 120  # a lone agent's failing check waits this long for its neighbours
    fleet_min_sites: int = 3
    upstream_conditions: frozenset[str] = frozenset(
        {"gateway_reachable", "snmp_reachable", "modem_reachable"}
    )
    upstream_roles: frozenset[str] = frozenset({"modem", "gateway", "router"})
    upstream_devices: frozenset[str] = frozenset()  # device serials that are a site's way out
    suppress_behind_upstream: frozenset[Category] = frozenset(
        {Category.NETWORK, Category.AGENT, Category.DEVICE, Category.PRINTER}
    )


class IncidentPolicy(_Settings, frozen=True, forbid_unknown_fields=True):
    """Lifecycle of incidents: when they resolve, reopen and count as flapping."""

    cycle_seconds: float = 30
    clear_cycles: int = 3
    reopen_window_seconds: float = 3600
    flap_window_seconds: float = 1800
    flap_changes: int = 6  # present/absent changes within the window that make an incident flap
    flapping_clear_cycles: int = 10


class Settings(_Settings, frozen=True, forbid_unknown_fields=True):
    """Everything rules, correlation and reconciliation read."""

    threshold: list[ThresholdRule] = []
    state: list[StateRule] = []
    rate: list[RateRule] = []
    agent_lost: AgentLostRule = AgentLostRule()
    correlation: Correlation = Correlation()
    incidents: IncidentPolicy = IncidentPolicy()

    def __post_init__(self) -> None:
        for rule in self.state:
            if rule.scope not in (Scope.AGENT, Scope.DEVICE):
                raise ValueError(f"state rule {rule.name}: scope must be agent or device, not {rule.scope}")

    def tracks(self) -> list[Track]:
        """The histories FleetState must keep for these rules."""
        tracks = [
            Track(r.measurement, r.field, int((r.min_duration_seconds + self.incidents.cycle_seconds) * NS))
            for r in self.threshold
            if r.enabled
        ]
        tracks += [
            Track(r.measurement, r.field, int(r.window_seconds * NS), int(r.window_seconds * NS / 200))
            for r in self.rate
            if r.enabled
        ]
        return tracks


class SettingsError(ValueError):
    """A rules file that cannot be used; the message names the file and the path."""


def load_settings(path: Path | None = None) -> Settings:
    """The shipped defaults, with `path` merged over them (rules replace defaults by name)."""
    data = tomllib.loads(DEFAULTS.read_text())
    source = str(DEFAULTS)
    if path is not None:
        try:
            override = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise SettingsError(f"{path}: {err}") from err
        data = _merge(data, override)
        source = str(path)
    try:
        return msgspec.convert(data, Settings)
    except msgspec.ValidationError as err:
        raise SettingsError(f"{source}: {err}") from err


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = {**old, **value}
        elif isinstance(old, list) and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            by_name = {r.get("name"): r for r in old}
            by_name.update({r.get("name"): r for r in value})
            merged[key] = list(by_name.values())
        else:
            merged[key] = value
    return merged
