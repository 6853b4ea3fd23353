"""The incident as every part of the collector knows it: one type, one place.

The store maps its rows onto these dataclasses (collector.rows reads the columns by the
fields' names and types), the REST API answers with them (FastAPI serialises a dataclass
as it is), the webhook's JSON is `incident_document`, and the helpdesk CLI decodes the
API's answers into the same `Incident`. Adding a field to the incident is a change here
plus a migration of the `incidents` table.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.protocol import Severity
from collector.errors import CollectorError
from collector.incidents.reconcile import EventKind, IncidentStatus, Notice
from collector.rules.condition import Category
from collector.state import Scope


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident as the API, the console, the notifiers and the reports show it."""

    id: int
    key: str
    rule: str
    condition: str
    category: Category
    severity: Severity
    scope: Scope
    subject: str
    site: str
    agent_id: str
    device: str
    summary: str
    status: IncidentStatus
    opened_ns: int
    since_ns: int
    updated_ns: int
    acknowledged_ns: int | None
    acknowledged_by: str
    assignee: str
    resolved_ns: int | None
    resolved_by: str
    flapping: bool
    suppressed_by: str
    silenced: bool
    affected: tuple[str, ...]
    reopen_count: int
    version: int


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One line of an incident's timeline: what happened, when, and who did it ("" for the engine)."""

    id: int
    incident_id: int
    time_ns: int
    kind: EventKind
    actor: str
    text: str


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: Sequence[IncidentStatus] = ()
    site: str = ""
    device: str = ""
    agent_id: str = ""
    category: str = ""
    condition: str = ""
    severity: str = ""
    since_ns: int = 0
    limit: int = 50
    offset: int = 0
    # None: all; False: the queue (neither silenced nor explained by another); True: only those
    quiet: bool | None = None


class IncidentNotFound(CollectorError, LookupError):
    """No incident has the requested id."""


class Conflict(CollectorError, RuntimeError):
    """The incident changed state in a way that makes the request impossible (e.g. already resolved)."""


# Which connectors (webhooks, e-mail) hear about an incident: collector.notify.routing builds one.
Router = Callable[[Incident], Sequence[str]]


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def incident_document(incident: Incident, notice: Notice | None = None) -> dict[str, Any]:
    """The JSON shape of an incident (its fields, in order), shared by the API and the webhook."""
    doc: dict[str, Any] = {f.name: _plain(getattr(incident, f.name)) for f in dataclasses.fields(incident)}
    if notice is not None:
        doc = {"event": str(notice), "incident": doc}
    return doc
