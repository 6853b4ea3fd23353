"""`deskwatch-agent probe HOST`: poll one SNMP device with auto-selected profiles and print the result.

    deskwatch-agent probe HOST[:PORT] [--community C | --v3-user U --auth-key K --priv-key P]
                          [--snmp-version 1|2c|3] [--timeout S] [--retries N] [--json]

HOST may also be a device URL (see agent.snmp.target). Exit status: 0 the device
answered, 2 it did not, 1 bad arguments; the reason goes to stderr in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import NoReturn

import msgspec

from agent.errors import AgentError
from agent.snmp.client import Client
from agent.snmp.errors import DeviceUrlError
from agent.snmp.poll import poll
from agent.snmp.profile import builtin_profiles, enterprise_names
from agent.snmp.report import DeviceReport
from agent.snmp.target import Auth, Target, parse_device_url

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2


class _UsageError(AgentError):
    """The probe's arguments are wrong; argparse's message says how."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="deskwatch-agent probe", description="Poll one SNMP device and print what it reports.")
    p.add_argument(
        "host", help="HOST[:PORT] or a device URL (snmp://COMMUNITY@HOST, snmpv3://USER:AUTH:PRIV@HOST)"
    )
    p.add_argument("--community", default=None, help="SNMP v1/v2c community (default: public)")
    p.add_argument("--snmp-version", choices=("1", "2c", "3"), default=None)
    p.add_argument("--v3-user", default=None, help="SNMPv3 user (implies --snmp-version 3)")
    p.add_argument("--auth-key", default="", help="SNMPv3 authentication passphrase")
    p.add_argument("--priv-key", default="", help="SNMPv3 privacy passphrase")
    p.add_argument(
        "--auth-protocol", default="sha", choices=("md5", "sha", "sha224", "sha256", "sha384", "sha512")
    )
    p.add_argument("--priv-protocol", default="aes", choices=("des", "3des", "aes", "aes192", "aes256"))
    p.add_argument("--context", default="", help="SNMPv3 context name")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per request (default 2)")
    p.add_argument("--retries", type=int, default=1, help="resends per request (default 1)")
    p.add_argument("--json", action="store_true", help="print the normalized JSON document")
    return p


def _split_host(text: str) -> tuple[str, int]:
    if text.startswith("["):  # [v6::addr]:port
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 161
    host, sep, port = text.rpartition(":")
    if sep and host and ":" not in host:
        return host, int(port)
    return text, 161


def target_from_args(args: argparse.Namespace) -> Target:
    """The Target the probe arguments describe; DeviceUrlError or ValueError when they do not fit."""
    if args.timeout <= 0 or args.retries < 0:
        raise ValueError("--timeout must be > 0 and --retries >= 0")
    if "://" in args.host:
        target = parse_device_url(args.host)
    else:
        host, port = _split_host(args.host)
        if not host or not 0 < port < 65536:
            raise ValueError(f"bad host {args.host!r}")
        version = args.snmp_version or ("3" if args.v3_user else "2c")
        if version == "3":
            if not args.v3_user:
                raise ValueError("SNMPv3 needs --v3-user")
            v3 = {"version": "3", "user": args.v3_user, "auth_key": args.auth_key, "priv_key": args.priv_key}
            v3 |= {"auth_protocol": args.auth_protocol, "priv_protocol": args.priv_protocol}
            auth = msgspec.convert(v3 | {"context": args.context}, type=Auth)
        else:
            if args.v3_user:
                raise ValueError("--v3-user needs --snmp-version 3")
            auth = msgspec.convert({"version": version, "community": args.community or "public"}, type=Auth)
        target = Target(host=host, port=port, auth=auth)
    return msgspec.structs.replace(target, timeout_seconds=args.timeout, retries=args.retries)


async def probe(target: Target) -> DeviceReport:
    """Poll one device once with every shipped profile that applies."""
    client = Client()
    try:
        return await poll(client, target, builtin_profiles(), enterprise_names())
    finally:
        client.close()


def summary(report: DeviceReport) -> str:
    """A readable multi-line summary of a report."""
    i = report.identity
    lines = [f"{report.address}: {report.kind}, device {report.device}"]
    if not report.reachable:
        return (
            f"{report.address}: no answer ({report.reason})\n"
            "  not monitored by SNMP: a discovered device that never answered opens no ticket;\n"
            "  check its SNMP settings and community, or name it in agent.toml [[snmp.devices]]"
        )
    lines.append(
        f"  {i.vendor or '?'} {i.model or ''}  serial {i.serial or '?'}  firmware {i.firmware or '?'}"
    )
    if i.uptime_s is not None:
        lines.append(f"  up {i.uptime_s / 86400:.1f} days   {i.sys_descr or ''}"[:160])
    if report.kind == "printer":
        lines.append(f"  status {report.status}; errors: {', '.join(report.errors) or 'none'}")
        for s in report.supplies:
            level = (
                f"{s.level_percent:.0f} %" if s.level_percent is not None else s.level_state.replace("_", " ")
            )
            lines.append(f"  supply {s.index:>3} {s.description or '?':40} {level}")
        for t in report.trays:
            level = (
                f"{t.level_percent:.0f} %" if t.level_percent is not None else t.level_state.replace("_", " ")
            )
            lines.append(f"  tray   {t.index:>3} {t.name or '?':40} {level}")
        for a in report.alerts:
            lines.append(f"  alert  {a.severity or '?'}: {a.code or '?'} {a.description or ''}")
        pages = report.counters.get("pages_total")
        if pages is not None:
            lines.append(f"  pages printed: {pages}")
    for line in report.dsl:
        down, up = line.downstream_rate_bps, line.upstream_rate_bps
        lines.append(
            f"  {line.standard} line {line.index}: {(down or 0) / 1e6:g}/{(up or 0) / 1e6:g} Mbit/s down/up, "
            f"margin {line.downstream_snr_margin_db}/{line.upstream_snr_margin_db} dB"
            + (f"  DEGRADED: {'; '.join(line.degraded)}" if line.degraded else "")
        )
    for m in report.measurements:
        tags = ",".join(f"{k}={v}" for k, v in sorted(m.tags.items()))
        fields = " ".join(f"{k}={v:g}" for k, v in sorted(m.fields.items()))
        lines.append(f"  {m.measurement}{{{tags}}} {fields}"[:160])
    for n in report.interfaces:
        lines.append(
            f"  if {n.index:>4} {n.name or '?':20} {n.admin_status or '?'}/{n.oper_status or '?'}"
            f"  {(n.speed_bps or 0) / 1e6:g} Mbit/s  in {n.in_octets} out {n.out_octets}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the probe with command-line arguments (without the program name); return the exit status."""
    try:
        args = _parser().parse_args(argv)
        target = target_from_args(args)
    except (_UsageError, DeviceUrlError, ValueError, msgspec.ValidationError) as err:
        print(f"deskwatch-agent probe: {err}", file=sys.stderr)
        return EXIT_USAGE
    report = asyncio.run(probe(target))
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report), indent=2).decode() + "\n")
    else:
        print(summary(report))
    if not report.reachable:
        print(f"deskwatch-agent probe: {target.address} did not answer: {report.reason}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
