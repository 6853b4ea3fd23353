"""Request bodies of the REST API (pydantic: FastAPI validates them -> 422).

The answers are collector.answers' dataclasses and the models themselves (an incident is
collector.incidents.model.Incident), which the helpdesk CLI decodes into as well.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
