"""The fixed list of checks an agent runs on command: name -> parameter schema and coroutine.

`CHECKS` is the whole attack surface of commands: a name not in it is refused, and a
command's parameters must decode into the check's Struct (unknown names, wrong types
and out-of-range values are refused with the reason).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from agent.diagnostics import net, printer, system, triage
from agent.diagnostics.context import Context
from agent.diagnostics.params import NoParams, Params
from agent.diagnostics.report import Report
from agent.protocol import ParamValue


@dataclass(frozen=True, slots=True)
class Check:
    """One named check: what it takes and what it runs."""

    params: type[Params]
    run: Callable[[Any, Context, Report], Coroutine[Any, Any, None]]

    @property
    def summary(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0]


CHECKS: Mapping[str, Check] = {
    "ping": Check(net.PingParams, net.ping),
    "dns": Check(net.DnsParams, net.dns),
    "tcp": Check(net.TcpParams, net.tcp),
    "http": Check(net.HttpParams, net.http),
    "route": Check(net.RouteParams, net.route),
    "printer": Check(printer.PrinterParams, printer.printer),
    "print_queue": Check(system.PrintQueueParams, system.print_queue),
    "disk": Check(system.DiskParams, system.disk),
    "memory": Check(system.MemoryParams, system.memory),
    "top_processes": Check(system.TopParams, system.top_processes),
    "services": Check(system.ServicesParams, system.services),
    "network_config": Check(NoParams, system.network_config),
    "triage": Check(triage.TriageParams, triage.triage),
}


def validate(name: str, params: Mapping[str, ParamValue]) -> tuple[Check, Params] | str:
    """The check and its decoded parameters, or the reason they are refused."""
    check = CHECKS.get(name)
    if check is None:
        return f"unknown check {name!r}; known: {', '.join(sorted(CHECKS))}"
    try:
        return check, msgspec.convert(dict(params), check.params)
    except msgspec.ValidationError as err:
        return f"invalid parameters for {name}: {err}"
