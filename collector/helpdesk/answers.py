"""The API's answers as the helpdesk CLI reads them: one Struct per response body.

Each mirrors a response model of collector/api (field for field, in the same order), so a
field the server renames or drops fails the decode with a clear message instead of a
KeyError in the middle of a table. Unknown fields are ignored: a newer server may add some.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec


class _Answer(msgspec.Struct, frozen=True):
    pass


class Incident(_Answer, frozen=True):
    """An incident: `IncidentOut` in collector/api/schemas.py."""

    id: int
    key: str
    rule: str
    condition: str
    category: str
    severity: str
    scope: str
    subject: str
    site: str
    agent_id: str
    device: str
    summary: str
    status: str
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
    affected: list[str]
    reopen_count: int
    version: int


class ArticleRef(_Answer, frozen=True):
    """A knowledge-base article named in an incident, with its steps."""

    slug: str
    title: str
    steps: list[str]
    stale: bool


class IncidentDetail(Incident, frozen=True):
    """One incident with the articles that may fix it."""

    articles: list[ArticleRef] = []


class IncidentPage(_Answer, frozen=True):
    """A page of the incident queue."""

    total: int
    limit: int
    offset: int
    items: list[Incident]


class Event(_Answer, frozen=True):
    """One entry of an incident's timeline."""

    id: int
    time_ns: int
    kind: str
    actor: str
    text: str


class Silence(_Answer, frozen=True):
    """A silence or maintenance window."""

    id: int
    kind: str
    site: str
    device: str
    agent_id: str
    condition: str
    starts_ns: int
    ends_ns: int
    reason: str
    created_by: str


class Agent(_Answer, frozen=True):
    """An agent and its presence; `open_incidents` only when asked for one agent."""

    agent_id: str
    site: str
    status: str
    since_ns: int
    last_seen_ns: int
    host: str
    version: str
    away: str = ""
    open_incidents: list[Incident] = []


class Article(_Answer, frozen=True):
    """A knowledge-base article."""

    slug: str
    title: str
    conditions: list[str]
    last_reviewed: dt.date
    stale: bool
    steps: list[str]
    body: str


class Diagnostic(_Answer, frozen=True):
    """An agent's answer to a diagnostic check; `result` is the check's own document."""

    audit_id: int
    command_id: str
    agent_id: str
    check: str
    status: Literal["ok", "error", "rejected", "timeout"]
    error: str
    duration_seconds: float
    incident_id: int | None
    result: dict[str, object]
