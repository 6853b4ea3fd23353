"""`deskwatch-collector token create|list|revoke [--db URL | --config FILE]`.

`create --role ROLE [--name NAME]` makes an API token, prints it as the last line of
output and stores only its SHA-256, so this is the one time anyone sees it. `list` shows
every token's id, name, role, creation time and whether it is revoked; `revoke ID` makes
the API refuse that token from its next request on (a leaked token, a person who left).

For the collector CLI's COMMANDS table: `"token": ("manage API tokens",
tokens.add_arguments, tokens.command)`; `main(argv)` does the same on its own.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time

from collector import config
from collector.auth import Role
from collector.auth.tokens import TokenStore
from collector.db import make_engine, migrate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True)
    create = commands.add_parser("create", help="create a token and print it")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", default="", help="who or what uses it; shown as the actor on timelines")
    config.store_arguments(create)
    listing = commands.add_parser("list", help="every token: id, name, role, created, revoked")
    config.store_arguments(listing)
    revoke = commands.add_parser("revoke", help="refuse a token from now on")
    revoke.add_argument("id", type=int, help="the token's id, as `token list` shows it")
    config.store_arguments(revoke)


def command(args: argparse.Namespace) -> int:
    engine = make_engine(config.store_url(args))
    try:
        migrate(engine)
        store = TokenStore(engine)
        if args.action == "list":
            for info in store.all():
                created = datetime.datetime.fromtimestamp(info.created_ns / 1e9, datetime.UTC)
                state = "revoked" if info.revoked else "active"
                print(
                    f"{info.id}\t{info.name}\t{info.role}\t{created.isoformat(timespec='seconds')}\t{state}"
                )
            return 0
        if args.action == "revoke":
            if not store.revoke(args.id):
                print(f"no active token with id {args.id} (see `token list`)", file=sys.stderr)
                return 1
            print(f"revoked token {args.id}", file=sys.stderr)
            return 0
        token = store.create(args.role, args.name or args.role, time.time_ns())
    finally:
        engine.dispose()
    name = f" for {args.name}" if args.name else ""
    article = "an" if args.role[:1] in "aeiou" else "a"
    print(f"created {article} {args.role} token{name}; it is shown only once:", file=sys.stderr)
    print(token)
    return 0


def main(argv: list[str]) -> int:
    """The `token` subcommand on its own; `argv` follows `token` (a leading "token" is skipped)."""
    if argv and argv[0] == "token":
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="deskwatch-collector token", description="manage API tokens")
    add_arguments(parser)
    return command(parser.parse_args(argv))
