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
from typing import TypeVar

import msgspec

from collector.helpdesk.answers import (
    CheckResult,
    Cpu,
    Diagnostic,
    Disks,
    Memory,
    NetworkConfig,
    Printer,
    Triage,
    Wifi,
)
from collector.helpdesk.client import ApiError, Client

GiB = 2**30
SCREEN_LINES = 24
EXIT_FINE, EXIT_PROBLEM, EXIT_FAILED = 0, 1, 2
R = TypeVar("R", bound=CheckResult)


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
    body: dict[str, object] = {
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
    problems = _result(answer, CheckResult).problems
    if answer.status in ("rejected", "timeout") or (answer.status == "error" and not problems):
        return EXIT_FAILED
    return EXIT_PROBLEM if problems else EXIT_FINE


def _result(answer: Diagnostic, kind: type[R]) -> R:
    """The check's result document read as `kind`; ApiError if it is not one."""
    try:
        return msgspec.convert(answer.result, kind)
    except msgspec.ValidationError as err:
        raise ApiError(f"unexpected {answer.check} result from {answer.agent_id}: {err}") from err


def _head(answer: Diagnostic) -> str:
    count = len(_result(answer, CheckResult).problems)
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
    lines = [_head(answer)]
    if answer.status == "rejected":
        return "\n".join([*lines, f"  reason: {answer.error}"])
    lines += [f"  x {p}" for p in _result(answer, CheckResult).problems]
    for key, value in answer.result.items():
        if key in ("ok", "problems"):
            continue
        if key.endswith("_seconds") and isinstance(value, float):
            lines.append(f"  {key.removesuffix('_seconds')}: {value * 1000:.1f} ms")
        else:
            lines.append(f"  {key}: {_short(value)}")
    return "\n".join(lines)


def _short(value: object, width: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 3] + "..."


def render_triage(answer: Diagnostic) -> str:
    """Triage on one screen: verdict, every problem, the areas that are fine, then one line per area."""
    result = _result(answer, Triage)
    lines = [_head(answer)]
    if answer.status == "rejected":
        return "\n".join([*lines, f"  reason: {answer.error}"])
    problems = result.problems
    shown = problems[:10]
    lines += [f"  x {_short(p, 110)}" for p in shown]
    if len(problems) > len(shown):
        lines.append(f"  x ... and {len(problems) - len(shown)} more (use --json)")
    findings = result.findings if isinstance(result.findings, list) else []
    fine = sorted({f.area for f in findings if f.ok} - {f.area for f in findings if not f.ok})
    if fine:
        lines.append(f"  ok: {', '.join(fine)}")
    if result.pending:
        lines.append(f"  not finished: {', '.join(result.pending)}")
    lines.append("")
    parts = (_network(result.network_config), _disk(result.disk), _memory(result.memory), _cpu(result.cpu))
    lines += [line for line in parts if line]
    lines += _printers(result.printers if isinstance(result.printers, list) else [])
    return "\n".join(lines[:SCREEN_LINES])


def _network(config: NetworkConfig | str | None) -> str:
    if not isinstance(config, NetworkConfig):
        return ""
    up = [
        f"{i.name} {' '.join(a for a in i.addresses if ':' not in a)}".strip()
        for i in config.interfaces
        if i.up and i.name != "lo"
    ]
    wifi = "".join(f"  wifi {w.interface} {_signal(w)}" for w in config.wifi)
    servers = ", ".join(config.dns_servers) or "-"
    return f"network   gateway {config.gateway or '-'}  dns {servers}  {'; '.join(up[:2])}{wifi}"[:120]


def _signal(w: Wifi) -> int | float | str:
    if w.signal_dbm is not None:
        return w.signal_dbm
    return w.signal_percent if w.signal_percent is not None else "?"


def _disk(disk: Disks | str | None) -> str:
    if not isinstance(disk, Disks):
        return ""
    parts = [f"{d.mount} {d.used_percent:.0f} % ({d.free_bytes / GiB:.1f} GiB free)" for d in disk.disks]
    return ("disk      " + "; ".join(parts[:3]))[:120]


def _memory(mem: Memory | str | None) -> str:
    if not isinstance(mem, Memory) or mem.memory is None:
        return ""
    m, s = mem.memory, mem.swap
    return (
        f"memory    {m.used_percent:.0f} % used, {m.available_bytes / GiB:.1f} GiB available"
        f"; swap {s.used_percent:.0f} %"
    )


def _cpu(cpu: Cpu | str | None) -> str:
    if not isinstance(cpu, Cpu):
        return ""
    top = ", ".join(f"{p.name} {p.cpu_percent:.0f} %" for p in cpu.processes[:3])
    return f"cpu       {cpu.cpu_percent:.0f} % busy; top: {top}"[:120]


def _printers(printers: list[Printer]) -> list[str]:
    out = []
    for d in printers[:3]:
        if not d.reachable:
            out.append(f"printer   {d.address}: no answer")
            continue
        supplies = ", ".join(
            f"{s.description or '?'} {s.level_percent:.0f} %"
            for s in d.supplies
            if s.level_percent is not None
        )
        out.append(f"printer   {d.identity.model or d.address}: {d.status}; {supplies}"[:120])
    return out
