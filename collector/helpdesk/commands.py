"""What each `deskwatch` command asks the API and prints: the table the CLI is built from.

`COMMANDS` maps each command to its arguments and its handler, and a command with actions
(`incidents list|show|...`) to a table of its own; `helpdesk_cli.parser()` walks it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec

from collector.helpdesk import diag, screens, whois
from collector.helpdesk.answers import Agent, Article, Event, Incident, IncidentDetail, IncidentPage, Silence
from collector.helpdesk.client import ApiError, Client, Params, Request
from collector.inventory.picture import Lookup

T = TypeVar("T")
AddArguments = Callable[[argparse.ArgumentParser], None]
Handle = Callable[[argparse.Namespace], int]  # the exit status
Screen = Callable[[argparse.Namespace, Client], str]  # what to print


def _no_arguments(_: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its parser's arguments and handler, or the actions under it."""

    help: str | None = None
    arguments: AddArguments = _no_arguments
    handle: Handle | None = None
    actions: Mapping[str, Command] = field(default_factory=dict)
    json_flag: bool = True  # takes `--json` after its name too


def on_api(run: Callable[[argparse.Namespace, Client], tuple[str, int]]) -> Handle:
    """A handler that asks the API: prints what `run` returns, one line on stderr if that fails."""

    def handle(args: argparse.Namespace) -> int:
        client = Client(args.api, args.token)
        try:
            text, code = run(args, client)
        except ApiError as err:
            print(f"deskwatch: {err}", file=sys.stderr)
            return 1
        except ValueError as err:  # a bad --param: a usage error
            print(f"deskwatch: {err}", file=sys.stderr)
            return 2
        finally:
            client.close()
        print(text)
        return code

    return handle


def screen(show: Screen) -> Handle:
    """A handler that prints one screen and exits 0 when the API answered."""
    return on_api(lambda args, client: (show(args, client), 0))


def _dump(answer: object) -> str:
    """What `--json` prints: the answer as the API sent it."""
    return json.dumps(msgspec.to_builtins(answer), indent=2)


def _no_params(_: argparse.Namespace) -> Params:
    return {}


def _if_given(name: str) -> Callable[[argparse.Namespace], Params]:
    """The query parameter `name` from the option of that name, when it is not empty."""
    return lambda args: {name: getattr(args, name)} if getattr(args, name) else {}


def _get(
    path: str,
    answer: type[T],
    show: Callable[[T], str],
    params: Callable[[argparse.Namespace], Params] = _no_params,
) -> Screen:
    """GET `path` (its {fields} filled from the arguments) as `answer`; shown by `show`, or as JSON."""

    def get(args: argparse.Namespace, client: Client) -> str:
        found = client.fetch(path.format_map(vars(args)), answer, params=params(args))
        return _dump(found) if args.json else show(found)

    return get


# incidents

_FILTERS = ("site", "device", "agent_id", "category", "severity")


def _list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", action="append", choices=["open", "acknowledged", "resolved"])
    p.add_argument("--all", action="store_true", help="resolved ones too")
    p.add_argument(
        "--include-quiet", action="store_true", help="silenced ones and ones another incident explains too"
    )
    for name in _FILTERS:
        p.add_argument(f"--{name.replace('_', '-')}", default="")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)


def _list(args: argparse.Namespace, client: Client) -> str:
    statuses = args.status or ([] if args.all else ["open", "acknowledged"])
    params: dict[str, str | int | list[str]] = {
        "status": statuses,
        "limit": args.limit,
        "offset": args.offset,
    }
    if not args.include_quiet:
        params["quiet"] = "false"
    params |= {name: getattr(args, name) for name in _FILTERS if getattr(args, name)}
    page = client.fetch("/incidents", IncidentPage, params=params)
    if args.json:
        return _dump(page)
    return screens.incident_rows(page.items) + f"\n{len(page.items)} of {page.total}"


def _incident_id(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", type=int)


def _show(args: argparse.Namespace, client: Client) -> str:
    incident = client.fetch(f"/incidents/{args.id}", IncidentDetail)
    events = client.fetch(f"/incidents/{args.id}/timeline", list[Event])
    if args.json:
        timeline = msgspec.to_builtins(events)
        return json.dumps({**msgspec.to_builtins(incident), "timeline": timeline}, indent=2)
    return screens.incident(incident, events)


def _act(path: str, body: Callable[[argparse.Namespace], dict[str, str]] | None, said: str) -> Screen:
    """POST to the incident's `path` and say what was done; `said` may name the answer's fields."""

    def act(args: argparse.Namespace, client: Client) -> str:
        request: Request = {"json": body(args)} if body is not None else {}
        done = client.fetch(f"/incidents/{args.id}/{path}", Incident, "POST", **request)
        if args.json:
            return _dump(done)
        return f"incident {done.id}: " + said.format(assignee=done.assignee, status=done.status)

    return act


def _resolve_arguments(p: argparse.ArgumentParser) -> None:
    _incident_id(p)
    p.add_argument("text", nargs="?", default="")


def _comment_arguments(p: argparse.ArgumentParser) -> None:
    _incident_id(p)
    p.add_argument("text")


def _assign_arguments(p: argparse.ArgumentParser) -> None:
    _incident_id(p)
    p.add_argument("assignee")


INCIDENTS = {
    "list": Command("the queue: open and acknowledged incidents", _list_arguments, screen(_list)),
    "show": Command(None, _incident_id, screen(_show)),
    "ack": Command(None, _incident_id, screen(_act("ack", None, "acknowledged"))),
    "resolve": Command(
        None, _resolve_arguments, screen(_act("resolve", lambda a: {"text": a.text}, "resolved"))
    ),
    "comment": Command(
        None,
        _comment_arguments,
        screen(_act("comments", lambda a: {"text": a.text}, "comment added ({status})")),
    ),
    "assign": Command(
        None,
        _assign_arguments,
        screen(_act("assign", lambda a: {"assignee": a.assignee}, "assigned to {assignee} ({status})")),
    ),
}


# agents


def _site(p: argparse.ArgumentParser) -> None:
    p.add_argument("--site", default="")


def _agent_id(p: argparse.ArgumentParser) -> None:
    p.add_argument("id")


AGENTS = {
    "list": Command(None, _site, screen(_get("/agents", list[Agent], screens.agents, _if_given("site")))),
    "show": Command(None, _agent_id, screen(_get("/agents/{id}", Agent, screens.agent))),
}


# silences


def _silence_arguments(p: argparse.ArgumentParser) -> None:
    for name in ("site", "device", "agent-id", "condition"):
        p.add_argument(f"--{name}", default="")
    p.add_argument("--minutes", type=int, required=True, help="how long from now")
    p.add_argument(
        "--maintenance", action="store_true", help="open no incidents at all (default: open quietly)"
    )
    p.add_argument("--reason", default="")


def _silence(args: argparse.Namespace, client: Client) -> str:
    body = {
        "kind": "maintenance" if args.maintenance else "silence",
        "site": args.site,
        "device": args.device,
        "agent_id": args.agent_id,
        "condition": args.condition,
        "duration_minutes": args.minutes,
        "reason": args.reason,
    }
    made = client.fetch("/silences", Silence, method="POST", json=body)
    return _dump(made) if args.json else f"{made.kind} {made.id} until {screens.when(made.ends_ns)}"


def _remove(args: argparse.Namespace, client: Client) -> str:
    client.call("DELETE", f"/silences/{args.id}")
    return f"silence {args.id} removed"


SILENCES = {
    "add": Command(None, _silence_arguments, screen(_silence)),
    "list": Command(None, _no_arguments, screen(_get("/silences", list[Silence], screens.silences))),
    "remove": Command(None, _incident_id, screen(_remove)),
}


# knowledge base


def _condition(p: argparse.ArgumentParser) -> None:
    p.add_argument("--condition", default="")


def _slug(p: argparse.ArgumentParser) -> None:
    p.add_argument("slug")


KB = {
    "list": Command(
        None, _condition, screen(_get("/kb", list[Article], screens.articles, _if_given("condition")))
    ),
    "show": Command(None, _slug, screen(_get("/kb/{slug}", Article, screens.article))),
}


# whois, report


def _whois_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "QUERY is a user, PC name, IP, MAC or serial; KEY:VALUE looks in one key only "
        "(agent, host, user, ip, mac, serial, device). agent:ID always finds exactly one PC."
    )
    p.add_argument("query")


def _report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", default="30d")
    p.add_argument("--format", choices=["html", "json", "csv"], default="json")
    p.add_argument("--output", "-o", default="", help="write to this file instead of stdout")


def _report(args: argparse.Namespace, client: Client) -> str:
    response = client.call("GET", "/reports", params={"since": args.since, "format": args.format})
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(response.text)
        return f"report written to {args.output}"
    return response.text


def _dashboards_arguments(p: argparse.ArgumentParser) -> None:
    from dashboards import cli  # argparse only: the SDK loads when it runs

    cli.add_arguments(p)


def _dashboards(args: argparse.Namespace) -> int:
    """Export or push the dashboards: works on files and Grafana, not on the collector's API."""
    from dashboards import cli

    return cli.run(args)


COMMANDS = {
    "incidents": Command("list and act on incidents", actions=INCIDENTS, json_flag=False),
    "agents": Command("agents and their presence", actions=AGENTS, json_flag=False),
    "silence": Command("silences and maintenance windows", actions=SILENCES, json_flag=False),
    "kb": Command("knowledge base", actions=KB, json_flag=False),
    "whois": Command(
        "the caller's PC, incidents and history, by user, PC, IP, MAC or serial",
        _whois_arguments,
        screen(_get("/lookup", Lookup, whois.render, lambda args: {"q": args.query})),
    ),
    "report": Command("management report", _report_arguments, screen(_report)),
    # its exit status says what the check found
    "diag": Command("run a diagnostic check on an agent's PC now", diag.add_arguments, on_api(diag.run)),
    "dashboards": Command(
        "export the Grafana dashboards, or push them to a Grafana",
        _dashboards_arguments,
        _dashboards,
        json_flag=False,
    ),
}
