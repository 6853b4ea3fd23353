"""The `printer` check: one SNMP device now, the same document as `deskwatch-agent probe --json`.

Credentials never travel in a command: the device's auth is the one agent.toml gives
it (a `--device` URL or `[[snmp.devices]]`), else the named `[snmp.auth.*]` table.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agent.diagnostics.context import Context
from agent.diagnostics.params import Host, Params, Port
from agent.diagnostics.report import CheckFailed, Report
from agent.snmp.report import DeviceReport
from agent.snmp.settings import Settings as SnmpSettings
from agent.snmp.target import Target, parse_device_url

LOW_SUPPLY_PERCENT = 10


class PrinterParams(Params, frozen=True):
    host: Host
    port: Port = 161
    auth: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}\Z")] = "default"
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=10)] = 2.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=3)] = 1


def target_for(host: str, port: int, auth: str, snmp: SnmpSettings, timeout: float, retries: int) -> Target:
    """The Target for host:port with the credentials agent.toml holds for it; CheckFailed if none."""
    for target in map(parse_device_url, snmp.device_urls):
        if (target.host, target.port) == (host, port):
            return msgspec.structs.replace(target, timeout_seconds=timeout, retries=retries)
    for device in snmp.devices:
        if (device.host, device.port) == (host, port):
            auth = device.auth
    if auth not in snmp.auth:
        raise CheckFailed(f"no [snmp.auth.{auth}] in this agent's configuration")
    try:
        credentials = snmp.auth[auth].resolved()
    except ValueError as err:
        raise CheckFailed(str(err)) from None
    return Target(host=host, port=port, auth=credentials, timeout_seconds=timeout, retries=retries)


async def printer(p: PrinterParams, ctx: Context, report: Report) -> None:
    """Poll one device and report its state; errors, low supplies and silence are problems."""
    target = target_for(p.host, p.port, p.auth, ctx.snmp, p.timeout_seconds, p.retries)
    device = await poll_one(target)
    report.set("device", device)
    for problem in problems(device):
        report.problem(problem)


async def poll_one(target: Target) -> DeviceReport:
    from agent import probe  # pysnmp loads only when a printer is asked for

    return await probe.probe(target)


def problems(device: DeviceReport) -> list[str]:
    """What is wrong with a device, in words, most urgent first."""
    name = device.identity.model or device.address
    if not device.reachable:
        return [f"device {device.address} does not answer SNMP: {device.reason}"]
    out = [f"{name}: {error.replace('_', ' ')}" for error in device.errors]
    for s in device.supplies:
        if (
            s.level_percent is not None
            and s.level_percent < LOW_SUPPLY_PERCENT
            and s.supply_class != "filled"
        ):
            out.append(f"{name}: {s.description or 'supply'} at {s.level_percent:.0f} %")
    return out
