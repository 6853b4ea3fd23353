"""The caller's picture: one query (user, PC name, IP, MAC, serial) -> one document for the helpdesk.

`lookup()` finds the PC in the inventory index (or the presence table), then gathers in
one place: open incidents and failing checks first (most urgent first), the PC, its
software and recent changes, network, printers and the devices it polls, past incidents
of this PC and of its users, and the matching knowledge-base articles.

It always leads to one answer. Several PCs match -> the candidates, each with what tells
them apart (user, address, MAC, last seen) and the selector that picks exactly it
(`agent:ID`); a selector `KEY:VALUE` (agent, host, user, ip, mac, serial, device) looks
in that key only. A printer's or modem's serial or address, when no PC has it, gives the
device with the PCs that see it. An agent that is away shows its checks as last seen,
not as current.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from agent.protocol import NS, Severity
from collector.incidents.engine import DeviceSummary
from collector.incidents.model import Incident, IncidentFilter
from collector.incidents.reconcile import IncidentStatus
from collector.incidents.store import IncidentStore
from collector.inventory.picture import (
    ArticleView,
    Candidate,
    ChangeView,
    DevicePicture,
    DeviceView,
    FailingCheck,
    IncidentView,
    Lookup,
    Picture,
    PrinterView,
    Software,
)
from collector.inventory.store import IndexKey, InventoryStore, Match
from collector.kb import KnowledgeBase
from collector.presence import agent
from collector.rules.condition import Condition

_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
_OPEN = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


# `KEY:VALUE` selectors; `agent:ID` always picks exactly one PC.
SELECTORS: dict[str, IndexKey | None] = {k.value: k for k in IndexKey} | {"device": None, "printer": None}


def _no_conditions() -> Sequence[Condition]:
    return ()


def _no_devices() -> Sequence[DeviceSummary]:
    return ()


@dataclass
class Sources:
    """Where the picture comes from; the live parts (checks, devices) from the incident engine if any."""

    inventories: InventoryStore
    incidents: IncidentStore
    kb: KnowledgeBase = field(default_factory=KnowledgeBase.load)
    conditions: Callable[[], Sequence[Condition]] = _no_conditions  # engine.last_conditions
    devices: Callable[[], Sequence[DeviceSummary]] = _no_devices  # engine.devices
    clock: Callable[[], int] = time.time_ns
    software_shown: int = 5_000


def lookup(query: str, src: Sources) -> Lookup:
    """The caller's picture for `query` (a `KEY:VALUE` selector looks in that key only)."""
    query = query.strip()
    key, sep, value = query.partition(":")
    selector = key.lower() if sep and key.lower() in SELECTORS else ""
    if selector:
        index = SELECTORS[selector]
        matches = src.inventories.find_by(index, value) if index is not None else []
        if index is None:
            return _device(query, value.strip(), src) or Lookup(
                query, "unknown", f"no device {value.strip()!r}"
            )
    else:
        matches = src.inventories.find(query)
    if not matches:
        found = _device(query, query, src) if not selector else None
        return found or Lookup(query, "unknown", f"no PC, user, address or serial matches {query!r}")
    if len(matches) > 1:
        return Lookup(
            query,
            "ambiguous",
            f"{len(matches)} PCs match {query!r}; pick one with its selector (agent:ID)",
            candidates=[_candidate(m, src) for m in matches],
        )
    return Lookup(query, "found", "", pc=picture(matches[0], src))


def _device(query: str, value: str, src: Sources) -> Lookup | None:
    """The printer or modem whose serial (device key) or address is `value`, if one is known."""
    wanted = value.lower()
    for d in src.devices():
        if wanted in (d.device.lower(), d.address.lower()):
            matched = f"serial {d.device}" if wanted == d.device.lower() else f"address {d.address}"
            seen_by = [_candidate(Match(a, IndexKey.AGENT, a), src) for a in d.agents]
            store = src.incidents
            open_here = store.list_incidents(IncidentFilter(status=_OPEN, device=d.device, limit=50))[0]
            picture = DevicePicture(
                d.device,
                matched,
                d.site,
                d.address,
                d.monitoring,
                list(d.problems),
                d.last_seen_ns,
                seen_by,
                _urgent(open_here),
            )
            return Lookup(query, "device", "", device=picture)
    return None


def _presence(src: Sources, agent_id: str) -> sa.Row[tuple[object, ...]] | None:
    with src.inventories.engine.connect() as conn:
        return conn.execute(sa.select(agent).where(agent.c.agent_id == agent_id)).one_or_none()


def _candidate(m: Match, src: Sources) -> Candidate:
    row, stored = _presence(src, m.agent_id), src.inventories.latest(m.agent_id)
    interfaces = stored.inventory.network.interfaces if stored else []
    return Candidate(
        agent_id=m.agent_id,
        matched_by=f"{m.key.value} {m.value}",
        host=stored.host if stored else (str(row.host) if row else ""),
        site=str(row.site) if row else "",
        status=str(row.status) if row else "unknown",
        users=list(stored.inventory.users) if stored else [],
        addresses=[a for i in interfaces if i.kind != "virtual" for a in i.addresses],
        macs=[i.mac for i in interfaces if i.mac and i.kind != "virtual"],
        last_seen_ns=int(row.last_seen_ns) if row else 0,
        selector=f"agent:{m.agent_id}",
    )


def _view(i: Incident) -> IncidentView:
    return IncidentView(
        i.id,
        i.status.value,
        i.severity.value,
        i.agent_id,
        i.device,
        i.condition,
        i.summary,
        i.opened_ns,
        i.resolved_ns,
    )


def _urgent(incidents: Sequence[Incident]) -> list[IncidentView]:
    ordered = sorted(incidents, key=lambda i: (_RANK.get(i.severity, 3), -i.opened_ns))
    return [_view(i) for i in ordered]


def picture(match: Match, src: Sources) -> Picture:
    """Everything about the matched PC."""
    agent_id, now = match.agent_id, src.clock()
    row, stored = _presence(src, agent_id), src.inventories.latest(agent_id)
    inv = stored.inventory if stored else None
    devices = [d for d in src.devices() if agent_id in d.agents]
    store = src.incidents
    open_here = store.list_incidents(IncidentFilter(status=_OPEN, agent_id=agent_id, limit=100))[0]
    for d in devices:  # a jammed printer this PC prints to is the caller's problem too
        open_here += store.list_incidents(IncidentFilter(status=_OPEN, device=d.device, limit=20))[0]
    open_here = list({i.id: i for i in open_here}.values())
    past = store.list_incidents(
        IncidentFilter(status=(IncidentStatus.RESOLVED,), agent_id=agent_id, limit=20)
    )[0]
    user_incidents: list[Incident] = []
    for user in inv.users if inv else []:
        for other in src.inventories.agents_of_user(user):
            if other != agent_id:
                user_incidents += store.list_incidents(IncidentFilter(agent_id=other, limit=10))[0]
    checks = sorted(
        (c for c in src.conditions() if agent_id in (c.agent_id, c.subject)),
        key=lambda c: (_RANK.get(c.severity, 3), c.since_ns),
    )
    names = [i.condition for i in open_here] + [c.condition for c in checks]
    articles = src.kb.for_condition(*dict.fromkeys(names)) if names else []
    history = src.inventories.history(agent_id, limit=20)
    return Picture(
        agent_id=agent_id,
        matched_by=f"{match.key.value} {match.value}",
        site=str(row.site) if row else "",
        status=str(row.status) if row else "unknown",
        last_seen_ns=int(row.last_seen_ns) if row else 0,
        open_incidents=_urgent(open_here),
        failing_checks=[
            FailingCheck(
                c.condition,
                c.severity.value,
                c.subject,
                c.summary,
                c.since_ns,
                c.observed_ns,
                current=not (row is not None and str(row.status) != "online"),
            )
            for c in checks
        ],
        host=stored.host if stored else (str(row.host) if row else ""),
        users=list(inv.users) if inv else [],
        hardware=inv.hardware if inv else None,
        os=inv.os if inv else None,
        boot_ns=inv.boot_ns if inv else 0,
        uptime_seconds=max(0, (now - inv.boot_ns) // NS) if inv and inv.boot_ns else 0,
        network=inv.network if inv else None,
        printers=[PrinterView(p.name, p.driver, p.uri, p.host, p.default, p.state) for p in inv.printers]
        if inv
        else [],
        devices=[
            DeviceView(d.device, list(d.problems), d.last_seen_ns, d.monitoring, d.address) for d in devices
        ],
        software=Software(
            inv.software_source,
            inv.software_total or len(inv.software),
            [ChangeView(h.time_ns, h.kind.value, h.subject, h.before, h.after) for h in history],
            [(p.name, p.version) for p in inv.software[: src.software_shown]],
        )
        if inv
        else None,
        incident_history=[_view(i) for i in past],
        user_incidents=[_view(i) for i in sorted(user_incidents, key=lambda i: -i.opened_ns)[:20]],
        articles=[ArticleView(a.slug, a.title, list(a.steps)) for a in articles],
        inventory_ns=inv.collected_ns if inv else 0,
    )
