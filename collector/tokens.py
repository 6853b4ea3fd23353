"""`deskwatch-collector token create --role ROLE [--db URL | --config FILE] [--name NAME]`.

Makes an API token, prints it as the last line of output and stores only its SHA-256,
so this is the one time anyone sees it. For the collector CLI's COMMANDS table:
`"token": ("manage API tokens", tokens.add_arguments, tokens.command)`; `main(argv)`
does the same on its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from collector.api.auth import Role
from collector.db import make_engine, migrate
from collector.incidents.store import IncidentStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True)
    create = commands.add_parser("create", help="create a token and print it")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument(
        "--db",
        default=os.environ.get("DESKWATCH_DB"),
        help="store URL (default: $DESKWATCH_DB, else the store of --config)",
    )
    create.add_argument("--config", type=Path, help="collector.toml whose [store] url to use")
    create.add_argument("--name", default="", help="who or what uses it; shown as the actor on timelines")


def command(args: argparse.Namespace) -> int:
    url = args.db
    if not url:
        from collector import config

        url = config.load(args.config).store.url
    engine = make_engine(url)
    try:
        migrate(engine)
        token = IncidentStore(engine).create_token(args.role, args.name or args.role, time.time_ns())
    finally:
        engine.dispose()
    name = f" for {args.name}" if args.name else ""
    print(f"created a {args.role} token{name}; it is shown only once:", file=sys.stderr)
    print(token)
    return 0


def main(argv: list[str]) -> int:
    """The `token` subcommand on its own; `argv` follows `token` (a leading "token" is skipped)."""
    if argv and argv[0] == "token":
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="deskwatch-collector token", description="manage API tokens")
    add_arguments(parser)
    return command(parser.parse_args(argv))
