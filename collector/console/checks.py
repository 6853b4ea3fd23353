"""Checks on the caller's PC during the call, each result shown as soon as it arrives.

The agent answers one command with one reply, and triage (network, DNS, internet,
printers, everything) takes seconds. So the console sends the quick local checks one
after another in one lane (disk, memory, top processes, print queue, network
configuration: each answers in well under a second) and the full triage beside them in
the other, which keeps within the agent's two concurrent commands; each reply becomes a
piece of the page the moment it arrives. A triage started from a ticket is attached to
that ticket's timeline (collector.diagnostics does that with the user's name).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from collector.diagnostics import Answered, Diagnostics, Refusal, Request

QUICK = ("disk", "memory", "top_processes", "print_queue", "network_config")
TRIAGE = "triage"
QUICK_TIMEOUT_SECONDS = 10.0
TRIAGE_TIMEOUT_SECONDS = 20.0
LABELS = {
    "disk": "Disks",
    "memory": "Memory",
    "top_processes": "Busiest processes",
    "print_queue": "Print queue",
    "network_config": "Network configuration",
    "triage": "Triage: network, DNS, internet, printers",
}
# A refusal of these kinds holds for every check: say it once and send nothing more.
_FOR_ALL = (Refusal.UNKNOWN_AGENT, Refusal.OFFLINE, Refusal.BROKER_DOWN)


@dataclass(frozen=True, slots=True)
class Result:
    """One check's outcome as the page shows it."""

    check: str
    label: str
    status: str  # ok, problem, error, rejected, timeout, no_reply, refused
    problems: list[str]
    facts: list[tuple[str, str]]
    tables: list[tuple[str, list[str], list[list[str]]]]  # (title, header, rows)
    findings: list[tuple[bool, str, str]]  # triage: (ok, area, text)
    seconds: float
    audit_id: int
    message: str = ""


def _cell(value: Any, key: str = "") -> str:
    """A value of a check's result as the page shows it; `*_bytes` in GB or MB."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_bytes") and isinstance(value, int | float):
        return f"{value / 1e9:.1f} GB" if value >= 1e9 else f"{value / 1e6:.1f} MB"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value[:8])
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v, str(k))}" for k, v in list(value.items())[:8])
    return str(value)


def result_of(check: str, outcome: Answered) -> Result:
    reply = outcome.reply
    label = LABELS.get(check, check)
    if reply is None:
        return Result(
            check,
            label,
            "no_reply",
            [],
            [],
            [],
            [],
            outcome.waited_seconds,
            outcome.audit_id,
            "the agent did not answer in time (it may have just gone offline)",
        )
    body = reply.result
    problems = [str(p) for p in body.get("problems") or []]
    if reply.error:
        problems.append(reply.error)
    facts: list[tuple[str, str]] = []
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    findings: list[tuple[bool, str, str]] = []
    for key, value in body.items():
        if key in ("ok", "problems", "pending"):
            continue
        if key == "findings" and isinstance(value, list):
            findings = [
                (bool(f.get("ok")), str(f.get("area", "")), str(f.get("text", "")))
                for f in value
                if isinstance(f, dict)
            ]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            header = list(dict.fromkeys(k for row in value[:20] for k in row))[:8]
            rows = [[_cell(row.get(h, ""), h) for h in header] for row in value[:20]]
            tables.append((key, header, rows))
        else:
            facts.append((key, _cell(value, key)))
    if reply.status == "ok":
        status = "ok" if body.get("ok", not problems) and not problems else "problem"
    else:
        status = reply.status
    return Result(
        check,
        label,
        status,
        problems,
        facts[:16],
        tables[:4],
        findings,
        reply.duration_seconds,
        outcome.audit_id,
    )


def run_checks(
    diagnostics: Diagnostics,
    agent_id: str,
    actor: str,
    incident_id: int | None = None,
    quick: Sequence[str] = QUICK,
) -> Iterator[Result]:
    """Each check's Result in the order the replies arrive; a refusal for the PC as a whole ends it."""
    results: queue.Queue[Result | None] = queue.Queue()
    stop = threading.Event()

    def one(check: str, timeout: float, incident: int | None) -> None:
        outcome = diagnostics.run(Request(agent_id, check, {}, incident, timeout), actor)
        if isinstance(outcome, Answered):
            results.put(result_of(check, outcome))
            return
        results.put(
            Result(
                check,
                LABELS.get(check, check),
                "refused",
                [],
                [],
                [],
                [],
                0.0,
                outcome.audit_id,
                outcome.reason,
            )
        )
        if outcome.kind in _FOR_ALL:
            stop.set()

    def quick_lane() -> None:
        try:
            for check in quick:
                if stop.is_set():
                    break
                one(check, QUICK_TIMEOUT_SECONDS, None)
        finally:
            results.put(None)

    def triage_lane() -> None:
        try:
            if not stop.is_set():
                one(TRIAGE, TRIAGE_TIMEOUT_SECONDS, incident_id)
        finally:
            results.put(None)

    # the quick lane goes first, so a PC that cannot be reached is refused once, at once
    running = 0
    if quick:
        threading.Thread(target=quick_lane, name="console-checks", daemon=True).start()
        running += 1
        first = results.get()
        if first is None:
            running -= 1
        else:
            yield first
        if stop.is_set():
            return
    threading.Thread(target=triage_lane, name="console-triage", daemon=True).start()
    running += 1
    while running:
        item = results.get()
        if item is None:
            running -= 1
        else:
            yield item
