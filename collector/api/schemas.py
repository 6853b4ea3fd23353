"""Request and response bodies of the REST API (pydantic: FastAPI validates with them -> 422).

An incident is answered as the model itself (collector.incidents.model.Incident): FastAPI
serialises the dataclass, so a field added there is in the API without an edit here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collector.incidents.model import Incident

Text = Annotated[str, Field(max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
Matcher = Annotated[str, Field(max_length=256, pattern=r"^[^\x00-\x1f]*$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignIn(_In):
    assignee: Name


class CommentIn(_In):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class ResolveIn(_In):
    text: Text = ""


class SilenceIn(_In):
    """A silence (incidents open but notify nobody) or maintenance window (no incidents at all)."""

    kind: Literal["silence", "maintenance"] = "silence"
    site: Matcher = ""
    device: Matcher = ""
    agent_id: Matcher = ""
    condition: Matcher = ""
    starts: dt.datetime | None = None  # default: now
    ends: dt.datetime | None = None
    duration_minutes: Annotated[int, Field(gt=0, le=60 * 24 * 366)] | None = None
    reason: Text = ""

    @model_validator(mode="after")
    def _check(self) -> SilenceIn:
        if not (self.site or self.device or self.agent_id or self.condition):
            raise ValueError(
                "name at least one of site, device, agent_id, condition: a silence of everything is refused"
            )
        if (self.ends is None) == (self.duration_minutes is None):
            raise ValueError("give exactly one of ends or duration_minutes")
        for moment in (self.starts, self.ends):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("times need a time zone, e.g. 2026-05-01T08:00:00Z")
            if moment is not None and not 2000 <= moment.astimezone(dt.UTC).year < 2200:
                raise ValueError("times must lie between the years 2000 and 2200")
        if self.starts and self.ends and self.ends <= self.starts:
            raise ValueError("ends must be after starts")
        return self


class ArticleRef(BaseModel):
    slug: str
    title: str
    steps: list[str]
    stale: bool


@dataclass(frozen=True, slots=True)
class IncidentDetail(Incident):
    """An incident with the knowledge-base articles for its condition."""

    articles: list[ArticleRef]


class IncidentPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Incident]


class EventOut(BaseModel):
    id: int
    time_ns: int
    kind: str
    actor: str
    text: str


class AgentOut(BaseModel):
    agent_id: str
    site: str
    status: str
    since_ns: int
    last_seen_ns: int
    host: str
    version: str
    away: str = ""  # why its absence is no problem: "laptop away", "asleep", "away outside working hours"
    open_incidents: list[Incident] = []


class DeviceOut(BaseModel):
    device: str
    site: str
    agents: list[str]
    problems: list[str]
    last_seen_ns: int
    monitoring: str = "answers"  # answers, unreachable, or "not monitored by SNMP" (never answered)
    address: str = ""
    open_incidents: list[Incident] = []


class ArticleOut(BaseModel):
    slug: str
    title: str
    conditions: list[str]
    last_reviewed: dt.date
    stale: bool
    steps: list[str]
    body: str
