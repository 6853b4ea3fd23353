"""`deskwatch`: the helpdesk's command line, a thin client of the collector's REST API.

    deskwatch [--api URL] [--token T] [--json] incidents list|show|ack|resolve|comment ...
    deskwatch agents list|show ID
    deskwatch silence add|list|remove ...
    deskwatch kb list|show SLUG
    deskwatch report [--since 30d] [--format html|json|csv]
    deskwatch whois QUERY [--json]       the caller's PC by user, PC name, IP, MAC or serial

`--api`/`--token` default to $DESKWATCH_API / $DESKWATCH_TOKEN. Tables by default,
`--json` prints the API's JSON for scripts. Exit status 0 ok, 1 API error, 2 usage.
The commands live in `collector.helpdesk.commands.COMMANDS`; nothing here imports a
server module, so the CLI installs and starts without the collector's stores.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from collector.helpdesk.commands import COMMANDS, Command


def _add(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    table: Mapping[str, Command],
    json_flag: argparse.ArgumentParser,
) -> None:
    """One parser per command of `table`, its handler set as `handle`; actions below their command."""
    for name, command in table.items():
        parents = [json_flag] if command.json_flag else []
        # without `help` argparse leaves the command out of its parent's list, as wanted for actions
        if command.help is None:
            parser = commands.add_parser(name, parents=parents)
        else:
            parser = commands.add_parser(name, parents=parents, help=command.help)
        command.arguments(parser)
        if command.actions:
            _add(parser.add_subparsers(dest="action", required=True), command.actions, json_flag)
        if command.handle is not None:
            parser.set_defaults(handle=command.handle)


def parser() -> argparse.ArgumentParser:
    """The whole `deskwatch` command line, built from `COMMANDS`."""
    p = argparse.ArgumentParser(prog="deskwatch", description="the deskwatch helpdesk CLI")
    p.add_argument(
        "--api",
        default=os.environ.get("DESKWATCH_API", "http://127.0.0.1:8080"),
        help="collector API URL (default $DESKWATCH_API)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("DESKWATCH_TOKEN", ""),
        help="bearer token (default $DESKWATCH_TOKEN)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    # `--json` is also taken after the subcommand: `deskwatch incidents list --json`
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    _add(p.add_subparsers(dest="area", required=True, metavar="COMMAND"), COMMANDS, json_flag)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `deskwatch`."""
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    status: int = args.handle(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
