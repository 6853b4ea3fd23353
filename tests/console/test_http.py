"""The console over HTTP against a running office: sign-in, CSRF, roles on every page and action,
every page with real data, checks streamed from a real agent, and tokens still working for scripts."""

from __future__ import annotations

import re
import time

import httpx
import psutil
import pytest

from agent.protocol import NS
from collector.console.render import duration, when
from collector.db import make_engine
from collector.inventory.store import InventoryStore
from tests.console.conftest import (
    GRAFANA,
    KERNEL,
    OS_NAME,
    OS_VERSION,
    PACKAGES,
    PASSWORDS,
    SUPPLY,
    ConsoleOffice,
    collector_cli,
    csrf_of,
)
from tests.incidents.office import SHARP
from tests.inventory.fake_tree import write_packages
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
NAMES = ("ada", "hal", "vic")


def pages(o: ConsoleOffice) -> dict[str, list[str]]:
    """Every page and what it must show of the running office."""
    ticket = o.run.open_tickets()[SUPPLY]["id"]
    return {
        "/": ["Black Toner at 2 %", "paper jam", SHARP],
        "/?severity=critical": ["disk"],
        "/?quiet=true&status=open": ["Black Toner at 2 %"],
        f"/tickets/{ticket}": ["Black Toner at 2 %", "Timeline", "opened", "pc-a", "What to do"],
        "/pc/pc-a": [
            "pc-a",
            "CPU",
            "Memory",
            SHARP,
            "Black Toner",
            "gateway_reachable",
        ],
        "/devices": [SHARP, "answers", "Black Toner"],
        f"/devices/{SHARP}": [SHARP, "Seen by", "pc-a", "pc-b", "Black Toner"],
        "/agents": ["pc-a", "pc-b", "online"],
        "/silences": ["Silences"],
        "/reports?since=7d": ["Management report", "Recurring problems"],
        "/search?q=pc-": ["pc-a", "pc-b", "2 PCs match"],
    }


def test_login_form_cookie_flags_and_wrong_passwords(console_office: ConsoleOffice) -> None:
    with httpx.Client(base_url=console_office.url, timeout=30) as client:
        form = client.get("/login")
        assert form.status_code == 200
        for field in ('name="username"', 'name="password"', 'name="csrf"'):
            assert field in form.text
        token = csrf_of(form.text)
        wrong = client.post("/login", data={"username": "hal", "password": "nope-nope-nope", "csrf": token})
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        forged = httpx.post(
            f"{console_office.url}/login", data={"username": "hal", "password": PASSWORDS["hal"], "csrf": "x"}
        )
        assert forged.status_code == 403 and "dw_session" not in forged.headers.get("set-cookie", "")
        ok = client.post("/login", data={"username": "hal", "password": PASSWORDS["hal"], "csrf": token})
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("dw_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure
        assert client.get("/").status_code == 200


def test_every_page_needs_a_session(console_office: ConsoleOffice) -> None:
    with httpx.Client(base_url=console_office.url, timeout=30) as anonymous:
        for path in pages(console_office):
            response = anonymous.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
        ticket = console_office.ghost_tickets["SN-GONE-1"]
        for path in (f"/tickets/{ticket}/ack", "/silences", "/pc/pc-a/checks", "/logout"):
            assert anonymous.post(path, data={"csrf": "x"}).status_code == 303, path
        assert anonymous.get("/search/suggest?q=pc").status_code == 303
        assert anonymous.get("/users").status_code == 303
        # a live part asked by the page's script answers 401, so the script reloads to the login
        assert anonymous.get("/", headers={"X-Console-Fragment": "1"}).status_code == 401


@pytest.mark.parametrize("name", NAMES)
def test_every_page_renders_with_real_data_for_each_role(console_office: ConsoleOffice, name: str) -> None:
    with console_office.login(name) as client:
        for path, wanted in pages(console_office).items():
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[-500:])
            for text in wanted:
                assert text in response.text, (path, text)
            assert "default-src 'self'" in response.headers["content-security-policy"]
        users = client.get("/users")
        assert users.status_code == (200 if name == "ada" else 403)
        assert (
            ("hal" in users.text and "helpdesk" in users.text)
            if name == "ada"
            else "admin role" in users.text
        )
        queue = client.get("/").text
        # the actions are offered to those who may act, and only to them
        assert ('action="/tickets/' in queue) == (name != "vic")
        assert ("Run checks" in client.get("/pc/pc-a").text) == (name != "vic")


def _section(page: str, heading_id: str) -> str:
    """The <section> of a page that its <h2 id=...> heads."""
    found = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', page, re.S)
    assert found, f"no section {heading_id}"
    return found.group(1)


def test_the_callers_page_shows_the_pcs_own_inventory_and_its_software_changes(
    console_office: ConsoleOffice,
) -> None:
    """pc-a's OS, uptime and MAC addresses on its page are what its agent reported, and software
    installed and removed on it shows among its recent inventory changes."""
    engine = make_engine(console_office.db_url)
    inventories = InventoryStore(engine)
    try:
        first = wait_until(
            lambda: inventories.latest("pc-a"), timeout=30, interval=0.3, what="pc-a's first inventory"
        )
        assert first is not None and {p.name for p in first.inventory.software} == set(PACKAGES)
        # the user updates: the office suite goes, a new tool comes; the agent reads it within a second
        write_packages(
            console_office.packages, {"zz-kept": "1.0", "zz-new-tool": "2.0"}, ("zz-office-suite",)
        )
        with console_office.login("vic") as client:

            def changes() -> str | None:
                section = _section(client.get("/pc/pc-a").text, "inv-h")
                return section if "zz-new-tool" in section and "zz-office-suite" in section else None

            section = wait_until(
                changes, timeout=30, interval=0.5, what="pc-a's software changes on its page"
            )
            assert section is not None and "No changes recorded" not in section
            rows = re.findall(r"<tr><td>[^<]*</td><td>(\w+)</td><td>([^<]+)</td>", section)
            assert ("installed", "zz-new-tool") in rows and ("removed", "zz-office-suite") in rows
            assert all(subject != "zz-kept" for _, subject in rows)  # unchanged: not a change
            other = _section(client.get("/pc/pc-b").text, "inv-h")
            assert "zz-new-tool" not in other  # on pc-a only

            before = time.time_ns()
            page = client.get("/pc/pc-a").text
            after = time.time_ns()
    finally:
        engine.dispose()
    # the OS of pc-a's recorded tree, not this machine's (whose agents and collector run here)
    os_shown = re.search(r"<dt>OS</dt><dd>(.*?)</dd>", page)
    assert os_shown and os_shown.group(1).startswith(f"{OS_NAME} {OS_VERSION} "), os_shown
    assert f"kernel {KERNEL}" in os_shown.group(1)
    # uptime from the boot time the agent reports (this machine's: the agent runs here)
    boot_ns = int(psutil.boot_time() * NS)
    uptime = re.search(r"<dt>Uptime</dt><dd>(.*?) \(booted (.*?)\)</dd>", page)
    assert uptime, "no uptime on the page"
    assert uptime.group(2) == when(boot_ns)
    assert uptime.group(1) in {duration((t - boot_ns) / NS) for t in range(before - NS, after + NS, NS // 2)}
    # the MAC of each of this machine's interfaces with an address, as the agent read them
    macs = {
        name: a.address
        for name, addresses in psutil.net_if_addrs().items()
        for a in addresses
        if a.family == psutil.AF_LINK and name != "lo" and a.address and a.address != "00:00:00:00:00:00"
    }
    assert macs, "this machine has no interface with a MAC address"
    for name, mac in macs.items():
        assert f"<dt>{name}</dt>" in page and f"MAC <code>{mac}</code>" in page, (name, mac)


def test_pc_and_device_pages_link_to_their_grafana_dashboards(console_office: ConsoleOffice) -> None:
    """[console] grafana_url: the PC page opens the PC dashboard for that PC and site, a printer's
    page and its ticket the printers dashboard for that printer (collector/console/web.py)."""
    pc_dashboard = f"{GRAFANA}/d/deskwatch-pc/?var-agent=pc-a&amp;var-site=office"
    printer_dashboard = f"{GRAFANA}/d/deskwatch-printers/?var-device={SHARP}"
    ticket = console_office.run.open_tickets()[SUPPLY]["id"]
    with console_office.login("vic") as client:
        pc = client.get("/pc/pc-a").text
        assert f'<a href="{pc_dashboard}">Grafana dashboard</a>' in pc
        assert f'<a href="{printer_dashboard}"><small>Grafana</small></a>' in pc  # the printer it sees
        assert f"{GRAFANA}/d/deskwatch-pc/?var-agent=pc-b&amp;var-site=office" in client.get("/pc/pc-b").text
        device = client.get(f"/devices/{SHARP}").text
        assert f'<a href="{printer_dashboard}">Grafana dashboard</a>' in device
        assert f'<a href="{printer_dashboard}">Grafana</a>' in client.get(f"/tickets/{ticket}").text


def test_queue_order_counts_filters_and_the_quiet_toggle(console_office: ConsoleOffice) -> None:
    with console_office.login("vic") as client:
        queue = client.get("/").text
        ids = [int(i) for i in re.findall(r'<tr id="ticket-(\d+)"', queue)]
        tickets = {t["id"]: t for t in console_office.run.open_tickets().values()}
        rank = {"critical": 0, "warning": 1, "info": 2}
        ordered = sorted(ids, key=lambda i: (rank[tickets[i]["severity"]], tickets[i]["opened_ns"], i))
        assert ids == ordered and set(ids) == set(tickets)
        assert f'data-count="total">{len(tickets)}<' in queue
        critical = client.get("/?severity=critical").text
        assert "Black Toner" not in critical and "paper jam" in critical
        assert "Black Toner" not in client.get("/?site=nowhere&category=supply").text
        fragment = client.get("/", headers={"X-Console-Fragment": "1"})
        assert fragment.status_code == 200 and "<html" not in fragment.text and "ticket-" in fragment.text


def test_viewer_may_not_act_and_every_action_needs_the_csrf_token(console_office: ConsoleOffice) -> None:
    ticket = console_office.ghost_tickets["SN-GONE-1"]
    actions = {
        f"/tickets/{ticket}/ack": {},
        f"/tickets/{ticket}/assign": {"assignee": "hal"},
        f"/tickets/{ticket}/comment": {"text": "hello"},
        f"/tickets/{ticket}/resolve": {"text": "done"},
        "/silences": {"site": "office", "minutes": "5"},
        "/silences/1/remove": {},
        "/pc/pc-a/checks": {},
    }
    with console_office.login("vic") as viewer:
        csrf = csrf_of(viewer.get("/").text)
        for path, data in actions.items():
            assert viewer.post(path, data={**data, "csrf": csrf}).status_code == 403, path
    with console_office.login("hal") as helpdesk:
        for path, data in actions.items():
            refused = helpdesk.post(path, data={**data, "csrf": "forged"})
            assert refused.status_code == 403 and "out of date" in refused.text, path
            assert helpdesk.post(path, data=data).status_code == 403, path
    with console_office.run.api as api:
        timeline = api.get(f"/incidents/{ticket}/timeline").json()
    assert [e["kind"] for e in timeline] == ["opened"]  # nothing of it happened


def test_helpdesk_acts_on_a_ticket_under_their_name(console_office: ConsoleOffice) -> None:
    ticket = console_office.ghost_tickets["SN-GONE-1"]
    with console_office.login("hal") as client:
        csrf = csrf_of(client.get(f"/tickets/{ticket}").text)
        for path, data in (
            ("ack", {}),
            ("assign", {"assignee": "ada"}),
            ("comment", {"text": "called the user, jam in tray 2"}),
            ("resolve", {"text": "cleared the jam"}),
        ):
            done = client.post(f"/tickets/{ticket}/{path}", data={**data, "csrf": csrf})
            assert done.status_code == 303 and done.headers["location"] == f"/tickets/{ticket}", path
        again = client.post(f"/tickets/{ticket}/ack", data={"csrf": csrf})
        assert again.status_code == 409 and "already resolved" in again.text
        page = client.get(f"/tickets/{ticket}").text
        assert "cleared the jam" in page and "resolved by hal" in page
    with console_office.run.api as api:
        incident = api.get(f"/incidents/{ticket}").json()
        events = [(e["kind"], e["actor"]) for e in api.get(f"/incidents/{ticket}/timeline").json()]
    assert incident["status"] == "resolved" and incident["resolved_by"] == "hal"
    assert incident["acknowledged_by"] == "hal" and incident["assignee"] == "ada"
    assert events[1:] == [
        ("acknowledged", "hal"),
        ("assigned", "hal"),
        ("comment", "hal"),
        ("resolved", "hal"),
    ]


def test_silences_are_listed_added_and_removed(console_office: ConsoleOffice) -> None:
    with console_office.login("hal") as client:
        csrf = csrf_of(client.get("/silences").text)
        bad = client.post("/silences", data={"minutes": "5", "csrf": csrf})
        assert bad.status_code == 422 and "at least one of" in bad.text
        added = client.post(
            "/silences", data={"device": "SN-NOWHERE", "minutes": "30", "reason": "moving it", "csrf": csrf}
        )
        assert added.status_code == 303
        with console_office.run.api as api:
            silence = next(s for s in api.get("/silences").json() if s["device"] == "SN-NOWHERE")
        assert silence["created_by"] == "hal" and silence["reason"] == "moving it"
        assert "moving it" in client.get("/silences").text
        gone = client.post(f"/silences/{silence['id']}/remove", data={"csrf": csrf})
        assert gone.status_code == 303
        page = client.get("/silences").text
        active, _, removed = page.partition("Removed in the last")
        assert "moving it" not in active and f'action="/silences/{silence["id"]}/remove"' not in active
        row = re.search(rf'<tr id="removed-{silence["id"]}">.*?</tr>', removed, re.S)
        assert row and "moving it" in row.group(0) and " by hal</td>" in row.group(0)
        assert client.post(f"/silences/{silence['id']}/remove", data={"csrf": csrf}).status_code == 404
    with console_office.run.api as api:  # the removal is kept under hal's name, as the API keeps a token's
        kept = api.get(f"/silences/{silence['id']}").json()
        assert all(s["id"] != silence["id"] for s in api.get("/silences").json())
    assert kept["removed_by"] == "hal" and kept["removed_ns"] > 0 and kept["created_by"] == "hal"


def test_search_finds_the_caller_and_suggests_as_you_type(console_office: ConsoleOffice) -> None:
    with console_office.login("vic") as client:
        found = client.get("/search", params={"q": "pc-b"})
        assert found.status_code == 303 and found.headers["location"] == "/pc/pc-b"
        device = client.get("/search", params={"q": SHARP})
        assert device.status_code == 303 and device.headers["location"] == f"/devices/{SHARP}"
        suggestions = client.get("/search/suggest", params={"q": "pc-"}).json()
        assert {s["selector"] for s in suggestions} >= {"agent:pc-a", "agent:pc-b"}
        assert all(s["url"] == "/pc/" + s["selector"][6:] for s in suggestions)
        assert client.get("/search", params={"q": "nobody-here"}).status_code == 200
        missing = client.get("/pc/no-such-pc")
        assert missing.status_code == 404 and "no PC no-such-pc" in missing.text and "<html" in missing.text
        assert client.get("/tickets/999999").status_code == 404


def test_checks_stream_from_the_agent_and_the_triage_lands_on_the_ticket(
    console_office: ConsoleOffice,
) -> None:
    ticket = console_office.ghost_tickets["SN-GONE-2"]
    with console_office.login("hal") as client:
        csrf = csrf_of(client.get("/pc/pc-a").text)
        arrived = []
        with client.stream(
            "POST",
            "/pc/pc-a/checks",
            data={"csrf": csrf, "incident_id": str(ticket)},
            headers={"X-Console-Fragment": "1"},
            timeout=60,
        ) as response:
            assert response.status_code == 200
            for chunk in response.iter_text():
                arrived += re.findall(r'data-check="(\w+)" data-status="(\w+)"', chunk)
        checks = dict(arrived)
        assert set(checks) == {"disk", "memory", "top_processes", "print_queue", "network_config", "triage"}
        assert checks["memory"] in ("ok", "problem") and checks["triage"] in ("ok", "problem")
        assert arrived[0][0] == "disk"  # the quick ones first, the triage when it is done
        whole = client.post("/pc/pc-a/checks", data={"csrf": csrf}, timeout=60)  # without JavaScript
        assert whole.status_code == 200 and whole.text.startswith("<!doctype html>")
        assert "All checks done" in whole.text and whole.text.rstrip().endswith("</html>")
    with console_office.run.api as api:
        timeline = api.get(f"/incidents/{ticket}/timeline").json()
    attached = [e for e in timeline if e["kind"] == "comment" and "diagnostic triage on pc-a" in e["text"]]
    assert attached and attached[0]["actor"] == "hal"
    audit = httpx.get(
        f"{console_office.url}/api/v1/diagnostics",
        params={"agent_id": "pc-a"},
        headers={"Authorization": f"Bearer {console_office.run.token}"},
    ).json()
    assert {e["check"] for e in audit if e["actor"] == "hal"} >= {"disk", "triage"}


def test_checks_on_a_pc_that_is_not_there_are_refused_once(console_office: ConsoleOffice) -> None:
    with console_office.login("hal") as client:
        csrf = csrf_of(client.get("/").text)
        answer = client.post("/pc/pc-never/checks", data={"csrf": csrf}, headers={"X-Console-Fragment": "1"})
        assert answer.text.count('data-status="refused"') == 1 and "has ever reported" in answer.text


def test_api_tokens_keep_working_for_scripts(console_office: ConsoleOffice) -> None:
    headers = {"Authorization": f"Bearer {console_office.api_token}"}
    answer = httpx.get(f"{console_office.url}/api/v1/incidents", params={"quiet": "false"}, headers=headers)
    assert answer.status_code == 200 and answer.json()["total"] >= 3
    # and a console session is no API credential
    with console_office.login("ada") as client:
        assert client.get("/api/v1/incidents").status_code == 401


def test_logout_and_password_change_end_sessions_and_users_are_managed(console_office: ConsoleOffice) -> None:
    db = console_office.db_url
    made = collector_cli(
        "user", "add", "tmp-user", "--role", "viewer", "--db", db, stdin="first-password-1\n"
    )
    assert made.returncode == 0, made.stderr
    short = collector_cli("user", "add", "tmp-short", "--role", "viewer", "--db", db, stdin="short\n")
    assert short.returncode == 1 and "at least 10" in short.stderr
    listed = collector_cli("user", "list", "--db", db).stdout
    assert "tmp-user\tviewer" in listed and "hal\thelpdesk" in listed and "password" not in listed
    with console_office.login("tmp-user", "first-password-1") as client:
        csrf = csrf_of(client.get("/").text)
        assert client.post("/logout", data={"csrf": csrf}).status_code == 303
        assert client.get("/").status_code == 303  # the cookie is worth nothing now
    with console_office.login("tmp-user", "first-password-1") as client:
        changed = collector_cli("user", "passwd", "tmp-user", "--db", db, stdin="second-password-2\n")
        assert changed.returncode == 0
        assert client.get("/").status_code == 303
    with console_office.login("tmp-user", "second-password-2") as client:
        assert collector_cli("user", "remove", "tmp-user", "--db", db).returncode == 0
        assert client.get("/").status_code == 303
    assert collector_cli("user", "remove", "tmp-user", "--db", db).returncode == 1


def test_failed_logins_are_rate_limited(console_office: ConsoleOffice) -> None:
    with httpx.Client(base_url=console_office.url, timeout=30) as client:
        csrf = csrf_of(client.get("/login").text)
        codes = [
            client.post(
                "/login", data={"username": "mallory", "password": f"guess-{n}", "csrf": csrf}
            ).status_code
            for n in range(6)
        ]
        assert codes == [401] * 5 + [429]
        limited = client.post("/login", data={"username": "mallory", "password": "guess", "csrf": csrf})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        # another user from the same address is not locked out by mallory's guesses
        ok = client.post("/login", data={"username": "vic", "password": PASSWORDS["vic"], "csrf": csrf})
        assert ok.status_code == 303
