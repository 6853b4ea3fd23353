"""An ordinary office day, and the exact queue a helpdesk sees: nothing more, nothing less.

Real agent processes poll real walks served by snmpsim and report through a real broker to
a real collector; the queue is read back through its API (tests/incidents/office.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.helpdesk import whois
from tests.incidents.office import (
    BLACK,
    CYCLE,
    FULL_DISKS,
    MOUNTS,
    RULES,
    SHARP,
    SILENT_GATEWAY,
    SimulatedPc,
    office,
    sharp,
)
from tests.incidents.test_notify import SECRET, Receiver
from tests.support.services import free_port

pytestmark = pytest.mark.slow

SUPPLY = f"device/{SHARP}/supply_low/{BLACK}"
UNREACHABLE = f"device/{SHARP}/snmp_reachable"
SITE_GATEWAY = "site/office/gateway_reachable"


def disk(agent_id: str) -> str:
    return f"agent/{agent_id}/disk_full/{MOUNTS[0]}"


@contextlib.contextmanager
def helpdesk_endpoint() -> Iterator[tuple[Receiver, str, dict[str, str]]]:
    """A helpdesk system's webhook receiver, the collector config that sends to it, and its env."""
    receiver = Receiver(free_port())
    receiver.start()
    hook = (
        f'[incidents.webhooks.helpdesk]\nurl = "http://127.0.0.1:{receiver.port}/hook"\n'
        'secret_env = "OFFICE_WEBHOOK_SECRET"\n'
    )
    try:
        yield receiver, f"notify_interval_seconds = 0.2\n{hook}", {"OFFICE_WEBHOOK_SECRET": SECRET.decode()}
    finally:
        receiver.stop()


def notices(receiver: Receiver) -> list[tuple[str, int]]:
    return [(event, doc["incident"]["id"]) for event, doc, _ in receiver.received]


def test_router_without_snmp_low_toner_without_alert_and_two_full_disks(tmp_path: Path) -> None:
    with office(tmp_path, RULES + FULL_DISKS) as run:
        run.printer("sharp", sharp(black=2))  # 2 % black, and the printer says nothing of it
        for pc in ("pc-a", "pc-b"):
            run.agent(pc, printers=("sharp",), discover_gateway=True)
        tickets = run.wait_for_tickets({SUPPLY, disk("pc-a"), disk("pc-b")})
        assert tickets[SUPPLY]["summary"] == "Black Toner at 2 %"
        assert tickets[SUPPLY]["category"] == "supply" and tickets[SUPPLY]["severity"] == "warning"
        assert {tickets[disk(pc)]["agent_id"] for pc in ("pc-a", "pc-b")} == {"pc-a", "pc-b"}
        with run.api as api:
            devices = {d["device"]: d for d in api.get("/devices").json()}
            # the router is known, and known to be unmonitored; no PC's disk is a device
            assert set(devices) == {SHARP, SILENT_GATEWAY}
            assert devices[SILENT_GATEWAY]["monitoring"] == "not monitored by SNMP"
            assert devices[SHARP]["monitoring"] == "answers"
            answer = api.get("/lookup", params={"q": "agent:pc-a"}).json()
            pc = answer["pc"]
            assert {d["device"] for d in pc["devices"]} == {SHARP, SILENT_GATEWAY}
            # and `deskwatch whois` says so on the router's line
            (router,) = [line for line in whois.render(answer).splitlines() if SILENT_GATEWAY in line]
            assert "not monitored by SNMP" in router
            printer = api.get("/lookup", params={"q": SHARP}).json()
            assert printer["result"] == "device"
            assert {p["selector"] for p in printer["device"]["seen_by"]} == {"agent:pc-a", "agent:pc-b"}


def test_a_printer_that_answered_and_goes_silent_is_one_ticket_until_it_answers(tmp_path: Path) -> None:
    with office(tmp_path) as run:
        run.printer("sharp", sharp())
        for pc in ("pc-a", "pc-b"):
            run.agent(pc, printers=("sharp",))
        run.wait("both PCs polled the printer", lambda: _polled_by(run, 2))
        run.wait_for_tickets(set())
        port = run.silence_printer("sharp")  # switched off
        tickets = run.wait_for_tickets({UNREACHABLE})
        assert tickets[UNREACHABLE]["severity"] == "critical"
        run.printer("sharp", sharp(), port=port)  # back on, same address
        run.wait_for_tickets(set())
        # the operator reads both in the collector's log, one line each
        number = tickets[UNREACHABLE]["id"]
        log = run.collector.log()
        assert f"incident {number} opened: {UNREACHABLE}: " in log
        assert f"incident {number} resolved: {UNREACHABLE}: " in log


def test_a_real_gateway_outage_hides_the_printer_and_gives_it_back(tmp_path: Path) -> None:
    with (
        helpdesk_endpoint() as (receiver, extra, env),
        office(tmp_path, collector_extra=extra, env=env) as run,
    ):
        run.printer("sharp", sharp(black=2))
        for pc in ("pc-a", "pc-b"):
            run.agent(pc, printers=("sharp",))
        supply = run.wait_for_tickets({SUPPLY})[SUPPLY]
        run.gateway.down()  # the site's way out dies: the agents' own checks confirm it
        tickets = run.wait_for_tickets({SITE_GATEWAY}, hidden=None)  # what is hidden: asserted below
        assert set(tickets[SITE_GATEWAY]["affected"]) == {"pc-a", "pc-b"}
        hidden = run.open_tickets(queue=False)
        assert hidden[SUPPLY]["suppressed_by"] == SITE_GATEWAY  # still open, out of the queue
        assert set(hidden) <= {SITE_GATEWAY, SUPPLY, "site/office/internet_reachable"}
        run.gateway.up()  # back: the printer, still low, is back in the queue
        tickets = run.wait_for_tickets({SUPPLY})
        assert tickets[SUPPLY]["id"] == supply["id"] and tickets[SUPPLY]["suppressed_by"] == ""
        assert set(run.open_tickets(queue=False)) == {SUPPLY}
        with run.api as api:
            kinds = [e["kind"] for e in api.get(f"/incidents/{supply['id']}/timeline").json()]
        assert [k for k in kinds if k != "notified"] == ["opened", "suppressed", "unsuppressed"]
        # the helpdesk system heard of it when it opened and again when it came back
        run.wait(
            "an 'updated' notice for the printer back in the queue",
            lambda: (
                [n for n in notices(receiver) if n[1] == supply["id"]]
                == [("opened", supply["id"]), ("updated", supply["id"])]
            ),
        )


def test_a_problem_resolved_by_hand_while_still_there_comes_back(tmp_path: Path) -> None:
    with office(tmp_path) as run:
        run.printer("sharp", sharp(black=2))
        run.agent("pc-a", printers=("sharp",))
        ticket = run.wait_for_tickets({SUPPLY})[SUPPLY]
        with run.api as api:
            done = api.post(f"/incidents/{ticket['id']}/resolve", json={"text": "replaced the toner"})
            assert done.json()["status"] == "resolved"
        # nobody replaced it: the next poll still says 2 %, and the same ticket is back
        again = run.wait_for_tickets({SUPPLY})[SUPPLY]
        assert again["id"] == ticket["id"] and again["reopen_count"] == 1
        with run.api as api:
            timeline = api.get(f"/incidents/{ticket['id']}/timeline").json()
        reopened = [e for e in timeline if e["kind"] == "reopened"]
        assert len(reopened) == 1 and reopened[0]["text"].startswith("still reported after helpdesk")
        # at the next cycle (0.5 s here), from the reading it already holds: not after a new
        # poll, a clear period or the reopen window (a margin of three more cycles for load)
        (resolved,) = [e for e in timeline if e["kind"] == "resolved"]
        assert 0 < reopened[0]["time_ns"] - resolved["time_ns"] <= 4 * CYCLE * 1e9
        log = run.collector.log()
        assert f"incident {ticket['id']} opened: {SUPPLY}: Black Toner at 2 %" in log
        assert f"incident {ticket['id']} reopened: {SUPPLY}: Black Toner at 2 %" in log


def test_maintenance_and_silence_keep_the_queue_and_the_receivers_quiet_until_they_end(
    tmp_path: Path,
) -> None:
    with helpdesk_endpoint() as (receiver, extra, env):

        def events() -> list[tuple[str, int]]:
            return notices(receiver)

        with office(tmp_path, collector_extra=extra, env=env) as run:
            with run.api as api:
                window = api.post(
                    "/silences",
                    json={
                        "kind": "maintenance",
                        "device": SHARP,
                        "duration_minutes": 1,
                        "reason": "toner swap",
                    },
                )
                assert window.status_code == 201, window.text
            run.printer("sharp", sharp(black=2))
            run.agent("pc-a", printers=("sharp",))
            run.wait("the printer was polled", lambda: _polled_by(run, 1))
            # within the window nothing opens, not even out of the queue
            run.wait_for_tickets(set(), settle=5)
            assert events() == []
            ends_ns = window.json()["ends_ns"]
            # the window runs out by itself: one ticket, one notice
            ticket = run.wait_for_tickets({SUPPLY}, timeout=90)[SUPPLY]
            assert ticket["opened_ns"] >= ends_ns
            run.wait("one 'opened' notice", lambda: events() == [("opened", ticket["id"])])
            time.sleep(2)  # a fixed time, in which no second notice may come
            assert events() == [("opened", ticket["id"])]


def test_laptops_that_go_home_are_no_tickets_and_a_desktop_that_vanishes_is_one(tmp_path: Path) -> None:
    hours = """
[agent_lost.sites.office]
working_hours = "always"
[agent_lost.sites.night]
working_hours = "never"
"""
    with office(tmp_path, RULES + hours) as run:
        laptops = [SimulatedPc(run.broker, f"laptop-{n:02}", "office", battery=True) for n in range(30)]
        run.laptops += laptops
        # a desktop at a site whose working day is over: switched off at the button, no ticket either
        late = SimulatedPc(run.broker, "desk-night", "night", battery=False)
        run.laptops.append(late)
        # a server at that site, marked always-on in its agent.toml: away at any hour is a ticket
        server = SimulatedPc(run.broker, "server-night", "night", battery=False, always_on=True)
        run.laptops.append(server)
        desktop = run.agent("desk-1")  # a real agent on a desktop (no battery here), mid-morning
        run.wait("every PC came online", lambda: len(_agents(run, "online")) == 33)
        for pc in [*laptops, late, server]:  # the end of the day: lids closed, no goodbye
            pc.vanish()
        run.wait("the broker published 32 Last Wills", lambda: len(_agents(run, "lost")) == 32)
        run.wait_for_tickets({"agent/server-night/agent_lost"}, settle=3)
        desktop.kill()  # vanishes at a time it should be there
        tickets = run.wait_for_tickets({"agent/desk-1/agent_lost", "agent/server-night/agent_lost"})
        assert tickets["agent/desk-1/agent_lost"]["agent_id"] == "desk-1"
        with run.api as api:
            away = {a["agent_id"]: a["away"] for a in api.get("/agents").json()}
        assert away["laptop-00"] == "laptop away" and away["desk-night"] == "away outside working hours"
        assert away["desk-1"] == "" and away["server-night"] == ""


def _agents(run: object, status: str) -> list[str]:
    with run.api as api:  # type: ignore[attr-defined]
        return [a["agent_id"] for a in api.get("/agents").json() if a["status"] == status]


def _polled_by(run: object, count: int) -> bool:
    with run.api as api:  # type: ignore[attr-defined]
        devices = {d["device"]: d for d in api.get("/devices").json()}
    return SHARP in devices and len(devices[SHARP]["agents"]) >= count
