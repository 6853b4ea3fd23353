"""Lookup without processes: ambiguous queries list candidates; the whois screen of each answer."""

from __future__ import annotations

from pathlib import Path

import msgspec
from sqlalchemy import Engine

from collector.db import begin_write, make_engine, migrate
from collector.incidents.store import IncidentStore
from collector.inventory import report, store, whois
from collector.inventory.lookup import Sources, lookup
from collector.inventory.store import InventoryStore
from tests.inventory.test_protocol import INVENTORY
from tests.inventory.test_store import birth


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
    screen = whois.render(msgspec.to_builtins(answer))
    assert screen.splitlines()[0] == "2 PCs match 'maria.k'; look up one of them by its agent id:"
    assert "pc-2" in screen.splitlines()[2]


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
