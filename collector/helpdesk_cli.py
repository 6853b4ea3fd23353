"""`deskwatch`: the helpdesk's command line, a thin client of the collector's REST API.

    deskwatch [--api URL] [--token T] [--json] incidents list|show|ack|resolve|comment ...
    deskwatch agents list|show ID
    deskwatch silence add|list|remove ...
    deskwatch kb list|show SLUG
    deskwatch report [--since 30d] [--format html|json|csv]
    deskwatch whois QUERY [--json]       the caller's PC by user, PC name, IP, MAC or serial

`--api`/`--token` default to $DESKWATCH_API / $DESKWATCH_TOKEN. Tables by default,
`--json` prints the API's JSON for scripts. Exit status 0 ok, 1 API error, 2 usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import httpx

from collector import diag_cli

NS = 1_000_000_000


class ApiError(Exception):
    pass


class Client:
    """The API over httpx, raising ApiError with the server's message on any non-2xx answer."""

    def __init__(self, api: str, token: str, timeout: float = 15.0) -> None:
        self.http = httpx.Client(
            base_url=api.rstrip("/") + "/api/v1",
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kw)
        except httpx.HTTPError as err:
            raise ApiError(f"cannot reach the API: {err}") from err
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            if isinstance(detail, list):  # 422: pydantic's list of problems
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail
                )
            raise ApiError(f"{response.status_code}: {detail}")
        return response

    def json(self, method: str, path: str, **kw: Any) -> Any:
        return self.call(method, path, **kw).json()


def _when(ns: int | None) -> str:
    if not ns:
        return "-"
    return dt.datetime.fromtimestamp(ns / NS, dt.UTC).strftime("%Y-%m-%d %H:%M")


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def _incident_rows(items: list[dict[str, Any]]) -> str:
    return table(
        [
            (
                i["id"],
                i["status"],
                i["severity"],
                i["site"] or "-",
                i["subject"],
                i["condition"],
                _when(i["opened_ns"]),
                i["summary"][:60],
            )
            for i in items
        ],
        ("ID", "STATUS", "SEVERITY", "SITE", "SUBJECT", "CONDITION", "OPENED", "SUMMARY"),
    )


def _show_incident(i: dict[str, Any], events: list[dict[str, Any]]) -> str:
    lines = [
        f"incident {i['id']}: {i['summary']}",
        f"  status {i['status']}  severity {i['severity']}  category {i['category']}"
        + ("  FLAPPING" if i["flapping"] else "")
        + ("  silenced" if i["silenced"] else ""),
        f"  {i['scope']} {i['subject']}  site {i['site'] or '-'}  condition {i['condition']}",
        f"  opened {_when(i['opened_ns'])}  acknowledged {_when(i['acknowledged_ns'])}"
        f"  resolved {_when(i['resolved_ns'])}  assignee {i['assignee'] or '-'}",
    ]
    if i["suppressed_by"]:
        lines.append(f"  explained by {i['suppressed_by']}")
    if i["affected"]:
        lines.append(f"  affected ({len(i['affected'])}): {', '.join(i['affected'])}")
    for a in i.get("articles", []):
        lines.append(f"\n  {a['title']} (kb {a['slug']}{', review due' if a['stale'] else ''})")
        lines += [f"    {n}. {step}" for n, step in enumerate(a["steps"], 1)]
    lines.append("\n  timeline:")
    lines += [
        f"    {_when(e['time_ns'])}  {e['kind']:<13} {e['actor'] or '-':<10} {e['text']}" for e in events
    ]
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
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
    top = p.add_subparsers(dest="area", required=True, metavar="COMMAND")

    inc = top.add_parser("incidents", help="list and act on incidents").add_subparsers(
        dest="action", required=True
    )
    ls = inc.add_parser("list", parents=[json_flag], help="the queue: open and acknowledged incidents")
    ls.add_argument("--status", action="append", choices=["open", "acknowledged", "resolved"])
    ls.add_argument("--all", action="store_true", help="resolved ones too")
    ls.add_argument(
        "--include-quiet", action="store_true", help="silenced ones and ones another incident explains too"
    )
    for name in ("site", "device", "agent-id", "category", "severity"):
        ls.add_argument(f"--{name}", default="")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--offset", type=int, default=0)
    for action in ("show", "ack"):
        inc.add_parser(action, parents=[json_flag]).add_argument("id", type=int)
    res = inc.add_parser("resolve", parents=[json_flag])
    res.add_argument("id", type=int)
    res.add_argument("text", nargs="?", default="")
    com = inc.add_parser("comment", parents=[json_flag])
    com.add_argument("id", type=int)
    com.add_argument("text")
    asg = inc.add_parser("assign", parents=[json_flag])
    asg.add_argument("id", type=int)
    asg.add_argument("assignee")

    ag = top.add_parser("agents", help="agents and their presence").add_subparsers(
        dest="action", required=True
    )
    ag.add_parser("list", parents=[json_flag]).add_argument("--site", default="")
    ag.add_parser("show", parents=[json_flag]).add_argument("id")

    si = top.add_parser("silence", help="silences and maintenance windows").add_subparsers(
        dest="action", required=True
    )
    add = si.add_parser("add", parents=[json_flag])
    for name in ("site", "device", "agent-id", "condition"):
        add.add_argument(f"--{name}", default="")
    add.add_argument("--minutes", type=int, required=True, help="how long from now")
    add.add_argument(
        "--maintenance", action="store_true", help="open no incidents at all (default: open quietly)"
    )
    add.add_argument("--reason", default="")
    si.add_parser("list", parents=[json_flag])
    si.add_parser("remove", parents=[json_flag]).add_argument("id", type=int)

    kb = top.add_parser("kb", help="knowledge base").add_subparsers(dest="action", required=True)
    kb.add_parser("list", parents=[json_flag]).add_argument("--condition", default="")
    kb.add_parser("show", parents=[json_flag]).add_argument("slug")

    who = top.add_parser(
        "whois",
        parents=[json_flag],
        help="the caller's PC, incidents and history, by user, PC, IP, MAC or serial",
        description="QUERY is a user, PC name, IP, MAC or serial; KEY:VALUE looks in one key only "
        "(agent, host, user, ip, mac, serial, device). agent:ID always finds exactly one PC.",
    )
    who.add_argument("query")

    rep = top.add_parser("report", parents=[json_flag], help="management report")
    rep.add_argument("--since", default="30d")
    rep.add_argument("--format", choices=["html", "json", "csv"], default="json")
    rep.add_argument("--output", "-o", default="", help="write to this file instead of stdout")

    diag_cli.add_arguments(top, json_flag)  # deskwatch diag AGENT CHECK|--triage
    from dashboards import cli as dashboards_cli  # argparse only: the SDK loads when it runs

    dashboards_cli.add_arguments(
        top.add_parser("dashboards", help="export the Grafana dashboards, or push them to a Grafana")
    )
    return p


def run(args: argparse.Namespace, client: Client) -> str:
    """Do what `args` ask and return what to print."""
    area, action = args.area, getattr(args, "action", "")
    if area == "incidents":
        if action == "list":
            statuses = args.status or ([] if args.all else ["open", "acknowledged"])
            params: dict[str, Any] = {"status": statuses, "limit": args.limit, "offset": args.offset}
            if not args.include_quiet:
                params["quiet"] = "false"
            for name in ("site", "device", "agent_id", "category", "severity"):
                if getattr(args, name):
                    params[name] = getattr(args, name)
            page = client.json("GET", "/incidents", params=params)
            if args.json:
                return json.dumps(page, indent=2)
            return _incident_rows(page["items"]) + f"\n{len(page['items'])} of {page['total']}"
        if action == "show":
            incident = client.json("GET", f"/incidents/{args.id}")
            events = client.json("GET", f"/incidents/{args.id}/timeline")
            if args.json:
                return json.dumps({**incident, "timeline": events}, indent=2)
            return _show_incident(incident, events)
        if action == "ack":
            done = client.json("POST", f"/incidents/{args.id}/ack")
            said = "acknowledged"
        elif action == "resolve":
            done = client.json("POST", f"/incidents/{args.id}/resolve", json={"text": args.text})
            said = "resolved"
        elif action == "comment":
            done = client.json("POST", f"/incidents/{args.id}/comments", json={"text": args.text})
            said = f"comment added ({done['status']})"
        else:
            done = client.json("POST", f"/incidents/{args.id}/assign", json={"assignee": args.assignee})
            said = f"assigned to {done['assignee']} ({done['status']})"
        return json.dumps(done, indent=2) if args.json else f"incident {done['id']}: {said}"
    if area == "agents":
        if action == "list":
            agents = client.json("GET", "/agents", params={"site": args.site} if args.site else {})
            if args.json:
                return json.dumps(agents, indent=2)
            return table(
                [
                    (
                        a["agent_id"],
                        a["site"],
                        a["status"] + (f" ({a['away']})" if a.get("away") else ""),
                        _when(a["last_seen_ns"]),
                        a["host"],
                        a["version"],
                    )
                    for a in agents
                ],
                ("AGENT", "SITE", "STATUS", "LAST SEEN", "HOST", "VERSION"),
            )
        agent = client.json("GET", f"/agents/{args.id}")
        if args.json:
            return json.dumps(agent, indent=2)
        away = f" ({agent['away']})" if agent.get("away") else ""
        head = (
            f"{agent['agent_id']}  site {agent['site']}  {agent['status']}{away}"
            f" since {_when(agent['since_ns'])}, last seen {_when(agent['last_seen_ns'])}"
        )
        return (
            head
            + "\n"
            + (_incident_rows(agent["open_incidents"]) if agent["open_incidents"] else "no open incidents")
        )
    if area == "silence":
        if action == "add":
            body = {
                "kind": "maintenance" if args.maintenance else "silence",
                "site": args.site,
                "device": args.device,
                "agent_id": args.agent_id,
                "condition": args.condition,
                "duration_minutes": args.minutes,
                "reason": args.reason,
            }
            made = client.json("POST", "/silences", json=body)
            return (
                json.dumps(made, indent=2)
                if args.json
                else f"{made['kind']} {made['id']} until {_when(made['ends_ns'])}"
            )
        if action == "remove":
            client.call("DELETE", f"/silences/{args.id}")
            return f"silence {args.id} removed"
        found = client.json("GET", "/silences")
        if args.json:
            return json.dumps(found, indent=2)
        return table(
            [
                (
                    s["id"],
                    s["kind"],
                    s["site"] or "*",
                    s["device"] or "*",
                    s["agent_id"] or "*",
                    s["condition"] or "*",
                    _when(s["starts_ns"]),
                    _when(s["ends_ns"]),
                    s["reason"],
                )
                for s in found
            ],
            ("ID", "KIND", "SITE", "DEVICE", "AGENT", "CONDITION", "STARTS", "ENDS", "REASON"),
        )
    if area == "kb":
        if action == "list":
            articles = client.json(
                "GET", "/kb", params={"condition": args.condition} if args.condition else {}
            )
            if args.json:
                return json.dumps(articles, indent=2)
            return table(
                [
                    (
                        a["slug"],
                        a["title"],
                        str(a["last_reviewed"]) + (" (review due)" if a["stale"] else ""),
                        ", ".join(a["conditions"]),
                    )
                    for a in articles
                ],
                ("SLUG", "TITLE", "REVIEWED", "CONDITIONS"),
            )
        article = client.json("GET", f"/kb/{args.slug}")
        return json.dumps(article, indent=2) if args.json else f"# {article['title']}\n\n{article['body']}"
    if area == "whois":
        from collector.inventory import whois

        answer = client.json("GET", "/lookup", params={"q": args.query})
        return json.dumps(answer, indent=2) if args.json else whois.render(answer)
    response = client.call("GET", "/reports", params={"since": args.since, "format": args.format})
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(response.text)
        return f"report written to {args.output}"
    return response.text


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `deskwatch`."""
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.area == "dashboards":  # works on files and Grafana, not on the collector's API
        from dashboards import cli as dashboards_cli

        return dashboards_cli.run(args)
    client = Client(args.api, args.token)
    try:
        if args.area == "diag":  # its exit status says what the check found
            text, code = diag_cli.run(args, client)
            print(text)
            return code
        print(run(args, client))
    except ApiError as err:
        print(f"deskwatch: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # a bad --param: a usage error
        print(f"deskwatch: {err}", file=sys.stderr)
        return 2
    finally:
        client.http.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
