"""`deskwatch-collector user add|list|remove|passwd` for the console's users.

`add NAME --role viewer|helpdesk|admin` and `passwd NAME` read the password from standard
input when it is not a terminal (one line: `generate | deskwatch-collector user add ...`),
else prompt twice without echo. The password itself is never printed or logged.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import sys
import time

from collector import config
from collector.auth import Role
from collector.auth.users import UserError, UserStore
from collector.db import make_engine, migrate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="a console user; the password comes from stdin or a prompt")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    config.store_arguments(add)
    listing = actions.add_parser("list", help="every user: name, role, created")
    config.store_arguments(listing)
    remove = actions.add_parser("remove", help="delete a user and end their sessions")
    remove.add_argument("name")
    config.store_arguments(remove)
    passwd = actions.add_parser("passwd", help="a new password (ends the user's sessions)")
    passwd.add_argument("name")
    config.store_arguments(passwd)


def read_password(prompt: str = "password: ") -> str:
    """One line of stdin when piped; else asked twice on the terminal without echo."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ")
    return first


def command(args: argparse.Namespace) -> int:
    engine = make_engine(config.store_url(args))
    try:
        migrate(engine)
        users = UserStore(engine)
        if args.action == "list":
            for user in users.list():
                created = datetime.datetime.fromtimestamp(user.created_ns / 1e9, datetime.UTC)
                print(f"{user.name}\t{user.role}\t{created.isoformat(timespec='seconds')}")
            return 0
        if args.action == "remove":
            if not users.remove(args.name):
                print(f"no user {args.name} (see `user list`)", file=sys.stderr)
                return 1
            print(f"removed user {args.name} and ended their sessions", file=sys.stderr)
            return 0
        try:
            if args.action == "add":
                users.add(args.name, Role(args.role), read_password(), time.time_ns())
                print(f"added {args.role} user {args.name}", file=sys.stderr)
                return 0
            if not users.set_password(args.name, read_password("new password: "), time.time_ns()):
                print(f"no user {args.name} (see `user list`)", file=sys.stderr)
                return 1
            print(f"changed the password of {args.name}; their sessions ended", file=sys.stderr)
            return 0
        except UserError as err:
            print(f"deskwatch-collector user: {err}", file=sys.stderr)
            return 1
    finally:
        engine.dispose()
