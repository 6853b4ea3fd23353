"""Reconcile: (open incidents, conditions now, silences, time) -> the changes to make (pure).

A new key opens an incident, or reopens the one resolved within the reopen window;
a present key refreshes its incident; a key gone for `clear_cycles` evaluations
resolves it. Present/absent changes are counted over a window to mark flapping, and
a flapping incident notifies only when it starts flapping and when it resolves.
Suppressed conditions and maintenance windows stop opening, never resolving; a
silence opens the incident but sends nothing. Every change carries its timeline events.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.protocol import NS, Severity
from collector.incidents.silences import Silence, SilenceKind, covering
from collector.rules.condition import Condition
from collector.rules.settings import IncidentPolicy
from collector.state import Scope


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Action(enum.StrEnum):
    OPEN = "open"
    REOPEN = "reopen"
    REFRESH = "refresh"  # present: update what changed
    CLEARING = "clearing"  # absent, not for long enough yet
    RESOLVE = "resolve"


class EventKind(enum.StrEnum):
    """What can happen on an incident's timeline."""

    OPENED = "opened"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    SEVERITY = "severity"
    AFFECTED = "affected"
    SUPPRESSED = "suppressed"
    UNSUPPRESSED = "unsuppressed"
    SILENCED = "silenced"
    UNSILENCED = "unsilenced"
    FLAPPING = "flapping"
    STABLE = "stable"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    COMMENT = "comment"
    NOTIFIED = "notified"
    NOTIFY_FAILED = "notify_failed"


class Notice(enum.StrEnum):
    """What connectors are told: the three events a receiving ticket system understands."""

    OPENED = "opened"
    UPDATED = "updated"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class IncidentView:
    """What reconciliation needs to know of an open or recently resolved incident."""

    id: int
    key: str
    status: IncidentStatus
    scope: Scope
    subject: str
    severity: Severity
    affected: tuple[str, ...] = ()
    suppressed_by: str = ""
    silenced: bool = False
    flapping: bool = False
    notified: bool = False  # an "opened" notice went out, so a "resolved" one must follow
    clear_cycles: int = 0
    clear_tick_ns: int = 0  # when clear_cycles last advanced
    flips: tuple[int, ...] = ()  # times the condition appeared or went, within the flap window
    resolved_ns: int = 0
    resolved_by: str = ""  # "auto", or the person who resolved it by hand


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    text: str


@dataclass(frozen=True, slots=True)
class Change:
    """One incident to insert or update, with its new lifecycle fields and timeline events."""

    action: Action
    key: str
    incident_id: int | None
    condition: Condition | None  # None when the key is absent
    clear_cycles: int = 0
    flips: tuple[int, ...] = ()
    flapping: bool = False
    suppressed_by: str = ""
    silenced: bool = False
    events: tuple[Event, ...] = ()
    notice: Notice | None = None


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything reconcile reads besides the conditions."""

    open: Sequence[IncidentView]
    recently_resolved: Sequence[IncidentView] = ()
    silences: Sequence[Silence] = ()
    coverage: frozenset[tuple[Scope, str]] = field(default_factory=frozenset)


def reconcile(
    conditions: Sequence[Condition], inputs: Inputs, as_of: int, policy: IncidentPolicy
) -> list[Change]:
    """The changes that bring the incidents in line with the conditions present at `as_of`."""
    open_by_key = {i.key: i for i in inputs.open}
    resolved_by_key: dict[str, IncidentView] = {}
    reopen_after = as_of - int(policy.reopen_window_seconds * NS)
    for i in inputs.recently_resolved:
        if i.resolved_ns >= reopen_after and i.resolved_ns >= resolved_by_key.get(i.key, i).resolved_ns:
            resolved_by_key[i.key] = i
    silences = list(inputs.silences)
    changes: list[Change] = []
    present: set[str] = set()
    for c in conditions:
        if c.key in present:
            continue
        present.add(c.key)
        silence = covering(silences, c, as_of, SilenceKind.SILENCE)
        incident = open_by_key.get(c.key)
        if incident is None:
            if c.suppressed_by or covering(silences, c, as_of, SilenceKind.MAINTENANCE):
                continue
            old = resolved_by_key.get(c.key)
            if old is not None and old.resolved_by != "auto" and c.observed_ns <= old.resolved_ns:
                continue  # resolved by hand: back only once a newer report says it is still there
            changes.append(_open(c, old, silence, as_of, policy))
        else:
            change = _refresh(incident, c, silence, as_of, policy)
            if change is not None:
                changes.append(change)
    for incident in inputs.open:
        if incident.key not in present and (incident.scope, incident.subject) in inputs.coverage:
            cleared = _clear(incident, as_of, policy)
            if cleared is not None:
                changes.append(cleared)
    return changes


def _flips(previous: tuple[int, ...], as_of: int, policy: IncidentPolicy, flipped: bool) -> tuple[int, ...]:
    start = as_of - int(policy.flap_window_seconds * NS)
    kept = tuple(t for t in previous if t >= start)
    return (*kept, as_of) if flipped else kept


def _open(
    c: Condition, old: IncidentView | None, silence: Silence | None, as_of: int, policy: IncidentPolicy
) -> Change:
    silenced = silence is not None
    if old is None:
        events = [Event(EventKind.OPENED, c.summary)]
    elif old.resolved_by != "auto":
        events = [
            Event(EventKind.REOPENED, f"still reported after {old.resolved_by} resolved it: {c.summary}")
        ]
    else:
        events = [Event(EventKind.REOPENED, c.summary)]
    if silence is not None:
        events.append(Event(EventKind.SILENCED, f"silence {silence.id}: {silence.reason}"))
    if old is None:
        return Change(
            Action.OPEN,
            c.key,
            None,
            c,
            silenced=silenced,
            events=tuple(events),
            notice=None if silenced else Notice.OPENED,
        )
    flips = _flips(old.flips, as_of, policy, flipped=True)
    flapping = old.flapping or len(flips) >= policy.flap_changes
    if flapping and not old.flapping:
        events.append(Event(EventKind.FLAPPING, f"{len(flips)} changes within the flap window"))
    quiet = silenced or (flapping and old.flapping)
    return Change(
        Action.REOPEN,
        c.key,
        old.id,
        c,
        flips=flips,
        flapping=flapping,
        silenced=silenced,
        events=tuple(events),
        notice=None if quiet else Notice.OPENED,
    )


def _refresh(
    i: IncidentView, c: Condition, silence: Silence | None, as_of: int, policy: IncidentPolicy
) -> Change | None:
    events: list[Event] = []
    flips = _flips(i.flips, as_of, policy, flipped=i.clear_cycles > 0)
    flapping = _flapping(i.flapping, flips, policy)
    silenced = silence is not None
    notice: Notice | None = None
    if c.severity != i.severity:
        events.append(Event(EventKind.SEVERITY, f"{i.severity} -> {c.severity}: {c.summary}"))
        notice = Notice.UPDATED
    if c.affected != i.affected:
        events.append(Event(EventKind.AFFECTED, f"{len(c.affected)} affected: {', '.join(c.affected[:20])}"))
        if len(c.affected) != len(i.affected):
            notice = Notice.UPDATED
    if c.suppressed_by != i.suppressed_by:
        events.append(
            Event(EventKind.SUPPRESSED, f"explained by {c.suppressed_by}")
            if c.suppressed_by
            else Event(EventKind.UNSUPPRESSED, f"no longer explained by {i.suppressed_by}")
        )
    if silenced != i.silenced:
        events.append(
            Event(EventKind.SILENCED, f"silence {silence.id}: {silence.reason}")
            if silence
            else Event(EventKind.UNSILENCED, "silence ended")
        )
    if flapping != i.flapping:
        events.append(
            Event(EventKind.FLAPPING, f"{len(flips)} changes within the flap window")
            if flapping
            else Event(EventKind.STABLE, "no longer flapping")
        )
        notice = Notice.UPDATED
    elif flapping:
        notice = None  # a flapping incident stays quiet until it resolves
    if not i.notified and not silenced and not c.suppressed_by:
        notice = Notice.OPENED  # it opened silenced or explained; now someone must hear of it
    elif silenced or c.suppressed_by:
        notice = None
    elif i.suppressed_by and not flapping:
        notice = Notice.UPDATED  # its cause is gone and it is still there: back in the queue
    if not events and notice is None and flips == i.flips and i.clear_cycles == 0:
        return None
    return Change(
        Action.REFRESH,
        i.key,
        i.id,
        c,
        clear_cycles=0,
        flips=flips,
        flapping=flapping,
        suppressed_by=c.suppressed_by,
        silenced=silenced,
        events=tuple(events),
        notice=notice,
    )


def _clear(i: IncidentView, as_of: int, policy: IncidentPolicy) -> Change | None:
    if i.clear_cycles and as_of - i.clear_tick_ns < policy.cycle_seconds * NS / 2:
        return None  # another worker counted this cycle already
    cycles = i.clear_cycles + 1
    flips = _flips(i.flips, as_of, policy, flipped=i.clear_cycles == 0)
    needed = policy.flapping_clear_cycles if i.flapping else policy.clear_cycles
    if cycles < needed:
        flapping = _flapping(i.flapping, flips, policy)
        events: tuple[Event, ...] = ()
        notice = None
        if flapping and not i.flapping:
            events = (Event(EventKind.FLAPPING, f"{len(flips)} changes within the flap window"),)
            notice = Notice.UPDATED if i.notified else None
        return Change(
            Action.CLEARING,
            i.key,
            i.id,
            None,
            clear_cycles=cycles,
            flips=flips,
            flapping=flapping,
            suppressed_by=i.suppressed_by,
            silenced=i.silenced,
            events=events,
            notice=notice,
        )
    # resolution is delivered whenever the opening was, silenced or suppressed or not
    return Change(
        Action.RESOLVE,
        i.key,
        i.id,
        None,
        clear_cycles=cycles,
        flips=flips,
        flapping=i.flapping,
        suppressed_by=i.suppressed_by,
        silenced=i.silenced,
        events=(Event(EventKind.RESOLVED, f"clear for {cycles} cycles"),),
        notice=Notice.RESOLVED if i.notified else None,
    )


def _flapping(was: bool, flips: tuple[int, ...], policy: IncidentPolicy) -> bool:
    if was:
        return len(flips) > 0  # calm for a whole window ends it
    return len(flips) >= policy.flap_changes
