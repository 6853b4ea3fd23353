"""FleetState: what the collector last saw of every agent, device and tracked series.

Rules read it and never change it. The incidents engine feeds it from ingest
(`apply_batch`, `apply_presence`) and sets `as_of` before each evaluation, so a rule
is a pure function of this object. Only the measurements that some rule reads are
kept (`tracked`), each as a short history so that thresholds can ask "above for five
minutes" and rate rules can fit a slope; everything else passes through untouched,
which is what keeps ingest at 20,000 samples/s.

A sample or state that carries a `device` tag (or a State whose subject is a device
serial, see `device_conditions`) belongs to the device, not to the agent that polled
it: five PCs reporting one printer update one series.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from agent.protocol import AgentFacts, Batch, Severity
from collector.observers import AgentStatus, PresenceChange

# Tags the agent's scheduler adds to everything; they identify the sender, not the thing.
SENDER_TAGS = frozenset({"agent_id", "site", "host"})

TagKey = tuple[tuple[str, str], ...]


class Scope(enum.StrEnum):
    """What an observation or an incident is about."""

    AGENT = "agent"  # one PC
    DEVICE = "device"  # a printer or modem, keyed by serial
    SITE = "site"  # many agents of one site
    FLEET = "fleet"  # many sites at once


@dataclass(frozen=True, slots=True)
class Track:
    """Keep a history of `measurement.field` for `retention_ns`, one point per `spacing_ns` at most."""

    measurement: str
    field: str
    retention_ns: int
    spacing_ns: int = 0


@dataclass(slots=True)
class Series:
    """The recent values of one field of one measured thing."""

    scope: Scope
    owner: str  # agent id, or device serial
    measurement: str
    field: str
    tags: TagKey
    site: str
    agent_id: str  # the agent that reported it last
    points: deque[tuple[int, float]]

    def tag(self, name: str) -> str:
        return dict(self.tags).get(name, "")

    @property
    def latest(self) -> tuple[int, float]:
        return self.points[-1]


@dataclass(slots=True)
class StateEntry:
    """The latest State an agent reported about one subject and condition, and since when it holds."""

    agent_id: str
    site: str
    subject: str
    condition: str
    ok: bool
    severity: Severity
    text: str
    tags: TagKey
    observed_ns: int
    since_ns: int  # first observation with the current `ok`

    def tag(self, name: str) -> str:
        return dict(self.tags).get(name, "")


@dataclass(slots=True)
class AgentEntry:
    """An agent's presence as the collector sees it."""

    agent_id: str
    site: str
    status: AgentStatus
    since_ns: int
    last_seen_ns: int
    facts: AgentFacts | None = None


def tag_key(tags: Mapping[str, str]) -> TagKey:
    """Tags without the sender tags, as a hashable key."""
    return tuple(sorted((k, v) for k, v in tags.items() if k not in SENDER_TAGS))


@dataclass
class FleetState:
    """The latest picture of the fleet; `as_of` is the evaluation time rules must use."""

    tracks: Iterable[Track] = ()
    as_of: int = 0
    agents: dict[str, AgentEntry] = field(default_factory=dict)
    states: dict[tuple[str, str, str, TagKey], StateEntry] = field(default_factory=dict)
    # (measurement, field) -> (owner, tags) -> Series, so a rule walks only its own field
    series: dict[tuple[str, str], dict[tuple[str, TagKey], Series]] = field(default_factory=dict)
    active: frozenset[str] = frozenset()  # condition keys firing after the previous evaluation
    _tracked: dict[str, list[Track]] = field(default_factory=dict, init=False)
    # measurement -> the fields its tracks read: most samples carry none and are passed over in one test
    _tracked_fields: dict[str, frozenset[str]] = field(default_factory=dict, init=False)
    _device_states: dict[str, set[tuple[str, str, str, TagKey]]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for track in self.tracks:
            self._tracked.setdefault(track.measurement, []).append(track)
        for measurement, tracks in self._tracked.items():
            self._tracked_fields[measurement] = frozenset(track.field for track in tracks)

    def apply_batch(self, batch: Batch, received_ns: int) -> None:
        """Take in one accepted batch: tracked samples, every state, and the agent as seen."""
        agent = self._agent(batch.agent_id, batch.site, received_ns)
        agent.last_seen_ns = max(agent.last_seen_ns, received_ns)
        tracked, tracked_fields = self._tracked, self._tracked_fields
        for sample in batch.samples:
            wanted = tracked_fields.get(sample.measurement)
            if wanted is None or wanted.isdisjoint(sample.fields):
                continue
            tracks = tracked[sample.measurement]
            key: TagKey | None = None  # worked out for the first tracked field the sample has
            for track in tracks:
                value = sample.fields.get(track.field)
                if value is None:
                    continue
                if key is None:
                    time_ns = sample.time_ns or batch.created_ns or received_ns
                    tags = sample.tags
                    key = tag_key(tags)
                    scope, owner = _owner(tags, batch.agent_id)
                by_owner = self.series.setdefault((sample.measurement, track.field), {})
                series = by_owner.get((owner, key))
                if series is None:
                    series = Series(
                        scope,
                        owner,
                        sample.measurement,
                        track.field,
                        key,
                        batch.site,
                        batch.agent_id,
                        deque(),
                    )
                    by_owner[(owner, key)] = series
                series.agent_id = batch.agent_id
                series.site = batch.site or series.site
                _append(series.points, time_ns, float(value), track)
        reported: dict[str, set[tuple[str, str, str, TagKey]]] = {}  # device -> state keys in this batch
        unreachable: set[str] = set()
        for state in batch.states:
            observed = state.observed_ns or batch.created_ns or received_ns
            device = state.tags.get("device", "")
            if device:
                reported.setdefault(device, set()).add(
                    (batch.agent_id, state.subject, state.condition, tag_key(state.tags))
                )
                if state.condition == "snmp_reachable" and not state.ok:
                    unreachable.add(device)
            key = tag_key(state.tags)
            stkey = (batch.agent_id, state.subject, state.condition, key)
            entry = self.states.get(stkey)
            if entry is None:
                self.states[stkey] = StateEntry(
                    batch.agent_id,
                    batch.site,
                    state.subject,
                    state.condition,
                    state.ok,
                    state.severity,
                    state.text,
                    key,
                    observed,
                    observed,
                )
                continue
            if observed < entry.observed_ns:
                continue  # a late redelivery must not roll the picture back
            if entry.ok != state.ok:
                entry.since_ns = observed
            entry.ok, entry.severity, entry.text = state.ok, state.severity, state.text
            entry.observed_ns, entry.site = observed, batch.site or entry.site
        if reported:
            self._clear_unreported(batch.agent_id, reported, unreachable, batch.created_ns or received_ns)

    def _clear_unreported(
        self,
        agent_id: str,
        reported: dict[str, set[tuple[str, str, str, TagKey]]],
        unreachable: set[str],
        time_ns: int,
    ) -> None:
        # A device poll lists only the problems present (a printer's error bits, its alert
        # table): a problem this agent reported before and not in its new poll of the same
        # device is gone. An unreachable device says nothing, so its problems stay as they were.
        for key in self._device_states.get(agent_id, set()) - set().union(*reported.values()):
            entry = self.states.get(key)
            if entry is None:
                continue
            device = entry.tag("device")
            if (
                device in reported
                and device not in unreachable
                and not entry.ok
                and entry.observed_ns <= time_ns
            ):
                entry.ok, entry.since_ns, entry.observed_ns = True, time_ns, time_ns
        known = self._device_states.setdefault(agent_id, set())
        for keys in reported.values():
            known.update(keys)

    def preload(
        self, track: Track, history: Iterable[tuple[Mapping[str, str], Iterable[tuple[int, float]]]]
    ) -> int:
        """Merge stored history of `track` (labels and points per series, as the metrics
        database keeps them) into the series; return how many points were taken.

        Labels are grouped as `apply_batch` groups tags, so one printer's supply reported
        by five PCs is still one series. Points already here from live batches stay; the
        merged series keeps the track's spacing and retention.
        """
        grouped: dict[tuple[str, TagKey], tuple[Series, list[tuple[int, float]]]] = {}
        by_owner = self.series.setdefault((track.measurement, track.field), {})
        for labels, points in history:
            tags = {k: v for k, v in labels.items() if k != "__name__"}
            agent_id, site = tags.get("agent_id", ""), tags.get("site", "")
            scope, owner = _owner(tags, agent_id)
            if not owner:
                continue
            key = tag_key(tags)
            entry = grouped.get((owner, key))
            if entry is None:
                series = by_owner.get((owner, key)) or Series(
                    scope, owner, track.measurement, track.field, key, site, agent_id, deque()
                )
                entry = grouped[(owner, key)] = (series, [])
            entry[1].extend(points)
        taken = 0
        for (owner, key), (series, points) in grouped.items():
            by_time = dict(points)
            by_time.update(series.points)  # a live point wins over the stored one of the same time
            merged = sorted(by_time.items())
            rebuilt: deque[tuple[int, float]] = deque()
            for time_ns, value in merged:
                _append(rebuilt, time_ns, value, track)
            taken += len(points)
            series.points = rebuilt
            by_owner[(owner, key)] = series
        return taken

    def apply_presence(self, change: PresenceChange) -> None:
        """Record an agent's new presence status."""
        agent = self._agent(change.agent_id, change.site, change.time_ns)
        if agent.status != change.status:
            agent.status, agent.since_ns = change.status, change.time_ns
        agent.last_seen_ns = max(agent.last_seen_ns, change.last_seen_ns)
        agent.site = change.site or agent.site
        if change.facts is not None:
            agent.facts = change.facts

    def _agent(self, agent_id: str, site: str, time_ns: int) -> AgentEntry:
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = AgentEntry(agent_id, site, AgentStatus.ONLINE, time_ns, time_ns)
            self.agents[agent_id] = agent
        elif site and agent.site != site:
            agent.site = site
        return agent

    def tracked_series(self, measurement: str, field_name: str) -> Iterator[Series]:
        """Every series of one tracked field."""
        yield from self.series.get((measurement, field_name), {}).values()

    def site_of(self, agent_id: str) -> str:
        agent = self.agents.get(agent_id)
        return agent.site if agent else ""

    def coverage(self) -> frozenset[tuple[Scope, str]]:
        """What this collector sees: a missing condition about one of these means "clear"."""
        seen: set[tuple[Scope, str]] = {(Scope.AGENT, a) for a in self.agents}
        seen.update((Scope.SITE, a.site) for a in self.agents.values())
        seen.update((Scope.DEVICE, s.tag("device") or s.subject) for s in self.states.values())
        for by_owner in self.series.values():
            seen.update((Scope.DEVICE, s.owner) for s in by_owner.values() if s.scope is Scope.DEVICE)
        if self.agents:
            seen.add((Scope.FLEET, "fleet"))
        return frozenset(seen)


def _owner(tags: Mapping[str, str], agent_id: str) -> tuple[Scope, str]:
    """Whose series a sample is: the device it names (a printer polled by several PCs), else the agent's."""
    device = tags.get("device", "")
    return (Scope.DEVICE, device) if device else (Scope.AGENT, agent_id)


def _append(points: deque[tuple[int, float]], time_ns: int, value: float, track: Track) -> None:
    if points and time_ns < points[-1][0]:
        return  # out of order: a redelivered or late batch adds nothing to a history
    if track.spacing_ns and len(points) > 1 and time_ns - points[-2][0] < track.spacing_ns:
        # the newest point moves forward instead of adding one, so a dense feed stays bounded
        points[-1] = (time_ns, value)
    else:
        points.append((time_ns, value))
    # keep one point at or before the horizon, so a rule can tell the window is covered
    horizon = time_ns - track.retention_ns
    while len(points) > 2 and points[1][0] <= horizon:
        points.popleft()
