"""What this PC is and has (hardware, OS, users, network, printers, software), for the birth message.

`collect(settings, now_ns)` reads it all and returns one bounded `Inventory`; it blocks
(files, a few subprocesses on Windows and macOS), so the runner calls it in a thread.
Every part is guarded: a part the OS does not offer, or a reader that fails, leaves its
fields empty and never the whole inventory. Linux is read from files under
`settings.root`, so tests point it at a recorded tree; Windows and macOS ask the OS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import msgspec

from agent.inventory import packages, printers, system
from agent.protocol import Inventory, Package, bound_inventory, inventory_digest

log = logging.getLogger(__name__)


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `[inventory]` table of agent.toml."""

    enabled: bool = True
    # how often it is read again; it is sent only when something changed
    interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    root: str = "/"  # where the OS files are read (Linux): /sys, /proc, /etc, /run
    # whose package databases (var/lib/dpkg/status, rpm) are read; several are merged
    package_roots: list[str] = msgspec.field(default_factory=lambda: ["/"])
    max_packages: Annotated[int, msgspec.Meta(ge=0, le=5_000)] = 5_000


def collect(settings: Settings, now_ns: int) -> Inventory:
    """The inventory of this PC now, cut to the wire bounds."""
    root = Path(settings.root)
    if sys.platform == "win32":
        from agent.inventory import windows

        inventory = windows.collect(now_ns)
    elif sys.platform == "darwin":
        from agent.inventory import macos

        inventory = macos.collect(now_ns)
    else:
        software, source = _linux_software(settings)
        inventory = Inventory(
            collected_ns=now_ns,
            hardware=system.hardware(root),
            os=system.os_info(root),
            boot_ns=system.boot_ns(),
            users=system.users(root),
            network=system.network(root),
            printers=printers.cups_printers(root),
            software_source=source,
            software=software,
            software_total=len(software),
        )
    if len(inventory.software) > settings.max_packages:
        inventory = msgspec.structs.replace(
            inventory,
            software=sorted(inventory.software, key=lambda p: p.name)[: settings.max_packages],
            software_total=max(inventory.software_total, len(inventory.software)),
        )
    return bound_inventory(inventory)


def _linux_software(settings: Settings) -> tuple[list[Package], str]:
    found: dict[str, Package] = {}
    sources: list[str] = []
    for root in settings.package_roots:
        for source, listed in packages.linux_packages(Path(root)):
            sources.append(source)
            for package in listed:
                found.setdefault(package.name, package)
    return sorted(found.values(), key=lambda p: p.name), "+".join(dict.fromkeys(sources))


async def keep_current(
    settings: Settings,
    publish: Callable[[Inventory], None],
    stop: asyncio.Event,
    first: Inventory | None = None,
) -> None:
    """Read the inventory every `interval_seconds`; `publish` it only when its digest changed.

    So a PC that changes nothing sends its inventory once per connection (in the birth),
    and a PC that changes sends at most once per interval, however often it changes.
    """
    sent = inventory_digest(first) if first is not None else ""
    while not stop.is_set():
        current = await read_safely(settings)
        if current is not None and inventory_digest(current) != sent:
            publish(current)
            sent = inventory_digest(current)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.interval_seconds)


async def read_safely(settings: Settings) -> Inventory | None:
    """`collect()` off the event loop; a failure is logged and means "no news", never a crash."""
    try:
        return await asyncio.to_thread(collect, settings, time.time_ns())
    except Exception:
        log.exception("cannot read the inventory; trying again in %s s", settings.interval_seconds)
        return None


__all__ = ["Settings", "collect", "keep_current", "read_safely"]
