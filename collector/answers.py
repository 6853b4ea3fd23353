"""The REST API's answers: one type per response body, shared by both ends.

The API answers with these (FastAPI serialises a dataclass as it is) and the helpdesk CLI
decodes the JSON back into the same types (msgspec), so a field added or renamed here is
one change for both. Incidents and silences are their models themselves
(collector.incidents.model.Incident, collector.incidents.silences.Silence). Pure: no
server module behind it, so the CLI can import it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from collector.incidents.model import Incident


@dataclass(frozen=True, slots=True)
class ArticleRef:
    """A knowledge-base article named in an incident, with its steps."""

    slug: str
    title: str
    steps: list[str]
    stale: bool


@dataclass(frozen=True, slots=True)
class IncidentDetail(Incident):
    """One incident with the knowledge-base articles for its condition."""

    articles: list[ArticleRef] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IncidentPage:
    """A page of incidents, newest first, and how many match in all."""

    total: int
    limit: int
    offset: int
    items: list[Incident]


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an incident's timeline."""

    id: int
    time_ns: int
    kind: str
    actor: str
    text: str


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent and its presence; `open_incidents` only when one agent is asked for."""

    agent_id: str
    site: str
    status: str
    since_ns: int
    last_seen_ns: int
    host: str
    version: str
    away: str = ""  # why its absence is no problem: "laptop away", "asleep", "away outside working hours"
    open_incidents: list[Incident] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Device:
    """A printer or network device the agents see; `open_incidents` only when one is asked for."""

    device: str
    site: str
    agents: list[str]
    problems: list[str]
    last_seen_ns: int
    monitoring: str = "answers"  # answers, unreachable, or "not monitored by SNMP" (never answered)
    address: str = ""
    open_incidents: list[Incident] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Article:
    """A knowledge-base article."""

    slug: str
    title: str
    conditions: list[str]
    last_reviewed: dt.date
    stale: bool
    steps: list[str]
    body: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """An agent's answer to a check: `status` ok, error (the check failed), rejected or timeout."""

    audit_id: int
    command_id: str
    agent_id: str
    check: str
    status: Literal["ok", "error", "rejected", "timeout"]
    error: str
    duration_seconds: float
    incident_id: int | None
    result: dict[str, Any]
