"""What changed between two inventories of one PC: software, hardware, OS, printers (pure).

Logins and addresses change all day and are not history; they are in the index and in
the latest inventory. A cut software list (`software_total` above its length) is
compared only up to the last name both lists still hold, so a cut never reads as removals.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from agent.protocol import Hardware, Inventory, OsInfo, Package


class ChangeKind(enum.StrEnum):
    FIRST_SEEN = "first_seen"  # the first inventory of an agent: no history before it
    INSTALLED = "installed"
    REMOVED = "removed"
    UPDATED = "updated"
    HARDWARE = "hardware"
    OS = "os"
    PRINTER_ADDED = "printer_added"
    PRINTER_REMOVED = "printer_removed"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    subject: str
    before: str = ""
    after: str = ""


_HARDWARE_FIELDS = ("vendor", "model", "serial", "cpu_model", "cpu_cores", "memory_bytes")
_OS_FIELDS = ("name", "version", "build", "kernel")


def diff(old: Inventory | None, new: Inventory) -> list[Change]:
    """The changes from `old` to `new`; one FIRST_SEEN when there is no `old`."""
    if old is None:
        return [Change(ChangeKind.FIRST_SEEN, new.software_source or "inventory", "", str(len(new.software)))]
    return [
        *_software(old.software, new.software, _horizon(old, new)),
        *_fields(ChangeKind.HARDWARE, old.hardware, new.hardware, _HARDWARE_FIELDS),
        *_disks(old.hardware, new.hardware),
        *_fields(ChangeKind.OS, old.os, new.os, _OS_FIELDS),
        *_printers(old, new),
    ]


def _horizon(old: Inventory, new: Inventory) -> str | None:
    ends = [
        inv.software[-1].name for inv in (old, new) if inv.software and inv.software_total > len(inv.software)
    ]
    return min(ends) if ends else None


def _software(old: list[Package], new: list[Package], horizon: str | None) -> list[Change]:
    before = {p.name: p.version for p in old if horizon is None or p.name <= horizon}
    after = {p.name: p.version for p in new if horizon is None or p.name <= horizon}
    out = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was is None:
            out.append(Change(ChangeKind.INSTALLED, name, "", now or ""))
        elif now is None:
            out.append(Change(ChangeKind.REMOVED, name, was, ""))
        elif was != now:
            out.append(Change(ChangeKind.UPDATED, name, was, now))
    return out


def _fields(
    kind: ChangeKind, old: Hardware | OsInfo, new: Hardware | OsInfo, names: tuple[str, ...]
) -> list[Change]:
    out = []
    for name in names:
        was, now = getattr(old, name), getattr(new, name)
        if was != now:
            out.append(Change(kind, name, str(was), str(now)))
    return out


def _disks(old: Hardware, new: Hardware) -> list[Change]:
    def shown(h: Hardware) -> dict[str, str]:
        return {d.name: f"{d.model} {d.size_bytes // 10**9} GB".strip() for d in h.disks}

    before, after = shown(old), shown(new)
    return [
        Change(ChangeKind.HARDWARE, f"disk {name}", before.get(name, ""), after.get(name, ""))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def _printers(old: Inventory, new: Inventory) -> list[Change]:
    before = {p.name: p.uri for p in old.printers}
    after = {p.name: p.uri for p in new.printers}
    return [
        Change(ChangeKind.PRINTER_ADDED, name, "", after[name])
        for name in sorted(after.keys() - before.keys())
    ] + [
        Change(ChangeKind.PRINTER_REMOVED, name, before[name], "")
        for name in sorted(before.keys() - after.keys())
    ]
