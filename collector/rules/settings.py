"""Rule settings as data: shipped defaults (defaults.toml) merged with an operator's file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from agent.protocol import NS, Severity
from collector.errors import CollectorError
from collector.rules.condition import Category
from collector.rules.hours import WorkingHours, working_hours
from collector.state import Limits, Scope, Track

DEFAULTS = Path(__file__).with_name("defaults.toml")


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


class LevelRule(_Settings, frozen=True, forbid_unknown_fields=True):
    """A level at or below its low mark; once firing it clears only at `clear_above` (hysteresis).

    `match` picks the series by tag (a printer supply's `kind`), so toner, drums and waste
    containers can each have their own marks while sharing one `condition`, and so one key.
    """

    name: str
    measurement: str
    field: str
    below: float
    clear_above: float | None = None
    condition: str = ""  # defaults to the rule name
    match: dict[str, list[str]] = {}
    severity: Severity = Severity.WARNING
    category: Category = Category.HOST
    key_tags: list[str] = []
    summary: str = "{field} at {value:.0f}"
    enabled: bool = True


class StateRule(_Settings, frozen=True, forbid_unknown_fields=True):
    """States whose `ok` is false; `scope = device` deduplicates across the agents polling a device.

    For a device, each PC's latest report is kept apart: with `observers = "any"` the problem
    holds while any PC that reports the device lately says so (a jam one PC sees is a jam),
    with `"all"` only when every such PC says so (one PC that cannot reach a printer does not
    make it unreachable for everyone).
    """

    name: str
    conditions: list[str]
    scope: Scope = Scope.AGENT  # agent or device
    category: Category = Category.NETWORK
    severity: Severity | None = None  # None: the severity the agent reported
    key_tags: list[str] = []
    groupable: bool = False  # many agents of a site failing it make one site incident
    observers: Literal["any", "all"] = "any"
    min_duration_seconds: float = 0  # a problem only once it has held this long
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


class SiteHours(_Settings, frozen=True, forbid_unknown_fields=True):
    """One site's working hours, in its own time zone ("" : the default of [agent_lost])."""

    working_hours: str = ""
    timezone: str = ""

    def __post_init__(self) -> None:
        _check_hours(self.working_hours, self.timezone)


class AgentLostRule(_Settings, frozen=True, forbid_unknown_fields=True):
    """An agent that vanished (Last Will, or no batch for too long) when it should be there.

    PCs sleep, go home and are switched off at the button: none of that is a ticket. A
    laptop (the agent reports a battery) is expected to come and go; a desktop is lost only
    when it vanishes within its site's working hours; an agent marked always-on (agent.toml
    `always_on`) at any hour. Sleep announced by the PC is never "lost".
    """

    grace_seconds: float = 120
    hold_down_seconds: float = 60  # after the grace, a lone lost agent waits this long for its neighbours
    severity: Severity = Severity.WARNING
    laptops: bool = False  # true: laptops are lost like desktops
    working_hours: str = "Mon-Fri 07:00-19:00"
    timezone: str = "UTC"
    sites: dict[str, SiteHours] = {}
    enabled: bool = True

    def __post_init__(self) -> None:
        _check_hours(self.working_hours, self.timezone)

    def hours_of(self, site: str) -> tuple[WorkingHours, str]:
        """The working hours and time zone of `site`."""
        hours = self.sites.get(site, SiteHours())
        return working_hours(hours.working_hours or self.working_hours), hours.timezone or self.timezone


def _check_hours(hours: str, zone: str) -> None:
    """Stop at load time on hours or a zone that cannot be used (msgspec names the table)."""
    if hours:
        working_hours(hours)
    if zone:
        WorkingHours.zone(zone)


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
    # the agents' own checks that confirm a site's way out is really down
    confirming_conditions: frozenset[str] = frozenset({"gateway_reachable", "internet_reachable"})
    suppress_behind_upstream: frozenset[Category] = frozenset(
        {Category.NETWORK, Category.AGENT, Category.DEVICE, Category.PRINTER, Category.SUPPLY}
    )


class IncidentPolicy(_Settings, frozen=True, forbid_unknown_fields=True):
    """Lifecycle of incidents: when they resolve, reopen and count as flapping."""

    cycle_seconds: float = 30
    clear_cycles: int = 3
    reopen_window_seconds: float = 3600
    flap_window_seconds: float = 1800
    flap_changes: int = 6  # present/absent changes within the window that make an incident flap
    flapping_clear_cycles: int = 10


class Trust(_Settings, frozen=True, forbid_unknown_fields=True):
    """How far the collector trusts what one agent says, and how much of it it keeps (state.Limits)."""

    max_skew_seconds: float = 5
    stale_seconds: float = 900
    max_states_per_agent: int = 2_000
    max_series_per_agent: int = 500
    forget_agent_days: float = 30

    def limits(self) -> Limits:
        return Limits(
            self.max_skew_seconds,
            self.stale_seconds,
            self.max_states_per_agent,
            self.max_series_per_agent,
            self.forget_agent_days * 86_400,
        )


class Settings(_Settings, frozen=True, forbid_unknown_fields=True):
    """Everything rules, correlation and reconciliation read."""

    threshold: list[ThresholdRule] = []
    level: list[LevelRule] = []
    state: list[StateRule] = []
    rate: list[RateRule] = []
    agent_lost: AgentLostRule = AgentLostRule()
    correlation: Correlation = Correlation()
    incidents: IncidentPolicy = IncidentPolicy()
    trust: Trust = Trust()

    def __post_init__(self) -> None:
        for rule in self.state:
            if rule.scope not in (Scope.AGENT, Scope.DEVICE):
                raise ValueError(f"state rule {rule.name}: scope must be agent or device, not {rule.scope}")

    def tracks(self) -> list[Track]:
        """The histories FleetState must keep for these rules, one per field.

        FleetState keeps one series per field whatever reads it, so rules on the same field
        share one track: the longest retention, and the finest spacing any history rule needs.
        A level rule reads only the newest point, which every track keeps current.
        """
        history = [
            Track(r.measurement, r.field, int((r.min_duration_seconds + self.incidents.cycle_seconds) * NS))
            for r in self.threshold
            if r.enabled
        ]
        history += [
            Track(r.measurement, r.field, int(r.window_seconds * NS), int(r.window_seconds * NS / 200))
            for r in self.rate
            if r.enabled
        ]
        merged: dict[tuple[str, str], Track] = {}
        for t in history:
            old = merged.get((t.measurement, t.field))
            merged[(t.measurement, t.field)] = (
                t
                if old is None
                else Track(
                    t.measurement,
                    t.field,
                    max(old.retention_ns, t.retention_ns),
                    min(old.spacing_ns, t.spacing_ns),
                )
            )
        for r in self.level:
            if r.enabled:
                merged.setdefault(
                    (r.measurement, r.field),
                    Track(r.measurement, r.field, int(self.incidents.cycle_seconds * NS)),
                )
        return list(merged.values())


class SettingsError(CollectorError, ValueError):
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
