"""FleetState: what the collector last saw of every agent, device and tracked series.

Rules read it and never change it. The incidents engine feeds it from ingest
(`apply_batch`, `apply_presence`) and sets `as_of` before each evaluation, so a rule
is a pure function of this object. Only the measurements that some rule reads are
kept (`tracked`), each as a short history so that thresholds can ask "above for five
minutes" and rate rules can fit a slope; everything else passes through untouched,
which is what keeps ingest at 20,000 samples/s.

A sample or state that carries the `device` tag (protocol.DEVICE_TAG) belongs to that
SNMP device, not to the agent that polled it: five PCs reporting one printer update one
series. Everything else an agent sends is the agent's own, whatever its other tags.

What one PC says cannot override the others: times an agent gives are put on the
collector's clock (corrected by the agent's clock offset, learnt from batches stamped as
they were sent, when it is beyond the skew: `collector.clock_offset`) and clamped to it
(a PC ten years ahead cannot make its report the newest for good, one ten years behind
still reports a jam that is there now, and a backlog from its spool keeps its true age),
each PC's view of a device is kept apart (`observers`), a view stops counting once it is
`Limits.stale_seconds` old, and one agent can hold only so many states and series here.
An agent unseen for `forget_agent_seconds` is forgotten with everything it reported.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from agent.protocol import DEVICE_TAG, NS, AgentFacts, Batch, Severity
from collector.clock_offset import ClockOffset
from collector.observers import AgentStatus, PresenceChange

# Tags the agent's scheduler adds to everything; they identify the sender, not the thing.
SENDER_TAGS = frozenset({"agent_id", "site", "host"})
# The conditions that say whether an SNMP device answers (agent/snmp/observations.py).
REACHABILITY = frozenset({"snmp_reachable", "device_reachable", "modem_reachable"})

TagKey = tuple[tuple[str, str], ...]
StateKey = tuple[str, str, str, TagKey]  # agent id, subject, condition, tags


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


@dataclass(frozen=True, slots=True)
class Limits:
    """How far the collector trusts what one agent says, and how much of it it keeps."""

    # an agent's clock offset beyond this is corrected; its times later than receive time + this are clamped
    max_skew_seconds: float = 5
    stale_seconds: float = 900  # a report not renewed for this long no longer counts
    max_states_per_agent: int = 2_000
    max_series_per_agent: int = 500  # tracked series an agent may start (its own and its devices')
    forget_agent_seconds: float = 30 * 86_400


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
    started_by: str = ""  # the agent whose limit it counts against ("" for stored history)
    # a device's series is fed by every PC that polls it: each one's newest point, so one PC
    # cannot hide what another reports (rules that read a level ask every current reporter)
    latest_by: dict[str, tuple[int, float]] = dataclasses.field(default_factory=dict)

    def tag(self, name: str) -> str:
        return _tag(self.tags, name)

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
        return _tag(self.tags, name)


@dataclass(slots=True)
class AgentEntry:
    """An agent's presence as the collector sees it."""

    agent_id: str
    site: str
    status: AgentStatus
    since_ns: int
    last_seen_ns: int
    facts: AgentFacts | None = None
    states: int = 0  # StateEntries held for it
    series: int = 0  # Series it started
    refused: int = 0  # states and series not kept because it was at its limit
    clock: ClockOffset = dataclasses.field(default_factory=ClockOffset)  # how far its clock is off


class Monitoring(enum.StrEnum):
    """Whether an SNMP device's silence is a problem."""

    ANSWERS = "answers"  # answered its last poll
    UNREACHABLE = "unreachable"  # answered before (or was configured) and stopped: a ticket
    NOT_MONITORED = "not monitored by SNMP"  # never answered (SNMP off): information, never a ticket


@dataclass(slots=True)
class DeviceEntry:
    """An SNMP device some agent polls: where it is, where it was found, and when it last answered."""

    device: str  # its key: the serial once it answered, the address before
    address: str
    site: str
    kind: str  # printer, network, other
    source: str  # config, gateway or printer (found in the print system); "" from old agents
    answered_ns: int = 0  # last answer any agent got (0: never)
    reported_ns: int = 0  # last report about it, answered or not


def _tag(tags: TagKey, name: str) -> str:
    for key, value in tags:  # a handful of pairs: a scan beats building a dict
        if key == name:
            return value
    return ""


def tag_key(tags: Mapping[str, str]) -> TagKey:
    """Tags without the sender tags, as a hashable key."""
    return tuple(sorted((k, v) for k, v in tags.items() if k not in SENDER_TAGS))


@dataclass
class FleetState:
    """The latest picture of the fleet; `as_of` is the evaluation time rules must use."""

    tracks: Iterable[Track] = ()
    limits: Limits = field(default_factory=Limits)
    as_of: int = 0
    agents: dict[str, AgentEntry] = field(default_factory=dict)
    states: dict[StateKey, StateEntry] = field(default_factory=dict)
    # (measurement, field) -> (owner, tags) -> Series, so a rule walks only its own field
    series: dict[tuple[str, str], dict[tuple[str, TagKey], Series]] = field(default_factory=dict)
    devices: dict[str, DeviceEntry] = field(default_factory=dict)
    active: frozenset[str] = frozenset()  # condition keys firing after the previous evaluation
    clamped_total: int = 0  # times taken from an agent that lay in the future
    corrected_total: int = 0  # batches whose times were corrected by their agent's clock offset
    _tracked: dict[str, list[Track]] = field(default_factory=dict, init=False)
    # measurement -> the fields its tracks read: most samples carry none and are passed over in one test
    _tracked_fields: dict[str, frozenset[str]] = field(default_factory=dict, init=False)
    _device_states: dict[str, set[StateKey]] = field(default_factory=dict, init=False)
    # (site, address) -> the serial of the device that answered there, so a device an agent
    # knows only by address (it restarted while the printer was off) is still that device
    _serial_at: dict[tuple[str, str], str] = field(default_factory=dict, init=False)
    # device -> agent -> (answered, when): each PC's latest word on whether the device answers
    _reach: dict[str, dict[str, tuple[bool, int]]] = field(default_factory=dict, init=False)
    _stale_ns: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._stale_ns = int(self.limits.stale_seconds * NS)
        for track in self.tracks:
            self._tracked.setdefault(track.measurement, []).append(track)
        for measurement, tracks in self._tracked.items():
            self._tracked_fields[measurement] = frozenset(track.field for track in tracks)

    @property
    def stale_ns(self) -> int:
        return self._stale_ns

    def apply_batch(self, batch: Batch, received_ns: int) -> int:
        """Take in one accepted batch: tracked samples, every state, and the agent as seen.

        Returns the correction its times were given for the agent's clock (0: none)."""
        agent = self._agent(batch.agent_id, batch.site, received_ns)
        agent.last_seen_ns = max(agent.last_seen_ns, received_ns)
        skew_ns = int(self.limits.max_skew_seconds * NS)
        latest = received_ns + skew_ns
        agent.clock.observe(received_ns, batch.sent_ns)
        # The agent's times on the collector's clock: a PC ten years behind reports "now", and
        # a batch from its spool keeps the age it has (0 while the offset is unknown or small).
        shift = agent.clock.correction_ns(skew_ns)
        if shift:
            self.corrected_total += 1
        created = batch.created_ns + shift if batch.created_ns else received_ns
        if created > latest:
            created = latest
            self.clamped_total += 1
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
                    time_ns = sample.time_ns + shift if sample.time_ns else created
                    if time_ns > latest:
                        time_ns = latest
                        self.clamped_total += 1
                    tags = sample.tags
                    key = tag_key(tags)
                    scope, owner = _owner(tags, batch.agent_id)
                by_owner = self.series.setdefault((sample.measurement, track.field), {})
                series = by_owner.get((owner, key))
                if series is None:
                    if agent.series >= self.limits.max_series_per_agent:
                        agent.refused += 1
                        continue
                    agent.series += 1
                    series = Series(
                        scope,
                        owner,
                        sample.measurement,
                        track.field,
                        key,
                        batch.site,
                        batch.agent_id,
                        deque(),
                        batch.agent_id,
                    )
                    by_owner[(owner, key)] = series
                series.agent_id = batch.agent_id
                series.site = batch.site or series.site
                _append(series.points, time_ns, float(value), track)
                if scope is Scope.DEVICE and time_ns >= series.latest_by.get(batch.agent_id, (0, 0.0))[0]:
                    series.latest_by[batch.agent_id] = (time_ns, float(value))
        reported: dict[str, set[StateKey]] = {}  # device -> state keys in this batch
        unreachable: set[str] = set()
        for state in batch.states:
            observed = state.observed_ns + shift if state.observed_ns else created
            if observed > latest:
                observed = latest
                self.clamped_total += 1
            device = state.tags.get(DEVICE_TAG, "")
            key = tag_key(state.tags)
            stkey = (batch.agent_id, state.subject, state.condition, key)
            if device:
                reported.setdefault(device, set()).add(stkey)
                if state.condition in REACHABILITY:
                    if not state.ok:
                        unreachable.add(device)
                    self._device_seen(batch.agent_id, device, state.ok, state.tags, batch.site, observed)
            entry = self.states.get(stkey)
            if entry is None:
                if agent.states >= self.limits.max_states_per_agent:
                    agent.refused += 1
                    continue
                agent.states += 1
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
            self._clear_unreported(batch.agent_id, reported, unreachable, created)
        return shift

    def _device_seen(
        self, agent_id: str, device: str, answered: bool, tags: Mapping[str, str], site: str, time_ns: int
    ) -> None:
        address = tags.get("address", "")
        if not answered:
            device = self._serial_at.get((site, device), device)
        entry = self.devices.get(device)
        if entry is None:
            entry = self.devices[device] = DeviceEntry(
                device, address, site, tags.get("kind", ""), tags.get("source", "")
            )
        entry.reported_ns = max(entry.reported_ns, time_ns)
        entry.address, entry.site = address or entry.address, site or entry.site
        entry.kind = tags.get("kind", "") or entry.kind
        entry.source = _stronger_source(entry.source, tags.get("source", ""))
        if answered:
            entry.answered_ns = max(entry.answered_ns, time_ns)
            if address and address != device:
                self._serial_at[(entry.site, address)] = device
        if agent_id:
            seen = self._reach.setdefault(device, {})
            if time_ns >= seen.get(agent_id, (False, 0))[1]:
                seen[agent_id] = (answered, time_ns)

    def _clear_unreported(
        self,
        agent_id: str,
        reported: dict[str, set[StateKey]],
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
            device = entry.tag(DEVICE_TAG)
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

    def preload_devices(self, answered: Iterable[tuple[Mapping[str, str], int]]) -> int:
        """Remember devices that answered before the collector started (labels of their
        `snmp_device_info` and when they last answered); return how many were new."""
        new = 0
        for labels, time_ns in answered:
            device = labels.get(DEVICE_TAG, "")
            if not device:
                continue
            new += device not in self.devices
            self._device_seen("", device, True, labels, labels.get("site", ""), time_ns)
        return new

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

    def forget(self, now_ns: int) -> int:
        """Drop what nobody renewed for `forget_agent_seconds`: agents with everything they
        reported, states, series and devices; return how many agents went."""
        horizon = now_ns - int(self.limits.forget_agent_seconds * NS)
        gone = {a for a, entry in self.agents.items() if max(entry.last_seen_ns, entry.since_ns) < horizon}
        for agent_id in gone:
            del self.agents[agent_id]
            self._device_states.pop(agent_id, None)
        for stkey in [k for k, v in self.states.items() if v.agent_id in gone or v.observed_ns < horizon]:
            owner = self.agents.get(self.states.pop(stkey).agent_id)
            if owner is not None:
                owner.states -= 1
        for by_owner in self.series.values():
            for key in [k for k, s in by_owner.items() if not s.points or s.latest[0] < horizon]:
                owner = self.agents.get(by_owner.pop(key).started_by)
                if owner is not None:
                    owner.series -= 1
            for series in by_owner.values():
                for agent_id in [a for a, (t, _) in series.latest_by.items() if a in gone or t < horizon]:
                    del series.latest_by[agent_id]
        for keys in self._device_states.values():
            keys.intersection_update(self.states)
        for device in [d for d, e in self.devices.items() if e.reported_ns < horizon]:
            del self.devices[device]
            self._reach.pop(device, None)
        for views in self._reach.values():
            for agent_id in [a for a, (_, t) in views.items() if a in gone or t < horizon]:
                del views[agent_id]
        self._serial_at = {k: v for k, v in self._serial_at.items() if v in self.devices}
        return len(gone)

    def tracked_series(self, measurement: str, field_name: str) -> Iterator[Series]:
        """Every series of one tracked field."""
        yield from self.series.get((measurement, field_name), {}).values()

    def site_of(self, agent_id: str) -> str:
        agent = self.agents.get(agent_id)
        return agent.site if agent else ""

    def online(self, agent_id: str) -> bool:
        agent = self.agents.get(agent_id)
        return agent is None or agent.status is AgentStatus.ONLINE

    def current(self, scope: Scope, agent_id: str, time_ns: int) -> bool:
        """Whether an observation made at `time_ns` still stands.

        A device report counts for `stale_seconds`. An online agent's own report too: a
        check it no longer sends (taken out of its config) is gone. An agent that is away
        cannot renew anything, so its last word stands until it is back (it is shown as
        "last seen", and correlation keeps it from opening anything new).
        """
        if time_ns >= self.as_of - self._stale_ns:
            return True
        return scope is Scope.AGENT and not self.online(agent_id)

    def device_of(self, entry: StateEntry) -> tuple[str, str]:
        """The device key and the part of the subject below it ("SN1/cover/2" -> ("SN1", "cover/2")).

        A device an agent knows only by its address (it has not had an answer since it
        started) is the serial that answered at that address before, if any.
        """
        device = entry.tag(DEVICE_TAG) or entry.subject
        detail = entry.subject[len(device) + 1 :] if entry.subject.startswith(device + "/") else ""
        return self._serial_at.get((entry.site, device), device), detail

    def monitoring(self, device: str) -> Monitoring:
        """Whether the device answers, stopped answering, or never did (SNMP off: not monitored).

        It answers while any PC that polls it lately gets an answer: one PC behind a local
        firewall does not make a printer unreachable for everyone.
        """
        entry = self.devices.get(device)
        if entry is None:
            return Monitoring.NOT_MONITORED
        recent = self.as_of - self.stale_ns
        if any(ok for ok, time_ns in self._reach.get(device, {}).values() if time_ns >= recent):
            return Monitoring.ANSWERS
        if entry.answered_ns or entry.source == "config" or entry.device != entry.address:
            return Monitoring.UNREACHABLE  # it answered before, or someone asked for it by name
        return Monitoring.NOT_MONITORED

    def coverage(self) -> frozenset[tuple[Scope, str]]:
        """What this collector sees now: a missing condition about one of these means "clear".

        A device nobody reported lately (every PC that sees it is away) is not seen, so its
        incidents stay as they are until someone reports it again.
        """
        seen: set[tuple[Scope, str]] = {(Scope.AGENT, a) for a in self.agents}
        seen.update((Scope.SITE, a.site) for a in self.agents.values())
        recent = self.as_of - self._stale_ns
        serial_at = self._serial_at
        for entry in self.states.values():
            if entry.observed_ns >= recent:
                device = _tag(entry.tags, DEVICE_TAG) or entry.subject
                seen.add((Scope.DEVICE, serial_at.get((entry.site, device), device)))
        for by_owner in self.series.values():
            seen.update(
                (Scope.DEVICE, s.owner)
                for s in by_owner.values()
                if s.scope is Scope.DEVICE and s.latest[0] >= recent
            )
        if self.agents:
            seen.add((Scope.FLEET, "fleet"))
        return frozenset(seen)


_SOURCE_RANK = {"": 0, "printer": 1, "gateway": 1, "config": 2}


def _stronger_source(old: str, new: str) -> str:
    """A device one PC was told about by name stays "config" whatever another PC found it by."""
    return new if _SOURCE_RANK.get(new, 1) >= _SOURCE_RANK.get(old, 1) else old


def _owner(tags: Mapping[str, str], agent_id: str) -> tuple[Scope, str]:
    """Whose series a sample is: the device it names (a printer polled by several PCs), else the agent's."""
    device = tags.get(DEVICE_TAG, "")
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
