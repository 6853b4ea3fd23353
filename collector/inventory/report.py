"""The fleet's inventory for management: OS versions, PCs short of memory or disk, software versions (pure).

"How many PCs still run the old office build?" is `software` for that package: each
version with the PCs running it. Without named packages the report shows those with
the most different versions across the fleet, which is where stragglers hide. Free disk
space is a metric, not inventory (the host source sends it); here "low" means the
installed size is below what an office PC needs.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Literal

import msgspec

from collector.inventory.store import Stored

GIB = 1 << 30


class Count(msgspec.Struct, frozen=True):
    label: str
    count: int


class Short(msgspec.Struct, frozen=True):
    """A PC below a bound: which, and by what."""

    agent_id: str
    host: str
    what: Literal["memory", "disk"] = "memory"
    bytes: int = 0


class PackageVersions(msgspec.Struct, frozen=True):
    package: str
    pcs: int
    versions: list[Count]  # most PCs first


class InventoryReport(msgspec.Struct, frozen=True):
    generated_ns: int
    pcs: int
    os_versions: list[Count]
    low_memory: list[Short]
    low_disk: list[Short]
    software: list[PackageVersions]


def build(
    stored: Sequence[Stored],
    now_ns: int,
    *,
    packages: Sequence[str] = (),
    min_memory_bytes: int = 8 * GIB,
    min_disk_bytes: int = 200 * 10**9,
    top: int = 20,
) -> InventoryReport:
    """The report over every agent's newest inventory."""
    os_versions = Counter(
        " ".join(p for p in (s.inventory.os.name, s.inventory.os.version) if p) or "unknown" for s in stored
    )
    low_memory = [
        Short(s.agent_id, s.host, "memory", s.inventory.hardware.memory_bytes)
        for s in stored
        if 0 < s.inventory.hardware.memory_bytes < min_memory_bytes
    ]
    low_disk = []
    for s in stored:
        total = sum(d.size_bytes for d in s.inventory.hardware.disks)
        if 0 < total < min_disk_bytes:
            low_disk.append(Short(s.agent_id, s.host, "disk", total))
    versions: dict[str, Counter[str]] = defaultdict(Counter)
    for s in stored:
        for p in s.inventory.software:
            versions[p.name][p.version] += 1
    names = (
        list(packages) or sorted(versions, key=lambda n: (-len(versions[n]), -versions[n].total(), n))[:top]
    )
    software = [
        PackageVersions(
            name,
            versions[name].total(),
            [Count(v, c) for v, c in sorted(versions[name].items(), key=lambda vc: (-vc[1], vc[0]))],
        )
        for name in names
    ]
    return InventoryReport(
        generated_ns=now_ns,
        pcs=len(stored),
        os_versions=[Count(label, n) for label, n in os_versions.most_common()],
        low_memory=sorted(low_memory, key=lambda s: s.bytes),
        low_disk=sorted(low_disk, key=lambda s: s.bytes),
        software=software,
    )


def render_csv(report: InventoryReport) -> str:
    """One table for spreadsheets: section, item, value, count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "value", "count"])
    for c in report.os_versions:
        writer.writerow(["os_version", c.label, "", c.count])
    for s in [*report.low_memory, *report.low_disk]:
        writer.writerow([f"low_{s.what}", s.agent_id, s.host, s.bytes])
    for p in report.software:
        for v in p.versions:
            writer.writerow(["software", p.package, v.label, v.count])
    return out.getvalue()
