"""`triage`: the standard set of checks at once, and a summary that puts what is wrong first.

Network (gateway, DNS, internet, configured TCP/HTTP targets) runs as the network
source's own round, so triage and the dashboards agree; the configured printers, the
print queue, disk, memory, top processes and the network configuration run beside
it. Each part lands in the report as it finishes, so triage stopped at its deadline
still shows every part that was done and names the parts that were not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec

from agent.diagnostics import net, printer, system
from agent.diagnostics.context import Context
from agent.diagnostics.params import Host, Params, Port
from agent.diagnostics.report import CheckFailed, Report
from agent.protocol import State
from agent.snmp.target import Auth, Target, parse_device_url
from agent.sources import network

# Most telling first: no gateway explains no internet, no internet explains no DNS.
_ORDER = (
    "gateway",
    "internet",
    "dns",
    "tcp",
    "http",
    "printers",
    "devices",
    "print_queue",
    "disk",
    "memory",
    "cpu",
    "network_config",
)


class TriageParams(Params, frozen=True):
    printer: Host | None = None  # a printer to include beside the configured ones
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=10)] | None = None  # per probe; default [network]
    # Ask this DNS server for the [network] dns_names instead of the PC's resolver: is it
    # the server the PC uses, or DNS as a whole, that fails?
    dns_server: Host | None = None
    dns_port: Port = 53


class Finding(msgspec.Struct, frozen=True, omit_defaults=True):
    area: str
    ok: bool
    text: str = ""


async def triage(p: TriageParams, ctx: Context, report: Report) -> None:
    """Run everything in parallel; problems (ordered by what explains the most) first, then details."""
    timeout = p.timeout_seconds or ctx.network.timeout_seconds
    findings: list[Finding] = []
    pending = set(_PARTS)
    report.set("pending", sorted(pending))
    report.set("findings", findings)

    async def part(name: str, work: Callable[[], Awaitable[list[Finding]]]) -> None:
        try:
            found = await work()
        except CheckFailed as err:
            found = [Finding(name, False, f"{name}: {err}")]
        except Exception as err:  # one broken part must not cost the caller the others
            found = [Finding(name, False, f"{name} failed: {err!r}")]
        findings.extend(found)
        findings.sort(key=lambda f: (f.ok, _rank(f.area)))
        report.problems[:] = [f.text for f in findings if not f.ok]
        pending.discard(name)
        report.set("pending", sorted(pending))

    async def net_round() -> list[Finding]:
        names = ctx.network.dns_names if p.dns_server else ()
        settings = msgspec.structs.replace(
            ctx.network, timeout_seconds=timeout, dns_names=() if p.dns_server else ctx.network.dns_names
        )
        states, lookups = await asyncio.gather(
            network.collect(settings, time.time_ns()),
            asyncio.gather(*(_lookup(name, p.dns_server, p.dns_port, timeout) for name in names)),
        )
        return [_finding(s) for s in states if isinstance(s, State)] + list(lookups)

    async def sub(
        check: Callable[[Any, Context, Report], Awaitable[None]], params: Params, area: str
    ) -> list[Finding]:
        sub_report = Report()
        await check(params, ctx, sub_report)
        details, _ = sub_report.finish(16 * 1024)
        report.set(area, details)
        return [Finding(area, False, text) for text in sub_report.problems] or [Finding(area, True)]

    async def printers() -> list[Finding]:
        targets = _printer_targets(ctx, p.printer, timeout)
        if not targets:
            return []  # nothing to say: "printers fine" would claim more than was checked
        polled = await asyncio.gather(*(printer.poll_one(t) for t in targets))
        # the configured SNMP devices are printers and modems alike: each under its own name
        printers_ = [d for d in polled if d.kind == "printer" or not d.reachable]
        others = [d for d in polled if d.kind != "printer" and d.reachable]
        report.set("printers", printers_)
        if others:
            report.set("devices", others)
        found = [Finding("printers", False, t) for d in printers_ for t in printer.problems(d)]
        found += [Finding("devices", False, t) for d in others for t in printer.problems(d)]
        if printers_ and not any(f.area == "printers" for f in found):
            found.append(Finding("printers", True))
        if others and not any(f.area == "devices" for f in found):
            found.append(Finding("devices", True))
        return found

    await asyncio.gather(
        part("network", net_round),
        part("printers", printers),
        part("print_queue", lambda: sub(system.print_queue, system.PrintQueueParams(), "print_queue")),
        part("disk", lambda: sub(system.disk, system.DiskParams(), "disk")),
        part("memory", lambda: sub(system.memory, system.MemoryParams(), "memory")),
        part("cpu", lambda: sub(system.top_processes, system.TopParams(), "cpu")),
        part("network_config", lambda: sub(system.network_config, Params(), "network_config")),
    )
    report.set("pending", [])


_PARTS = ("network", "printers", "print_queue", "disk", "memory", "cpu", "network_config")


async def _lookup(name: str, server: str | None, port: int, timeout: float) -> Finding:
    found = Report()
    await net.dns(
        net.DnsParams(name=name, server=server, server_port=port, timeout_seconds=timeout), Context(), found
    )
    return Finding("dns", not found.problems, found.problems[0] if found.problems else f"dns:{name}")


def _rank(area: str) -> int:
    return _ORDER.index(area) if area in _ORDER else len(_ORDER)


def _finding(state: State) -> Finding:
    # subjects of the network source: "gateway:ADDR", "dns:NAME", "tcp:T", "http:URL", "internet"
    area = state.subject.split(":", 1)[0]
    return Finding(area, state.ok, state.text if not state.ok else state.subject)


def _printer_targets(ctx: Context, extra: str | None, timeout: float) -> list[Target]:
    """The SNMP devices this agent is configured for, plus `extra`; each once (address and credentials)."""
    snmp = ctx.snmp
    targets = [
        msgspec.structs.replace(parse_device_url(url), timeout_seconds=timeout, retries=0)
        for url in snmp.device_urls
    ]
    targets += [printer.target_for(d.host, d.port, d.auth, snmp, timeout, 0) for d in snmp.devices]
    if extra:
        targets.append(printer.target_for(extra, 161, "default", snmp, timeout, 0))
    seen: dict[tuple[str, int, Auth], Target] = {}
    for t in targets:
        seen.setdefault((t.host, t.port, t.auth), t)
    return list(seen.values())


__all__ = ["TriageParams", "triage"]
