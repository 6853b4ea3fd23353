"""`deskwatch dashboards export DIR` and `deskwatch dashboards push --url URL --token T [--folder NAME]`.

`add_arguments()` puts `export` and `push` under the `deskwatch dashboards` subcommand and
`run()` does them; neither loads the Grafana SDK before it is needed, so the rest of the
CLI works without the `dashboards` extra. `python -m dashboards.cli ...` runs it alone.
Exit codes: 0 done, 1 bad arguments or the extra missing, 2 Grafana refused or could not
be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deskwatch dashboards", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`export DIR` and `push --url ...` as subcommands of `parser`."""
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write every dashboard as JSON into DIR")
    export.add_argument("dir", type=Path, metavar="DIR")
    push = commands.add_parser("push", help="upload every dashboard to a running Grafana")
    push.add_argument("--url", required=True, help="Grafana base URL, e.g. https://grafana.example:3000")
    push.add_argument(
        "--token",
        default=os.environ.get("GRAFANA_TOKEN"),
        help="service-account token (Editor role); default: $GRAFANA_TOKEN",
    )
    push.add_argument("--folder", default="deskwatch", help="folder to put them in (created if missing)")
    push.add_argument("--timeout", type=float, default=10.0, help="seconds per request")


def main(argv: list[str]) -> int:
    """Run `dashboards export|push` with `argv` (the words after `dashboards`)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # argparse exits on --help (0) and on bad arguments (2)
        return 0 if stop.code == 0 else 1
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Do the `export` or `push` that `args` ask for."""
    try:
        import grafana_foundation_sdk  # noqa: F401 - only to say clearly when it is missing
    except ImportError:
        print(
            "deskwatch dashboards: needs the dashboards extra (pip install 'deskwatch[dashboards]')",
            file=sys.stderr,
        )
        return 1
    if args.command == "export":
        from dashboards.export import write

        for path in write(args.dir):
            print(path)
        return 0
    if not args.token:
        print("deskwatch dashboards push: --token or $GRAFANA_TOKEN is required", file=sys.stderr)
        return 1
    from grafana_client.api import GrafanaApi

    from dashboards.catalog import DASHBOARDS
    from dashboards.push import PushError, push

    api = GrafanaApi.from_url(args.url, credential=args.token, timeout=args.timeout)
    try:
        results = push(api, DASHBOARDS, args.folder)
    except PushError as err:
        print(f"deskwatch dashboards push: {err}", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result.outcome.value:9} {result.name} (uid {result.uid}) in folder {args.folder!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
