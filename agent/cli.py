r"""deskwatch-agent: run | once | spool | check | probe | service.

    deskwatch-agent run   [--config F] [flags]   the service: collect, spool, publish
    deskwatch-agent once  [--config F] [flags]   collect every enabled source once, print one Batch as JSON
    deskwatch-agent spool [--config F] [flags]   what waits on disk for the broker
    deskwatch-agent check [--config F] [flags]   validate the configuration and say what it means
    deskwatch-agent probe HOST ...               poll one SNMP device and print what it reports
    deskwatch-agent service [flags]              Windows: the service the MSI registers (not for people)

On Windows the configuration is C:\ProgramData\deskwatch\agent.toml when it exists, and
the MSI's properties (BROKER, AGENT_ID, SITE, CA_FILE, COMMAND_KEY, kept in the registry
under HKLM\SOFTWARE\deskwatch\Agent) act like the flags of the same names.

Exit codes: 0 fine, 1 bad arguments, 2 bad configuration or an unusable spool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from agent import protocol
from agent.config import AgentConfig, load
from agent.errors import AgentError
from agent.spool import Spool


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="agent.toml (default: built-in defaults)")
    common.add_argument("--broker", help="mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    common.add_argument("--agent-id", dest="agent_id", help="this agent's id (default: host name)")
    common.add_argument("--site", help="the office or branch this PC belongs to")
    common.add_argument("--interval", type=float, help="seconds between rounds of each source")
    common.add_argument("--spool", help="path of the spool file")
    common.add_argument(
        "--device",
        action="append",
        metavar="URL",
        help="an SNMP device to poll, repeatable: snmp://COMMUNITY@HOST[:PORT] (see docs/snmp.md)",
    )
    common.add_argument(
        "--command-key",
        dest="command_key",
        metavar="KEY",
        help="the collector's public key for signed commands (deskwatch-collector signing-key)",
    )
    common.add_argument("--ca-file", dest="ca_file", metavar="FILE", help="CA of the broker's certificate")
    common.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    parser = argparse.ArgumentParser(prog="deskwatch-agent", description="The deskwatch agent for one PC.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", parents=[common], help="collect and publish until stopped")
    once = sub.add_parser("once", parents=[common], help="collect once and print the batch as JSON")
    once.add_argument(
        "--inventory",
        action="store_true",
        help='also read the inventory: prints {"batch": ..., "inventory": ...}',
    )
    sub.add_parser("spool", parents=[common], help="show what waits in the spool")
    sub.add_parser("check", parents=[common], help="validate the configuration")
    sub.add_parser("probe", help="poll one SNMP device (see deskwatch-agent probe --help)", add_help=False)
    sub.add_parser("service", parents=[common], help="Windows: the service the MSI registers")
    return parser


def _config_path(args: argparse.Namespace) -> Path | None:
    """The agent.toml to read: --config, else on Windows C:\\ProgramData\\deskwatch\\agent.toml if there."""
    path: Path | None = args.config
    if path is None and sys.platform == "win32":
        from agent.windows import paths

        if paths.config_path().exists():
            path = paths.config_path()
    return path


def _config(args: argparse.Namespace) -> AgentConfig:
    keys = ("broker", "agent_id", "site", "interval", "spool", "device", "command_key", "ca_file")
    overrides = {k: getattr(args, k) for k in keys}
    path = _config_path(args)
    origins: dict[str, str] = {}
    if sys.platform == "win32":
        from agent.windows import registry

        for flag, value in registry.deployment_settings().items():
            if overrides.get(flag) is None:  # a flag wins over the MSI's property
                overrides[flag] = value
                origins[flag] = rf"HKLM\{registry.DEPLOYMENT}\{registry.name_of(flag)}"
    return load(path, overrides, origins)


def service_config(argv: list[str]) -> AgentConfig:
    """The configuration of the Windows service, its log going to the log file from here on.

    A bad configuration is logged there (the service has no console) and raised, so the
    service stops with an error and the service manager's restart-on-failure applies.
    """
    from agent import winservice as service
    from agent.windows import paths

    args = _parser().parse_args(["service", *argv])
    service.configure_logging(paths.log_path(), args.log_level)
    try:
        return _config(args)
    except AgentError as err:
        logging.getLogger("agent").error("deskwatch-agent: %s", err)
        raise


class OneLineFormatter(logging.Formatter):
    """Every record's message on one line and bounded: printers' texts must not forge log lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = protocol.single_line(record.message, 4_000)
        return super().formatMessage(record)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["probe"]:
        from agent import probe  # pysnmp loads only when a probe is asked for

        code: int = probe.main(argv[1:])
        return code
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and 1
    if args.command == "service":
        if sys.platform != "win32":
            print("deskwatch-agent: `service` is the Windows service; elsewhere use `run`", file=sys.stderr)
            return 1
        from agent import winservice as service

        return service.main(argv[1:], service_config)
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level, handlers=[handler])
    try:
        config = _config(args)
        if args.command == "check":
            return _check(config, _config_path(args))  # the file it read, not only --config
        if args.command == "once":
            batch = asyncio.run(_once(config))
            document = protocol.to_builtins(batch)
            if args.inventory:
                from agent import inventory

                found = inventory.collect(config.inventory, batch.created_ns)
                document = {"batch": document, "inventory": msgspec.to_builtins(found)}
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
            return 0
        if args.command == "spool":
            return _spool(config)
        asyncio.run(_run(config))
        return 0
    except AgentError as err:
        print(f"deskwatch-agent: {err}", file=sys.stderr)
        return 2


async def _once(config: AgentConfig) -> protocol.Batch:
    from agent.runner import collect_once

    return await collect_once(config)


async def _run(config: AgentConfig) -> None:
    from agent.runner import run

    await run(config)


def _check(config: AgentConfig, path: Path | None) -> int:
    from agent.runner import enabled_sources

    sources = ", ".join(f"{name} every {interval:g} s" for name, _, _, interval in enabled_sources(config))
    print(f"{path or 'built-in defaults'}: OK")
    print(f"  agent id  {config.resolved_agent_id}  site {config.site or '(none)'}")
    print(f"  broker    {config.mqtt.broker}  prefix {config.mqtt.prefix}")
    print(f"  spool     {config.spool_path}  (at most {config.spool.max_bytes // 2**20} MiB)")
    print(f"  sources   {sources or '(none enabled)'}")
    key = config.command_key
    commands = f"signed with key {key[:12]}..." if key else "none accepted (no command_key)"
    print(f"  commands  {commands if config.commands.enabled else 'switched off'}")
    return 0


def _spool(config: AgentConfig) -> int:
    spool = Spool(config.spool_path, config.spool.max_bytes)
    stats = spool.stats()
    life = spool.stored_spool_id() or "-"
    spool.close()
    oldest = (
        datetime.fromtimestamp(stats.oldest_created_ns / 1e9, UTC).isoformat(timespec="seconds")
        if stats.oldest_created_ns
        else "-"
    )
    print(f"spool      {config.spool_path} (id {life}, of the newest batch stored)")
    print(f"batches    {stats.depth} waiting (oldest seq {stats.oldest_seq or '-'}, made {oldest})")
    print(f"size       {stats.bytes} of {stats.max_bytes} bytes")
    print(f"next seq   {stats.next_seq}")
    print(f"dropped    {stats.dropped_total} batches (spool full)")
    return 0
