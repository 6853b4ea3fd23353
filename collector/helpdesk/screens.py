"""The API's typed answers as the text a person at the helpdesk reads (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from agent.protocol import NS
from collector.helpdesk.answers import Agent, Article, Event, Incident, IncidentDetail, Silence


def when(ns: int | None) -> str:
    """A time in ns since the epoch as UTC minutes; "-" for none."""
    if not ns:
        return "-"
    return dt.datetime.fromtimestamp(ns / NS, dt.UTC).strftime("%Y-%m-%d %H:%M")


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """Rows under a header, each column as wide as its widest cell."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def incident_rows(items: Sequence[Incident]) -> str:
    """The incident queue, one incident a line."""
    return table(
        [
            (
                i.id,
                i.status,
                i.severity,
                i.site or "-",
                i.subject,
                i.condition,
                when(i.opened_ns),
                i.summary[:60],
            )
            for i in items
        ],
        ("ID", "STATUS", "SEVERITY", "SITE", "SUBJECT", "CONDITION", "OPENED", "SUMMARY"),
    )


def incident(i: IncidentDetail, events: Sequence[Event]) -> str:
    """One incident: what, where, when, the articles' steps, then its timeline."""
    lines = [
        f"incident {i.id}: {i.summary}",
        f"  status {i.status}  severity {i.severity}  category {i.category}"
        + ("  FLAPPING" if i.flapping else "")
        + ("  silenced" if i.silenced else ""),
        f"  {i.scope} {i.subject}  site {i.site or '-'}  condition {i.condition}",
        f"  opened {when(i.opened_ns)}  acknowledged {when(i.acknowledged_ns)}"
        f"  resolved {when(i.resolved_ns)}  assignee {i.assignee or '-'}",
    ]
    if i.suppressed_by:
        lines.append(f"  explained by {i.suppressed_by}")
    if i.affected:
        lines.append(f"  affected ({len(i.affected)}): {', '.join(i.affected)}")
    for a in i.articles:
        lines.append(f"\n  {a.title} (kb {a.slug}{', review due' if a.stale else ''})")
        lines += [f"    {n}. {step}" for n, step in enumerate(a.steps, 1)]
    lines.append("\n  timeline:")
    lines += [f"    {when(e.time_ns)}  {e.kind:<13} {e.actor or '-':<10} {e.text}" for e in events]
    return "\n".join(lines)


def _away(a: Agent) -> str:
    return f" ({a.away})" if a.away else ""


def agents(found: Sequence[Agent]) -> str:
    """The agents, one a line."""
    return table(
        [(a.agent_id, a.site, a.status + _away(a), when(a.last_seen_ns), a.host, a.version) for a in found],
        ("AGENT", "SITE", "STATUS", "LAST SEEN", "HOST", "VERSION"),
    )


def agent(a: Agent) -> str:
    """One agent's presence and its open incidents."""
    head = (
        f"{a.agent_id}  site {a.site}  {a.status}{_away(a)}"
        f" since {when(a.since_ns)}, last seen {when(a.last_seen_ns)}"
    )
    return head + "\n" + (incident_rows(a.open_incidents) if a.open_incidents else "no open incidents")


def silences(found: Sequence[Silence]) -> str:
    """The silences and maintenance windows, "*" where one matches anything."""
    return table(
        [
            (
                s.id,
                s.kind,
                s.site or "*",
                s.device or "*",
                s.agent_id or "*",
                s.condition or "*",
                when(s.starts_ns),
                when(s.ends_ns),
                s.reason,
            )
            for s in found
        ],
        ("ID", "KIND", "SITE", "DEVICE", "AGENT", "CONDITION", "STARTS", "ENDS", "REASON"),
    )


def articles(found: Sequence[Article]) -> str:
    """The knowledge base's articles, one a line."""
    return table(
        [
            (
                a.slug,
                a.title,
                str(a.last_reviewed) + (" (review due)" if a.stale else ""),
                ", ".join(a.conditions),
            )
            for a in found
        ],
        ("SLUG", "TITLE", "REVIEWED", "CONDITIONS"),
    )


def article(a: Article) -> str:
    """One article as Markdown."""
    return f"# {a.title}\n\n{a.body}"
