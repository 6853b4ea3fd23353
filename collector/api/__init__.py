# No `from __future__ import annotations` here: FastAPI reads the route annotations at runtime.
"""The helpdesk REST API under /api/v1: `router`, with an `ApiContext` provided to the app.

Incidents (list, get, ack, assign, comment, resolve, timeline), agents and devices
with their open incidents, silences and maintenance windows, the knowledge base and
reports. Every route needs a bearer token; reading needs `viewer`, acting `helpdesk`.
"""

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from agent.protocol import NS
from collector import answers, reports
from collector.api.auth import Helpdesk, Viewer
from collector.api.schemas import (
    AssignIn,
    CommentIn,
    ResolveIn,
    SilenceIn,
)
from collector.http import part
from collector.incidents.engine import AgentSummary, DeviceSummary, SupplyForecast
from collector.incidents.model import Conflict, Incident, IncidentFilter, IncidentNotFound
from collector.incidents.reconcile import IncidentStatus
from collector.incidents.silence_store import SilenceStore
from collector.incidents.silences import Silence, SilenceKind
from collector.incidents.store import IncidentStore
from collector.inventory import report as inventory_report
from collector.inventory.store import InventoryStore
from collector.kb import Article, KnowledgeBase

OPEN = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)
# ids stay within a signed 64-bit column; anything larger is a 422, not a database overflow
RowId = Annotated[int, Path(ge=1, le=2**62)]
Key = Annotated[str, Path(min_length=1, max_length=256)]


class Directory(Protocol):
    """Where agents, devices and supply forecasts come from: the IncidentEngine, or anything alike."""

    def agents(self) -> list[AgentSummary]: ...

    def devices(self) -> list[DeviceSummary]: ...

    def supplies(self, now_ns: int) -> list[SupplyForecast]: ...


class _NoDirectory:
    def agents(self) -> list[AgentSummary]:
        return []

    def devices(self) -> list[DeviceSummary]:
        return []

    def supplies(self, now_ns: int) -> list[SupplyForecast]:
        return []


@dataclass
class ApiContext:
    """What the routes use: the stores, the knowledge base, the fleet directory and a clock."""

    store: IncidentStore
    kb: KnowledgeBase = field(default_factory=KnowledgeBase.load)
    directory: Directory = field(default_factory=_NoDirectory)
    clock: Callable[[], int] = time.time_ns
    # the silences and inventories kept in the same database as the incidents
    silences: SilenceStore = field(init=False)
    inventory: InventoryStore = field(init=False)

    def __post_init__(self) -> None:
        self.silences = SilenceStore(self.store.engine)
        self.inventory = InventoryStore(self.store.engine)

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock() / NS, dt.UTC).date()

    def articles_for(self, i: Incident) -> list[answers.ArticleRef]:
        return [
            answers.ArticleRef(slug=a.slug, title=a.title, steps=list(a.steps), stale=a.stale(self.today()))
            for a in self.kb.for_condition(i.condition, i.rule)
        ]

    def open_for(self, agent_id: str = "", device: str = "") -> list[Incident]:
        found, _ = self.store.list_incidents(
            IncidentFilter(status=OPEN, limit=500, agent_id=agent_id, device=device)
        )
        return found


Context = Annotated[ApiContext, Depends(part(ApiContext))]
router = APIRouter(prefix="/api/v1")


def _act(fn: Callable[[], Incident]) -> Incident:
    try:
        return fn()
    except IncidentNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    except Conflict as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err


@router.get("/incidents", response_model=answers.IncidentPage, tags=["incidents"])
def list_incidents(
    _: Viewer,
    ctx: Context,
    status_: Annotated[list[IncidentStatus] | None, Query(alias="status")] = None,
    site: Annotated[str, Query(max_length=64)] = "",
    device: Annotated[str, Query(max_length=256)] = "",
    agent_id: Annotated[str, Query(max_length=64)] = "",
    category: Annotated[str, Query(max_length=16)] = "",
    condition: Annotated[str, Query(max_length=64)] = "",
    severity: Annotated[Literal["", "info", "warning", "critical"], Query()] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    quiet: Annotated[
        bool | None,
        Query(description="false: the queue (not silenced, not explained by another); true: only those"),
    ] = None,
) -> answers.IncidentPage:
    found, total = ctx.store.list_incidents(
        IncidentFilter(
            status=tuple(status_ or ()),
            site=site,
            device=device,
            agent_id=agent_id,
            category=category,
            condition=condition,
            severity=severity,
            limit=limit,
            offset=offset,
            quiet=quiet,
        )
    )
    return answers.IncidentPage(total=total, limit=limit, offset=offset, items=found)


@router.get("/incidents/{incident_id}", response_model=answers.IncidentDetail, tags=["incidents"])
def get_incident(incident_id: RowId, _: Viewer, ctx: Context) -> answers.IncidentDetail:
    i = _act(lambda: ctx.store.get(incident_id))
    fields = {f.name: getattr(i, f.name) for f in dataclasses.fields(i)}
    return answers.IncidentDetail(**fields, articles=ctx.articles_for(i))


@router.get("/incidents/{incident_id}/timeline", response_model=list[answers.Event], tags=["incidents"])
def timeline(incident_id: RowId, _: Viewer, ctx: Context) -> list[answers.Event]:
    try:
        events = ctx.store.timeline(incident_id)
    except IncidentNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    return [
        answers.Event(id=e.id, time_ns=e.time_ns, kind=e.kind, actor=e.actor, text=e.text) for e in events
    ]


@router.post("/incidents/{incident_id}/ack", response_model=Incident, tags=["incidents"])
def acknowledge(incident_id: RowId, who: Helpdesk, ctx: Context) -> Incident:
    return _act(lambda: ctx.store.acknowledge(incident_id, who.name, ctx.clock()))


@router.post("/incidents/{incident_id}/assign", response_model=Incident, tags=["incidents"])
def assign(incident_id: RowId, body: AssignIn, who: Helpdesk, ctx: Context) -> Incident:
    return _act(lambda: ctx.store.assign(incident_id, body.assignee, who.name, ctx.clock()))


@router.post("/incidents/{incident_id}/comments", response_model=Incident, tags=["incidents"])
def comment(incident_id: RowId, body: CommentIn, who: Helpdesk, ctx: Context) -> Incident:
    return _act(lambda: ctx.store.comment(incident_id, who.name, body.text, ctx.clock()))


@router.post("/incidents/{incident_id}/resolve", response_model=Incident, tags=["incidents"])
def resolve(incident_id: RowId, body: ResolveIn, who: Helpdesk, ctx: Context) -> Incident:
    return _act(lambda: ctx.store.resolve(incident_id, who.name, body.text, ctx.clock()))


def _agent_out(ctx: ApiContext, a: AgentSummary, with_incidents: bool) -> answers.Agent:
    return answers.Agent(
        agent_id=a.agent_id,
        site=a.site,
        status=a.status,
        since_ns=a.since_ns,
        last_seen_ns=a.last_seen_ns,
        host=a.host,
        version=a.version,
        away=a.away,
        open_incidents=ctx.open_for(agent_id=a.agent_id) if with_incidents else [],
    )


def _device_out(ctx: ApiContext, d: DeviceSummary, with_incidents: bool) -> answers.Device:
    return answers.Device(
        device=d.device,
        site=d.site,
        agents=list(d.agents),
        problems=list(d.problems),
        last_seen_ns=d.last_seen_ns,
        monitoring=d.monitoring,
        address=d.address,
        open_incidents=ctx.open_for(device=d.device) if with_incidents else [],
    )


@router.get("/agents", response_model=list[answers.Agent], tags=["fleet"])
def list_agents(
    _: Viewer, ctx: Context, site: Annotated[str, Query(max_length=64)] = ""
) -> list[answers.Agent]:
    return [_agent_out(ctx, a, False) for a in ctx.directory.agents() if not site or a.site == site]


@router.get("/agents/{agent_id}", response_model=answers.Agent, tags=["fleet"])
def get_agent(agent_id: Key, _: Viewer, ctx: Context) -> answers.Agent:
    for a in ctx.directory.agents():
        if a.agent_id == agent_id:
            return _agent_out(ctx, a, True)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent {agent_id}")


@router.get("/devices", response_model=list[answers.Device], tags=["fleet"])
def list_devices(_: Viewer, ctx: Context) -> list[answers.Device]:
    return [_device_out(ctx, d, False) for d in ctx.directory.devices()]


@router.get("/devices/{device}", response_model=answers.Device, tags=["fleet"])
def get_device(device: Key, _: Viewer, ctx: Context) -> answers.Device:
    for d in ctx.directory.devices():
        if d.device == device:
            return _device_out(ctx, d, True)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device}")


@router.get("/silences", response_model=list[Silence], tags=["silences"])
def list_silences(_: Viewer, ctx: Context) -> list[Silence]:
    return ctx.silences.current(ctx.clock())


@router.post("/silences", response_model=Silence, status_code=201, tags=["silences"])
def add_silence(body: SilenceIn, who: Helpdesk, ctx: Context) -> Silence:
    now = ctx.clock()
    starts = int(body.starts.timestamp() * NS) if body.starts else now
    if body.ends is not None:
        ends = int(body.ends.timestamp() * NS)
    else:
        ends = starts + (body.duration_minutes or 0) * 60 * NS
    if ends <= starts:
        raise HTTPException(422, "ends must be after starts")
    return ctx.silences.add(
        SilenceKind(body.kind),
        starts,
        ends,
        site=body.site,
        device=body.device,
        agent_id=body.agent_id,
        condition=body.condition,
        reason=body.reason,
        created_by=who.name,
        now_ns=now,
    )


@router.get("/silences/{silence_id}", response_model=Silence, tags=["silences"])
def get_silence(silence_id: RowId, _: Viewer, ctx: Context) -> Silence:
    """One silence, also one that ended or was removed (then `removed_by` says who removed it)."""
    found = ctx.silences.get(silence_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no silence {silence_id}")
    return found


@router.delete("/silences/{silence_id}", status_code=204, tags=["silences"])
def remove_silence(silence_id: RowId, who: Helpdesk, ctx: Context) -> Response:
    if not ctx.silences.remove(silence_id, removed_by=who.name, now_ns=ctx.clock()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no silence {silence_id}")
    return Response(status_code=204)


def _article_out(a: Article, today: dt.date) -> answers.Article:
    return answers.Article(
        slug=a.slug,
        title=a.title,
        conditions=list(a.conditions),
        last_reviewed=a.last_reviewed,
        stale=a.stale(today),
        steps=list(a.steps),
        body=a.body,
    )


@router.get("/kb", response_model=list[answers.Article], tags=["knowledge base"])
def list_articles(
    _: Viewer, ctx: Context, condition: Annotated[str, Query(max_length=64)] = ""
) -> list[answers.Article]:
    found: Sequence[Article] = (
        ctx.kb.for_condition(condition) if condition else list(ctx.kb.articles.values())
    )
    return [_article_out(a, ctx.today()) for a in found]


@router.get("/kb/{slug}", response_model=answers.Article, tags=["knowledge base"])
def get_article(slug: Key, _: Viewer, ctx: Context) -> answers.Article:
    article = ctx.kb.articles.get(slug)
    if article is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no article {slug}")
    return _article_out(article, ctx.today())


@router.get(
    "/reports",
    tags=["reports"],
    responses={200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}},
)
def report(
    _: Viewer,
    ctx: Context,
    since: Annotated[str, Query(pattern=r"^[0-9]{1,5}[dhms]$", description="period, e.g. 30d")] = "30d",
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
) -> Response:
    now = ctx.clock()
    since_ns = now - reports.parse_since(since) * NS
    forecasts = [
        reports.Forecast(f.device, f.site, f.supply, f.level_percent, f.percent_per_day, f.days_left)
        for f in ctx.directory.supplies(now)
    ]
    fleet = inventory_report.build(ctx.inventory.all_latest(), now)
    built = reports.build_report(
        ctx.store.all_since(since_ns), since_ns, now, ctx.kb, forecasts=forecasts, fleet=fleet
    )
    if format == "csv":
        return Response(reports.render_csv(built), media_type="text/csv")
    if format == "html":
        return Response(reports.render_html(built), media_type="text/html")
    return Response(reports.render_json(built), media_type="application/json")
