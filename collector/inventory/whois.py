"""`deskwatch whois`: the lookup answer as one readable screen, most urgent first (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from collector.inventory.lookup import IncidentView, Lookup, Picture

NS = 1_000_000_000
GB = 10**9


def _when(ns: int | None) -> str:
    if not ns:
        return "-"
    return dt.datetime.fromtimestamp(ns / NS, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def _incident(i: IncidentView) -> str:
    where = i.device or i.agent_id
    return (
        f"  #{i.id} {i.severity.upper():<8} {i.status:<12} {where}: {i.summary}  (since {_when(i.opened_ns)})"
    )


def render(answer: Any) -> str:
    """The API's lookup JSON (decoded) as text."""
    found = msgspec.convert(answer, Lookup)
    if found.result == "unknown":
        return found.message
    if found.result == "ambiguous" or found.pc is None:
        rows = [f"{found.message}:"]
        rows += [
            f"  {c.agent_id:<24} {c.status:<8} {c.site or '-':<10} {c.host:<28} {','.join(c.users) or '-'}"
            f"  ({c.matched_by})"
            for c in found.candidates
        ]
        return "\n".join(rows)
    return _picture(found.pc)


def _picture(pc: Picture) -> str:
    head = f"{pc.agent_id} ({pc.host or '?'})  site {pc.site or '-'}  {pc.status.upper()}"
    out = [f"{head}  matched by {pc.matched_by}"]
    if pc.open_incidents:
        out.append(f"OPEN INCIDENTS ({len(pc.open_incidents)})")
        out += [_incident(i) for i in pc.open_incidents]
    if pc.failing_checks:
        out.append(f"FAILING CHECKS ({len(pc.failing_checks)})")
        out += [f"  {c.severity.upper():<8} {c.condition}: {c.summary}" for c in pc.failing_checks]
    if not pc.open_incidents and not pc.failing_checks:
        out.append("no open incidents, no failing checks")
    if pc.users:
        out.append(f"logged in: {', '.join(pc.users)}")
    hw, os_ = pc.hardware, pc.os
    if hw is not None:
        disks = ", ".join(f"{d.name} {d.model} {d.size_bytes // GB} GB".replace("  ", " ") for d in hw.disks)
        out.append(f"PC:      {hw.vendor} {hw.model}  serial {hw.serial or '-'}".rstrip())
        out.append(
            f"         {hw.cpu_model or '?'} ({hw.cpu_cores} cores), {hw.memory_bytes / 2**30:.1f} GiB RAM"
            + (f", disks {disks}" if disks else "")
        )
    if os_ is not None:
        out.append(
            f"OS:      {os_.name} {os_.version} {os_.build}  kernel {os_.kernel or '-'}"
            f"  last update {_when(os_.last_update_ns)}"
        )
    if pc.boot_ns:
        out.append(f"up:      {_duration(pc.uptime_seconds)} (booted {_when(pc.boot_ns)})")
    if pc.network is not None:
        for i in pc.network.interfaces:
            state = "up" if i.up else "down"
            out.append(f"net:     {i.name} {i.kind} {state} {i.mac}  {' '.join(i.addresses) or '-'}")
        out.append(
            f"         gateway {pc.network.gateway or '-'}  dns {' '.join(pc.network.dns_servers) or '-'}"
        )
    for p in pc.printers:
        default = " (default)" if p.default else ""
        out.append(f"printer: {p.name}{default} {p.state or '-'}  {p.host or p.uri}  {p.driver}".rstrip())
    for d in pc.devices:
        out.append(f"device:  {d.device}  {', '.join(d.problems) or 'ok'}")
    if pc.software is not None:
        out.append(f"software: {pc.software.total} packages ({pc.software.source})")
        for c in pc.software.recent_changes[:8]:
            change = f"{c.before} -> {c.after}" if c.before and c.after else (c.after or c.before)
            out.append(f"  {_when(c.time_ns)}  {c.kind:<10} {c.subject} {change}")
    if pc.incident_history:
        out.append(f"PAST INCIDENTS ({len(pc.incident_history)})")
        out += [_incident(i) for i in pc.incident_history[:5]]
    if pc.user_incidents:
        out.append("INCIDENTS ON THIS USER'S OTHER PCS")
        out += [_incident(i) for i in pc.user_incidents[:5]]
    for a in pc.articles:
        out.append(f"kb {a.slug}: {a.title}")
        out += [f"  {n}. {step}" for n, step in enumerate(a.steps, 1)]
    return "\n".join(out)
