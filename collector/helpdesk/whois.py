"""`deskwatch whois`: the lookup answer as one readable screen, most urgent first (pure)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from collector.helpdesk.screens import table
from collector.helpdesk.screens import when as _when
from collector.inventory.picture import Candidate, DevicePicture, IncidentView, Lookup, Picture

GB = 10**9


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def _incident(i: IncidentView) -> str:
    where = i.device or i.agent_id
    return (
        f"  #{i.id} {i.severity.upper():<8} {i.status:<12} {where}: {i.summary}  (since {_when(i.opened_ns)})"
    )


def render(answer: Lookup | Mapping[str, object]) -> str:
    """The lookup's answer (typed, or as its decoded JSON) as text."""
    found = answer if isinstance(answer, Lookup) else msgspec.convert(answer, Lookup)
    if found.result == "device" and found.device is not None:
        return _device(found.device)
    if found.result == "ambiguous":
        return f"{found.message}:\n" + _candidates(found.candidates)
    if found.pc is None:
        return found.message
    return _picture(found.pc)


def _candidates(candidates: list[Candidate]) -> str:
    """PCs side by side with what tells them apart, and the selector that picks each one."""
    rows = [
        (
            c.selector or f"agent:{c.agent_id}",
            c.status,
            c.site or "-",
            c.host or "-",
            ",".join(c.users) or "-",
            " ".join(c.addresses[:2]) or "-",
            ",".join(c.macs[:2]) or "-",
            _when(c.last_seen_ns),
            c.matched_by,
        )
        for c in candidates
    ]
    header = ("SELECTOR", "STATUS", "SITE", "HOST", "USERS", "ADDRESSES", "MAC", "LAST SEEN", "MATCHED BY")
    return "\n".join("  " + line for line in table(rows, header).splitlines())


def _device(d: DevicePicture) -> str:
    out = [f"device {d.device}  site {d.site or '-'}  address {d.address or '-'}  matched by {d.matched_by}"]
    out.append(
        f"  {d.monitoring}; problems: {', '.join(d.problems) or 'none'}; last report {_when(d.last_seen_ns)}"
    )
    if d.open_incidents:
        out.append(f"OPEN INCIDENTS ({len(d.open_incidents)})")
        out += [_incident(i) for i in d.open_incidents]
    out.append(f"SEEN BY ({len(d.seen_by)} PCs)")
    out.append(_candidates(d.seen_by))
    return "\n".join(out)


def _picture(pc: Picture) -> str:
    head = f"{pc.agent_id} ({pc.host or '?'})  site {pc.site or '-'}  {pc.status.upper()}"
    if pc.status != "online":
        head += f" (last seen {_when(pc.last_seen_ns)})"
    out = [f"{head}  matched by {pc.matched_by}"]
    if pc.open_incidents:
        out.append(f"OPEN INCIDENTS ({len(pc.open_incidents)})")
        out += [_incident(i) for i in pc.open_incidents]
    current = [c for c in pc.failing_checks if c.current]
    if current:
        out.append(f"FAILING CHECKS ({len(current)})")
        out += [f"  {c.severity.upper():<8} {c.condition}: {c.summary}" for c in current]
    stale = [c for c in pc.failing_checks if not c.current]
    if stale:
        out.append(f"LAST REPORTED BEFORE IT WENT {pc.status.upper()} (not current)")
        out += [
            f"  {c.severity.upper():<8} {c.condition}: {c.summary}  (last seen {_when(c.observed_ns)})"
            for c in stale
        ]
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
        state = ", ".join(d.problems) or ("ok" if d.monitoring == "answers" else d.monitoring)
        out.append(f"device:  {d.device}  {d.address}  {state}".replace("  " * 2, "  "))
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
