"""`deskwatch diag AGENT CHECK [--param K=V ...] [--incident N] [--json]` and `deskwatch diag AGENT --triage`.

A thin client of POST /api/v1/agents/{agent}/diagnostics. The readable output puts the
problems first; triage fits on one screen (at most 24 lines) whatever the agent found.
The exit status is for scripts: 0 all fine, 1 a problem found, 2 refused or failed (the
agent did not answer, refused the command, or the check itself could not run).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import msgspec

from collector.helpdesk.answers import Diagnostic
from collector.helpdesk.client import Client

GiB = 2**30
SCREEN_LINES = 24
EXIT_FINE, EXIT_PROBLEM, EXIT_FAILED = 0, 1, 2
# A check's result is its own document (each check reports its own keys); the screens below
# read the parts they show and skip what is missing.
Result = dict[str, Any]


def add_arguments(diag: argparse.ArgumentParser) -> None:
    """The arguments of `deskwatch diag`."""
    diag.epilog = "exit status: 0 all fine, 1 a problem found, 2 refused or failed"
    diag.add_argument("agent", help="the agent id")
    diag.add_argument("check", nargs="?", help="ping, dns, tcp, http, route, printer, disk, ... or triage")
    diag.add_argument("--triage", action="store_true", help="the standard set at once, what is wrong first")
    diag.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a check parameter, repeatable",
    )
    diag.add_argument("--incident", type=int, help="attach the result to this incident's timeline")
    diag.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the agent (default 10)"
    )


def parse_params(items: list[str]) -> dict[str, str | int | float | bool]:
    """`["count=3", "host=10.0.0.1", "verbose=true"]` -> typed values; ValueError names a bad item."""
    out: dict[str, str | int | float | bool] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"--param {item!r} must look like KEY=VALUE")
        value: str | int | float | bool = text
        if text in ("true", "false"):
            value = text == "true"
        elif re.fullmatch(r"-?\d+", text):
            value = int(text)
        elif re.fullmatch(r"-?\d+\.\d*", text):
            value = float(text)
        out[key] = value
    return out


def run(args: argparse.Namespace, client: Client) -> tuple[str, int]:
    """Run the check; return what to print and the exit status."""
    check = "triage" if args.triage else args.check
    if not check:
        raise ValueError("name a CHECK or use --triage")
    body: dict[str, Any] = {
        "check": check,
        "params": parse_params(args.param),
        "timeout_seconds": args.timeout,
    }
    if args.incident is not None:
        body["incident_id"] = args.incident
    answer = client.fetch(
        f"/agents/{args.agent}/diagnostics", Diagnostic, method="POST", json=body, timeout=args.timeout + 5
    )
    code = exit_status(answer)
    if args.json:
        return json.dumps(msgspec.to_builtins(answer), indent=2), code
    return (render_triage(answer) if check == "triage" else render(answer)), code


def exit_status(answer: Diagnostic) -> int:
    """0 all fine, 1 a problem found, 2 refused or failed."""
    problems = answer.result.get("problems")
    if answer.status in ("rejected", "timeout") or (answer.status == "error" and not problems):
        return EXIT_FAILED
    return EXIT_PROBLEM if problems else EXIT_FINE


def _head(answer: Diagnostic) -> str:
    result: Result = answer.result
    count = len(result.get("problems", []))
    verdict = f"{count} problem{'s' if count != 1 else ''}" if count else "no problems found"
    if answer.status == "rejected":
        verdict = "REJECTED by the agent"
    extra = f" [{answer.status}]" if answer.status not in ("ok", "rejected") else ""
    attached = f", added to incident {answer.incident_id}" if answer.incident_id else ""
    return (
        f"{answer.check} on {answer.agent_id}: {verdict}{extra} "
        f"({answer.duration_seconds:.2f} s, audit #{answer.audit_id}{attached})"
    )


def render(answer: Diagnostic) -> str:
    """One check: the verdict, the problems, then each part of the result on a line of its own."""
    result: Result = answer.result
    lines = [_head(answer)]
    if answer.status == "rejected":
        return "\n".join([*lines, f"  reason: {answer.error}"])
    lines += [f"  x {p}" for p in result.get("problems", [])]
    for key, value in result.items():
        if key in ("ok", "problems"):
            continue
        if key.endswith("_seconds") and isinstance(value, float):
            lines.append(f"  {key.removesuffix('_seconds')}: {value * 1000:.1f} ms")
        else:
            lines.append(f"  {key}: {_short(value)}")
    return "\n".join(lines)


def _short(value: Any, width: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 3] + "..."


def render_triage(answer: Diagnostic) -> str:
    """Triage on one screen: verdict, every problem, the areas that are fine, then one line per area."""
    result: Result = answer.result
    lines = [_head(answer)]
    if answer.status == "rejected":
        return "\n".join([*lines, f"  reason: {answer.error}"])
    problems = result.get("problems", [])
    shown = problems[:10]
    lines += [f"  x {_short(p, 110)}" for p in shown]
    if len(problems) > len(shown):
        lines.append(f"  x ... and {len(problems) - len(shown)} more (use --json)")
    findings = result.get("findings", [])
    fine = sorted(
        {f["area"] for f in findings if f.get("ok")} - {f["area"] for f in findings if not f.get("ok")}
    )
    if fine:
        lines.append(f"  ok: {', '.join(fine)}")
    if result.get("pending"):
        lines.append(f"  not finished: {', '.join(result['pending'])}")
    lines.append("")
    lines += [line for line in (_network(result), _disk(result), _memory(result), _cpu(result)) if line]
    lines += _printers(result)
    return "\n".join(lines[:SCREEN_LINES])


def _network(result: Result) -> str:
    config = result.get("network_config")
    if not isinstance(config, dict):
        return ""
    up = [
        f"{i['name']} {' '.join(a for a in i['addresses'] if ':' not in a)}".strip()
        for i in config.get("interfaces", [])
        if i.get("up") and i["name"] != "lo"
    ]
    wifi = "".join(
        f"  wifi {w['interface']} {w.get('signal_dbm', w.get('signal_percent', '?'))}"
        for w in config.get("wifi", [])
    )
    servers = ", ".join(config.get("dns_servers", [])) or "-"
    return f"network   gateway {config.get('gateway') or '-'}  dns {servers}  {'; '.join(up[:2])}{wifi}"[:120]


def _disk(result: Result) -> str:
    disk = result.get("disk")
    if not isinstance(disk, dict):
        return ""
    parts = [
        f"{d['mount']} {d['used_percent']:.0f} % ({d['free_bytes'] / GiB:.1f} GiB free)"
        for d in disk["disks"]
    ]
    return ("disk      " + "; ".join(parts[:3]))[:120]


def _memory(result: Result) -> str:
    mem = result.get("memory")
    if not isinstance(mem, dict) or "memory" not in mem:
        return ""
    m, s = mem["memory"], mem.get("swap", {})
    return (
        f"memory    {m['used_percent']:.0f} % used, {m['available_bytes'] / GiB:.1f} GiB available"
        f"; swap {s.get('used_percent', 0):.0f} %"
    )


def _cpu(result: Result) -> str:
    cpu = result.get("cpu")
    if not isinstance(cpu, dict):
        return ""
    top = ", ".join(f"{p['name']} {p['cpu_percent']:.0f} %" for p in cpu.get("processes", [])[:3])
    return f"cpu       {cpu.get('cpu_percent', 0):.0f} % busy; top: {top}"[:120]


def _printers(result: Result) -> list[str]:
    out = []
    for d in result.get("printers", [])[:3]:
        if not d.get("reachable"):
            out.append(f"printer   {d['address']}: no answer")
            continue
        ident = d.get("identity", {})
        supplies = ", ".join(
            f"{s.get('description') or '?'} {s['level_percent']:.0f} %"
            for s in d.get("supplies", [])
            if s.get("level_percent") is not None
        )
        out.append(
            f"printer   {ident.get('model') or d['address']}: {d.get('status', '?')}; {supplies}"[:120]
        )
    return out
