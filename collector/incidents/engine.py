"""The incidents engine: an ingest Observer that keeps FleetState and reconciles incidents each cycle.

Ingest calls `observe_batch` / `observe_presence` in its own thread; they only update
FleetState under a lock, so they are quick. `evaluate(now_ns)` runs the rules,
correlation and reconciliation and writes the store; `run()` calls it every
`cycle_seconds` until stopped. Several workers may run engines against one store:
the store's unique index and version checks make their writes idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.protocol import DEVICE_TAG, NS, Batch, single_line
from collector import rules
from collector.incidents.correlate import correlate
from collector.incidents.model import Incident
from collector.incidents.reconcile import Action, Change, Inputs, reconcile
from collector.incidents.silence_store import SilenceStore
from collector.incidents.store import IncidentStore
from collector.observers import AgentStatus, PresenceChange
from collector.rules.condition import Condition
from collector.rules.presence import away_reason
from collector.rules.rate import seconds_left, since_last_rise
from collector.rules.settings import Settings, load_settings
from collector.state import FleetState, Monitoring, Scope, Track

log = logging.getLogger(__name__)

FORGET_EVERY_NS = 3600 * NS  # what goes unrenewed for a month need not be looked for every cycle


class IncidentEngine:
    """Observer of ingest that turns the fleet's state into incidents in `store`."""

    def __init__(
        self,
        store: IncidentStore,
        settings: Settings | None = None,
        clock: Callable[[], int] = time.time_ns,
        silences: SilenceStore | None = None,
    ) -> None:
        self.store = store
        self.silences = silences if silences is not None else SilenceStore(store.engine)
        self.settings = settings or load_settings()
        self.state = FleetState(tracks=self.settings.tracks(), limits=self.settings.trust.limits())
        self.clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_conditions: list[Condition] = []
        self.after_cycle: Callable[[int], None] | None = None  # e.g. ship incident metrics
        self._over_limit: set[str] = set()  # agents already logged as over their limits
        self._skewed: dict[str, int] = {}  # agent -> the clock correction last logged for it
        self._forgot_ns = 0  # when FleetState last dropped what nobody renewed

    @classmethod
    def from_files(cls, store: IncidentStore, rules_path: Path | None = None) -> IncidentEngine:
        return cls(store, load_settings(rules_path))

    def sample_fields(self) -> list[tuple[str, str]]:
        """The tracked fields: the only samples the rules read."""
        return [(track.measurement, track.field) for track in self.settings.tracks()]

    def observe_batch(self, batch: Batch, received_ns: int) -> None:
        # Observers must not raise into ingest: a batch this engine cannot take is logged, not fatal.
        try:
            with self._lock:
                shift = self.state.apply_batch(batch, received_ns)
        except Exception:
            log.exception("incidents could not take batch %s/%s", batch.agent_id, batch.seq)
            return
        said = self._skewed.get(batch.agent_id, 0)
        skew_ns = int(self.state.limits.max_skew_seconds * NS)
        if (shift == 0) != (said == 0) or abs(shift - said) > skew_ns:  # not every millisecond it settles by
            self._said_clock(batch.agent_id, shift)

    def _said_clock(self, agent_id: str, shift: int) -> None:
        """Log once when an agent's times start or stop being corrected, or by a new offset."""
        if shift:
            self._skewed[agent_id] = shift
            log.warning(
                "agent %s's clock is %s %s the collector's: its times are corrected by that "
                "(trust.max_skew_seconds is exceeded)",
                agent_id,
                _span(abs(shift)),
                "behind" if shift > 0 else "ahead of",
            )
            return
        self._skewed.pop(agent_id, None)
        log.info("agent %s's clock agrees with the collector's again", agent_id)

    def preload(
        self, track: Track, history: Iterable[tuple[Mapping[str, str], Iterable[tuple[int, float]]]]
    ) -> int:
        """Merge stored history into the tracked series (warm start); return the points taken."""
        with self._lock:
            return self.state.preload(track, history)

    def preload_devices(self, answered: Iterable[tuple[Mapping[str, str], int]]) -> int:
        """Remember the SNMP devices that answered before this start (warm start)."""
        with self._lock:
            return self.state.preload_devices(answered)

    def observe_presence(self, change: PresenceChange) -> None:
        try:
            with self._lock:
                self.state.apply_presence(change)
        except Exception:
            log.exception("incidents could not take presence of %s", change.agent_id)

    def conditions(self, now_ns: int) -> list[Condition]:
        """The correlated conditions present at `now_ns` (no store access)."""
        with self._lock:
            self.state.as_of = now_ns
            found = rules.evaluate(self.state, self.settings)
            return correlate(found, self.state, self.settings.correlation)

    def evaluate(self, now_ns: int) -> list[Incident]:
        """One cycle: rules, correlation, reconciliation, store; returns the incidents changed."""
        conditions = self.conditions(now_ns)
        with self._lock:
            coverage = self.state.coverage()
        policy = self.settings.incidents
        open_views = self.store.open_views()
        inputs = Inputs(
            open=open_views,
            recently_resolved=self.store.resolved_since(now_ns - int(policy.reopen_window_seconds * NS)),
            silences=self.silences.active(now_ns),
            coverage=coverage,
        )
        changes = reconcile(conditions, inputs, now_ns, policy)
        changed = self.store.apply(changes, now_ns)
        _log_changes(changes, changed)
        with self._lock:
            # hysteresis remembers what fired; open incidents count too, so a restart keeps it
            self.state.active = frozenset(c.key for c in conditions) | {
                v.key for v in open_views if v.key not in {ch.key for ch in changes if ch.action == "resolve"}
            }
            if not self._forgot_ns:
                self._forgot_ns = now_ns  # nothing is a month old in a collector that just started
            elif now_ns - self._forgot_ns >= FORGET_EVERY_NS:
                self.state.forget(now_ns)
                self._forgot_ns = now_ns
            over = {a.agent_id: a.refused for a in self.state.agents.values() if a.refused}
        for agent_id in over.keys() - self._over_limit:
            log.warning(
                "agent %s is over its limits (trust.max_states_per_agent / max_series_per_agent): "
                "%d new states or series not kept",
                agent_id,
                over[agent_id],
            )
        self._over_limit = set(over)
        self.last_conditions = conditions
        return changed

    def agents(self) -> list[AgentSummary]:
        with self._lock:
            return agents_of(self.state, self.settings)

    def devices(self) -> list[DeviceSummary]:
        device_conditions = frozenset(
            name for rule in self.settings.state if rule.scope is Scope.DEVICE for name in rule.conditions
        )
        with self._lock:
            return devices_of(self.state, device_conditions)

    def supplies(self, now_ns: int) -> list[SupplyForecast]:
        with self._lock:
            self.state.as_of = now_ns
            return supplies_of(self.state)

    def run(self) -> None:
        """Evaluate every cycle until `stop()`; a failing cycle is logged and the next one runs."""
        period = self.settings.incidents.cycle_seconds
        while not self._stop.wait(period):
            now = self.clock()
            try:
                self.evaluate(now)
                if self.after_cycle is not None:
                    self.after_cycle(now)
            except Exception:
                log.exception("incident evaluation failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="incidents", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _log_changes(changes: Sequence[Change], changed: Sequence[Incident]) -> None:
    """One line for the operator per incident opened, reopened, resolved or updated."""
    by_id = {i.id: i for i in changed}
    by_key = {i.key: i for i in changed}
    for change in changes:
        incident = by_id.get(change.incident_id or -1) or by_key.get(change.key)
        if incident is None or (change.action is Action.CLEARING and not change.events):
            continue
        verb = {
            Action.OPEN: "opened",
            Action.REOPEN: "reopened",
            Action.RESOLVE: "resolved",
        }.get(change.action, "updated")
        what = "; ".join(e.text for e in change.events) if verb == "updated" else incident.summary
        log.info("incident %d %s: %s: %s", incident.id, verb, incident.key, single_line(what, 300))


@dataclass(frozen=True, slots=True)
class AgentSummary:
    """An agent as the API lists it."""

    agent_id: str
    site: str
    status: AgentStatus
    since_ns: int
    last_seen_ns: int
    host: str
    version: str
    away: str = ""  # why its absence is no problem: "laptop away", "asleep", "away outside working hours"


@dataclass(frozen=True, slots=True)
class DeviceSummary:
    """A printer or modem as the API lists it: who polls it, what it reports as wrong, and whether
    its silence would be a problem (`monitoring`)."""

    device: str
    site: str
    agents: tuple[str, ...]
    problems: tuple[str, ...]
    last_seen_ns: int
    monitoring: str = Monitoring.ANSWERS.value
    address: str = ""


@dataclass(frozen=True, slots=True)
class SupplyForecast:
    """A printer supply's level, how fast it goes, and when it runs out at that pace."""

    device: str
    site: str
    supply: str
    level_percent: float
    percent_per_day: float | None  # None: not enough history, or not falling
    days_left: float | None


def supplies_of(state: FleetState, window_days: float = 30) -> list[SupplyForecast]:
    """Forecasts for every printer supply with a level history (pure over FleetState)."""
    found = []
    start = state.as_of - int(window_days * 86400 * NS)
    for series in state.tracked_series("printer_supply", "level_percent"):
        points = since_last_rise([(t, v) for t, v in series.points if t >= start and v >= 0], 0.05)
        if not points:
            continue
        left = seconds_left(points, 3, 86400)
        rate = None if left is None or left == 0 else points[-1][1] / (left / 86400)
        found.append(
            SupplyForecast(
                series.owner,
                series.site,
                series.tag("supply"),
                points[-1][1],
                rate,
                None if left is None else left / 86400,
            )
        )
    return sorted(found, key=lambda f: (f.days_left is None, f.days_left or 0, f.device, f.supply))


def agents_of(state: FleetState, settings: Settings) -> list[AgentSummary]:
    return [
        AgentSummary(
            a.agent_id,
            a.site,
            a.status,
            a.since_ns,
            a.last_seen_ns,
            a.facts.host if a.facts else "",
            a.facts.version if a.facts else "",
            away_reason(a, settings.agent_lost),
        )
        for a in sorted(state.agents.values(), key=lambda a: a.agent_id)
    ]


def devices_of(state: FleetState, device_conditions: frozenset[str]) -> list[DeviceSummary]:
    """Every SNMP device some agent reported: from their states (reachability, problems) and series."""
    found: dict[str, tuple[str, set[str], set[str], int]] = {}
    for s in state.states.values():
        if not s.tag(DEVICE_TAG) and s.condition not in device_conditions:
            continue
        device, _ = state.device_of(s)
        site, agents, problems, seen = found.get(device, (s.site, set(), set(), 0))
        agents.add(s.agent_id)
        if not s.ok and state.current(Scope.DEVICE, s.agent_id, s.observed_ns):
            problems.add(s.condition)
        found[device] = (site or s.site, agents, problems, max(seen, s.observed_ns))
    for by_owner in state.series.values():
        for series in by_owner.values():
            if series.scope is Scope.DEVICE:
                site, agents, problems, seen = found.get(series.owner, (series.site, set(), set(), 0))
                agents.add(series.agent_id)
                found[series.owner] = (site, agents, problems, max(seen, series.latest[0]))
    summaries = []
    for d, (site, a, p, seen) in sorted(found.items()):
        monitoring = state.monitoring(d)
        entry = state.devices.get(d)
        if monitoring is Monitoring.NOT_MONITORED:
            p.discard("snmp_reachable")  # its silence is no problem: the monitoring says what it is
        summaries.append(
            DeviceSummary(
                d,
                site,
                tuple(sorted(a)),
                tuple(sorted(p)),
                seen,
                monitoring.value,
                entry.address if entry else "",
            )
        )
    return summaries


def _span(ns: int) -> str:
    """A clock offset as a person reads it: 3650 days, 1.5 h, 12 s."""
    seconds = ns / NS
    if seconds >= 2 * 86_400:
        return f"{seconds / 86_400:.0f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.0f} s"
