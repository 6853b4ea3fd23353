"""The inventory store: history of changes, compare-and-set, the index, and the diff rules."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from sqlalchemy import Engine

from agent.protocol import AgentFacts, Hardware, Inventory, Package, Presence
from collector.db import begin_write, make_engine, migrate
from collector.inventory import store
from collector.inventory.diff import Change, ChangeKind, diff
from collector.inventory.store import IndexKey, InventoryStore
from tests.inventory.test_protocol import INVENTORY

FACTS = AgentFacts("1.0", "pc-reception-1.office.example", "Linux", 30)


def birth(inv: Inventory, agent_id: str = "pc-1") -> Presence:
    return Presence(v=1, agent_id=agent_id, status="online", facts=FACTS, inventory=inv)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'collector.db'}")
    migrate(engine)
    return engine


def record(engine: Engine, *messages: Presence) -> int:
    with begin_write(engine) as conn:
        return store.record(conn, [(m, 1) for m in messages])


def later(inv: Inventory, **changes: object) -> Inventory:
    return msgspec.structs.replace(inv, collected_ns=inv.collected_ns + 1, **changes)


def test_package_installed_updated_removed_appear_in_history(engine: Engine) -> None:
    assert record(engine, birth(INVENTORY)) == 1
    second = later(
        INVENTORY,
        software=[Package("firefox-esr", "115.10.0esr-1"), Package("vlc", "3.0.20-1")],
        software_total=2,
    )
    assert record(engine, birth(second), birth(second)) == 1  # the repeat stores nothing
    history = InventoryStore(engine).history("pc-1")
    assert [(h.kind, h.subject, h.before, h.after) for h in history[:3]] == [
        (ChangeKind.INSTALLED, "vlc", "", "3.0.20-1"),
        (ChangeKind.REMOVED, "libreoffice-core", "4:7.4.7-1", ""),
        (ChangeKind.UPDATED, "firefox-esr", "115.9.1esr-1", "115.10.0esr-1"),
    ]
    assert history[-1].kind is ChangeKind.FIRST_SEEN
    assert InventoryStore(engine).latest("pc-1").inventory == second  # type: ignore[union-attr]


def test_an_older_inventory_never_replaces_a_newer_one(engine: Engine) -> None:
    newer = later(INVENTORY, users=["someone.else"])
    record(engine, birth(newer))
    assert record(engine, birth(INVENTORY)) == 0
    assert InventoryStore(engine).latest("pc-1").inventory == newer  # type: ignore[union-attr]


def test_the_index_finds_a_pc_by_each_key(engine: Engine) -> None:
    record(engine, birth(INVENTORY), birth(later(INVENTORY, users=["maria.k"], hardware=Hardware()), "pc-2"))
    inv = InventoryStore(engine)
    assert [(m.agent_id, m.key) for m in inv.find("PF3ABC12")] == [("pc-1", IndexKey.SERIAL)]
    assert [(m.agent_id, m.key) for m in inv.find(" 10.0.0.21 ")] == [
        ("pc-1", IndexKey.IP),
        ("pc-2", IndexKey.IP),
    ]
    assert [m.key for m in inv.find("02-00-00-00-00-01")] == [IndexKey.MAC, IndexKey.MAC]
    assert [m.key for m in inv.find("PC-RECEPTION-1")] == [IndexKey.HOST, IndexKey.HOST]
    assert [m.agent_id for m in inv.find("pc-2")] == ["pc-2"]
    assert [m.value for m in inv.find("mari")] == ["maria.k", "maria.k"]  # a prefix when nothing is exact
    assert inv.find("nobody-by-this-name") == [] and inv.find("  ") == []
    assert inv.agents_of_user("Maria.K") == ["pc-1", "pc-2"]


def test_a_cut_software_list_is_not_read_as_removals() -> None:
    full = [Package(f"p{i}", "1") for i in range(10)]
    old = Inventory(1, software=full, software_total=10)
    new = Inventory(2, software=[*full[:5], Package("p3b", "1")], software_total=11)
    assert diff(old, new) == [Change(ChangeKind.INSTALLED, "p3b", "", "1")]


def test_hardware_os_and_printer_changes() -> None:
    new = later(
        INVENTORY,
        hardware=msgspec.structs.replace(INVENTORY.hardware, memory_bytes=16 << 30),
        os=msgspec.structs.replace(INVENTORY.os, version="13"),
        printers=[],
    )
    assert [(c.kind, c.subject) for c in diff(INVENTORY, new)] == [
        (ChangeKind.HARDWARE, "memory_bytes"),
        (ChangeKind.OS, "version"),
        (ChangeKind.PRINTER_REMOVED, "reception"),
    ]
