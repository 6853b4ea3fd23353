"""`deskwatch dashboards export DIR` and `deskwatch dashboards push --url URL --token T [--folder NAME]`.

`main(argv)` takes the arguments after `dashboards`, so the `deskwatch` CLI routes to it
with one line; until then `python -m dashboards.cli ...` runs it. Exit codes: 0 done,
1 bad arguments, 2 Grafana refused or could not be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dashboards import DASHBOARDS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deskwatch dashboards", description=__doc__.splitlines()[0])
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
    return parser


def main(argv: list[str]) -> int:
    """Run `dashboards export|push` with `argv` (the words after `dashboards`)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # argparse exits on --help (0) and on bad arguments (2)
        return 0 if stop.code == 0 else 1
    if args.command == "export":
        from dashboards.export import write

        for path in write(args.dir):
            print(path)
        return 0
    if not args.token:
        print("deskwatch dashboards push: --token or $GRAFANA_TOKEN is required", file=sys.stderr)
        return 1
    from grafana_client.api import GrafanaApi

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
