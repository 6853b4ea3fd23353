"""`deskwatch-collector token create --role ROLE [--db URL] [--name NAME]`: make an API token.

The token is printed as the last line of output and only its SHA-256 is stored, so
this is the one time anyone sees it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from collector.api.auth import Role
from collector.db import DEFAULT_URL, make_engine, migrate
from collector.incidents.store import IncidentStore


def main(argv: list[str]) -> int:
    """Entry for the `token` subcommand; `argv` is what follows `token` (a leading "token" is skipped)."""
    if argv and argv[0] == "token":
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="deskwatch-collector token", description="manage API tokens")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a token and print it")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument(
        "--db",
        default=os.environ.get("DESKWATCH_DB", DEFAULT_URL),
        help="store URL (default: $DESKWATCH_DB or %(default)s)",
    )
    create.add_argument("--name", default="", help="who or what uses it; shown as the actor on timelines")
    args = parser.parse_args(argv)
    engine = make_engine(args.db)
    try:
        migrate(engine)
        token = IncidentStore(engine).create_token(args.role, args.name or args.role, time.time_ns())
    finally:
        engine.dispose()
    print(
        f"created a {args.role} token{f' for {args.name}' if args.name else ''}; it is shown only once:",
        file=sys.stderr,
    )
    print(token)
    return 0
