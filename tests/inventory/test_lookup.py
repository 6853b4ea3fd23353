"""Lookup without processes: ambiguous queries list candidates; the whois screen of each answer."""

from __future__ import annotations

from pathlib import Path

import msgspec
from sqlalchemy import Engine

from agent.protocol import Severity
from collector import presence
from collector.db import begin_write, make_engine, migrate
from collector.helpdesk import whois
from collector.incidents.store import IncidentStore
from collector.inventory import report, store
from collector.inventory.lookup import Sources, lookup
from collector.inventory.store import InventoryStore
from collector.rules.condition import Category, Condition
from collector.state import Scope
from tests.inventory.test_protocol import INVENTORY
from tests.inventory.test_store import FACTS, birth

S = 1_000_000_000
T = INVENTORY.collected_ns


def sources(tmp_path: Path) -> Sources:
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    with begin_write(engine) as conn:
        store.record(conn, [(birth(INVENTORY, "pc-1"), 1), (birth(INVENTORY, "pc-2"), 1)])
    return Sources(InventoryStore(engine), IncidentStore(engine), clock=lambda: INVENTORY.collected_ns)


def test_a_user_on_two_pcs_is_ambiguous_and_lists_both(tmp_path: Path) -> None:
    answer = lookup("maria.k", sources(tmp_path))
    assert answer.result == "ambiguous" and answer.pc is None
    assert [(c.agent_id, c.matched_by, c.users) for c in answer.candidates] == [
        ("pc-1", "user maria.k", ["maria.k"]),
        ("pc-2", "user maria.k", ["maria.k"]),
    ]
    screen = whois.render(msgspec.to_builtins(answer)).splitlines()
    assert screen[0] == "2 PCs match 'maria.k'; pick one with its selector (agent:ID):"
    # what tells them apart, and the selector that picks each one
    assert screen[1].split() == [
        "SELECTOR", "STATUS", "SITE", "HOST", "USERS", "ADDRESSES", "MAC", "LAST", "SEEN", "MATCHED", "BY"
    ]  # fmt: skip
    assert (
        screen[3].split()[0] == "agent:pc-2" and "10.0.0.21" in screen[3] and "02:00:00:00:00:01" in screen[3]
    )


def test_a_selector_always_reaches_one_pc(tmp_path: Path) -> None:
    # The dead end a helpdesk met: agent "vm" and another PC whose host name is "vm".
    src = sources(tmp_path)
    other = msgspec.structs.replace(birth(INVENTORY, "pc-3"), facts=msgspec.structs.replace(FACTS, host="vm"))
    with begin_write(src.inventories.engine) as conn:
        store.record(conn, [(birth(INVENTORY, "vm"), 1), (other, 1)])
    ambiguous = lookup("vm", src)
    assert ambiguous.result == "ambiguous"
    assert {c.selector for c in ambiguous.candidates} == {"agent:vm", "agent:pc-3"}
    for candidate in ambiguous.candidates:  # each row's selector finds exactly that PC
        found = lookup(candidate.selector, src)
        assert found.result == "found" and found.pc is not None and found.pc.agent_id == candidate.agent_id
    by_host = lookup("host:vm", src)
    assert by_host.pc is not None and by_host.pc.agent_id == "pc-3"
    assert lookup("agent:nobody", src).result == "unknown"


def test_one_pc_renders_on_one_screen(tmp_path: Path) -> None:
    answer = lookup("pc-1", sources(tmp_path))
    assert answer.result == "found" and answer.pc is not None
    assert answer.pc.software is not None and answer.pc.software.total == 2
    screen = whois.render(msgspec.to_builtins(answer))
    assert "serial PF3ABC12" in screen and "printer: reception (default)" in screen
    assert len(screen.splitlines()) < 40


def test_inventory_report_counts_versions_and_short_pcs(tmp_path: Path) -> None:
    src = sources(tmp_path)
    built = report.build(
        src.inventories.all_latest(), 0, packages=["libreoffice-core"], min_memory_bytes=16 << 30
    )
    assert built.pcs == 2 and [(c.label, c.count) for c in built.software[0].versions] == [("4:7.4.7-1", 2)]
    assert [s.agent_id for s in built.low_memory] == ["pc-1", "pc-2"]
    csv = report.render_csv(built)
    assert "software,libreoffice-core,4:7.4.7-1,2" in csv and csv.startswith("section,item,value,count")


def test_an_away_pc_shows_its_checks_as_last_seen_not_as_now(tmp_path: Path) -> None:
    src = sources(tmp_path)
    with begin_write(src.inventories.engine) as conn:
        conn.execute(
            presence.agent.insert().values(
                agent_id="pc-1", site="hq", status="offline", status_ns=T, last_seen_ns=T, host="pc-1"
            )
        )
    dns = Condition(
        "agent/pc-1/dns_resolves/dns:intranet", "network_check", "dns_resolves", Category.NETWORK,
        Severity.WARNING, Scope.AGENT, "pc-1", "hq", "intranet does not resolve", T - 60 * S,
        agent_id="pc-1", observed_ns=T - 5 * S,
    )  # fmt: skip
    src.conditions = lambda: [dns]
    answer = lookup("agent:pc-1", src)
    assert answer.pc is not None and [c.current for c in answer.pc.failing_checks] == [False]
    screen = whois.render(msgspec.to_builtins(answer))
    assert "OFFLINE (last seen" in screen.splitlines()[0]
    assert "FAILING CHECKS" not in screen and "LAST REPORTED BEFORE IT WENT OFFLINE (not current)" in screen
    assert "intranet does not resolve  (last seen" in screen
