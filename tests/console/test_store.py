"""Users, sessions, the queue's order and counts, and search suggestions, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from agent.protocol import NS, AgentFacts, Hardware, Interface, Inventory, Network, Presence, Severity
from collector.auth import Role
from collector.auth.users import UserError, UserStore
from collector.console import queries
from collector.db import begin_write
from collector.incidents.model import IncidentFilter
from collector.incidents.silence_store import SilenceStore
from collector.incidents.store import IncidentStore
from collector.inventory import store as inventory_store
from tests.incidents.fleet import batch, engine_for, state

PASSWORD = "a-long-enough-password"


def test_users_are_kept_hashed_and_checked(store: sa.Engine) -> None:
    users = UserStore(store)
    maria = users.add("maria.k", Role.HELPDESK, PASSWORD, 1)
    assert users.verify("maria.k", PASSWORD) == maria
    assert users.verify("maria.k", PASSWORD + "x") is None
    assert users.verify("nobody", PASSWORD) is None
    with store.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM console_users")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    for name, password, message in (
        ("maria.k", PASSWORD, "exists already"),
        ("bad name", PASSWORD, "letters, digits"),
        ("-dash", PASSWORD, "letters, digits"),
        ("ok", "short", "at least 10"),
    ):
        with pytest.raises(UserError, match=message):
            users.add(name, Role.VIEWER, password, 1)
    assert [u.name for u in users.list()] == ["maria.k"]


def test_sessions_expire_and_end_with_the_password_or_the_user(store: sa.Engine) -> None:
    users = UserStore(store)
    user = users.add("olaf", Role.VIEWER, PASSWORD, 1)
    token, csrf = users.open_session(user, 10 * NS, ttl_seconds=60)
    session = users.session(token, 11 * NS)
    assert session is not None and session.user == user and session.csrf == csrf
    assert users.session(token, 71 * NS) is None  # expired
    assert users.session("made-up", 11 * NS) is None and users.session("", 11 * NS) is None
    with store.connect() as conn:  # only the token's hash is stored
        assert conn.execute(sa.text("SELECT token_sha256 FROM console_sessions")).scalar_one() != token
    token, _ = users.open_session(user, 10 * NS, ttl_seconds=60)
    assert users.set_password("olaf", PASSWORD + "2", 12 * NS)
    assert users.session(token, 13 * NS) is None
    assert users.verify("olaf", PASSWORD) is None and users.verify("olaf", PASSWORD + "2") == user
    token, _ = users.open_session(user, 10 * NS, ttl_seconds=60)
    users.close_session(token)
    assert users.session(token, 11 * NS) is None
    token, _ = users.open_session(user, 10 * NS, ttl_seconds=60)
    assert users.remove("olaf") and not users.remove("olaf")
    assert users.session(token, 11 * NS) is None
    assert not users.set_password("olaf", PASSWORD, 1)


def test_the_queue_is_most_severe_first_then_longest_waiting_with_counts(store: sa.Engine) -> None:
    incidents = IncidentStore(store)
    engine = engine_for(incidents)
    t = time.time_ns()
    opened = {}
    # opened one after the other: jam (critical) last, covers (warning) first
    for i, (device, condition, severity) in enumerate(
        (
            ("P1", "printer_cover_open", Severity.WARNING),
            ("P2", "printer_cover_open", Severity.WARNING),
            ("P3", "printer_paper_jam", Severity.CRITICAL),
        )
    ):
        now = t + i * NS
        engine.observe_batch(
            batch(f"pc-{i}", now, states=[state(device, condition, False, now, severity, device=device)]), now
        )
        engine.evaluate(now)
        opened[device] = incidents.list_incidents(IncidentFilter(device=device))[0][0].id
    incidents.acknowledge(opened["P2"], "maria", t + 5 * NS)
    incidents.assign(opened["P2"], "maria", "maria", t + 5 * NS)
    SilenceStore(store).add(
        __import__("collector.incidents.silences", fromlist=["SilenceKind"]).SilenceKind.SILENCE,
        t,
        t + 3600 * NS,
        device="P1",
        now_ns=t,
    )
    engine.evaluate(t + 6 * NS)  # the silence reaches P1's ticket
    page = queries.queue(store, queries.QueueFilter())
    assert [r.id for r in page.rows] == [opened["P3"], opened["P2"]]
    assert page.by_severity == {"critical": 1, "warning": 1} and page.total == 2
    assert page.by_status == {"open": 1, "acknowledged": 1} and page.quiet_hidden == 1
    everything = queries.queue(store, queries.QueueFilter(quiet=True))
    assert [r.id for r in everything.rows] == [opened["P3"], opened["P1"], opened["P2"]]
    assert everything.quiet_hidden == 0 and everything.rows[1].silenced
    mine = queries.queue(store, queries.QueueFilter(assignee="maria"))
    assert [r.id for r in mine.rows] == [opened["P2"]] and mine.assignees == ["maria"]
    assert [r.id for r in queries.queue(store, queries.QueueFilter(status="open")).rows] == [opened["P3"]]
    assert queries.queue(store, queries.QueueFilter(severity="info")).rows == []


def test_suggestions_are_prefix_matches_of_every_key(store: sa.Engine) -> None:
    births = []
    for n, user in enumerate(("maria.k", "mario.r", "olaf")):
        inv = Inventory(
            collected_ns=1,
            hardware=Hardware(serial=f"SER{n}"),
            users=[user],
            network=Network([Interface("eth0", "wired", f"00:1A:2B:3C:4D:0{n}", [f"10.0.0.{n + 10}"], True)]),
        )
        facts = AgentFacts("1", f"pc-{n}.office.example", "Linux", 30)
        births.append((Presence(v=1, agent_id=f"pc-{n}", status="online", facts=facts, inventory=inv), 1))
    with begin_write(store) as conn:
        inventory_store.record(conn, births)

    def agents(q: str) -> list[str]:
        return [s.agent_id for s in queries.suggest(store, q)]

    assert agents("mari") == ["pc-0", "pc-1"]
    assert agents("MARIA") == ["pc-0"]
    assert agents("10.0.0.1") == ["pc-0", "pc-1", "pc-2"]  # .10 .11 .12
    assert agents("00-1a-2b-3c-4d-02") == ["pc-2"]  # a MAC as Windows writes it
    assert agents("ser1") == ["pc-1"]
    assert agents("pc-2.office") == ["pc-2"]
    assert agents("zzz") == [] and agents("  ") == []
    found = queries.suggest(store, "olaf")[0]
    assert found.selector == "agent:pc-2" and found.users == ["olaf"] and found.addresses == ["10.0.0.12"]
    assert found.host == "pc-2.office.example" and found.matched == "user olaf"
