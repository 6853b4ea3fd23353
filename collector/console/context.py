"""What the console works with: the stores and services it reads and acts through.

`ConsoleContext` holds the same objects the API uses, in the same process; the composition
root (collector.app) builds one and hands it to `collector.console.pages.mount`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from collector.api import Directory
from collector.auth.users import UserStore
from collector.console.live import MetricsReader
from collector.console.settings import ConsoleSettings
from collector.diagnostics import Diagnostics
from collector.errors import CollectorError
from collector.incidents.engine import AgentSummary, DeviceSummary, SupplyForecast
from collector.incidents.silence_store import SilenceStore
from collector.incidents.store import IncidentStore
from collector.inventory.store import InventoryStore
from collector.kb import KnowledgeBase
from collector.rules.condition import Condition


def _no_conditions() -> Sequence[Condition]:
    return ()


@dataclass
class ConsoleContext:
    """What the console reads and acts through: the same objects the API uses, in the same process."""

    store: IncidentStore
    inventories: InventoryStore
    users: UserStore
    directory: Directory
    kb: KnowledgeBase = field(default_factory=KnowledgeBase.load)
    conditions: Callable[[], Sequence[Condition]] = _no_conditions  # engine.last_conditions
    diagnostics: Diagnostics | None = None
    metrics: MetricsReader | None = None
    settings: ConsoleSettings = field(default_factory=ConsoleSettings)
    clock: Callable[[], int] = time.time_ns
    silences: SilenceStore = field(init=False)

    def __post_init__(self) -> None:
        self.silences = SilenceStore(self.store.engine)


class PageError(CollectorError):
    """A page that cannot be shown (no such ticket, PC or device): an HTML answer with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CachedDirectory:
    """The fleet's agents and devices, computed at most every `seconds`.

    The engine builds both lists from its whole FleetState (20 ms each at 10,000 agents),
    and a caller's page wants both; a page a second or two behind the fleet is as good."""

    def __init__(self, directory: Directory, seconds: float = 2.0) -> None:
        self.directory = directory
        self.seconds = seconds
        self._lock = threading.Lock()
        self._agents: tuple[float, list[AgentSummary]] = (-1e9, [])
        self._devices: tuple[float, list[DeviceSummary]] = (-1e9, [])

    def agents(self) -> list[AgentSummary]:
        with self._lock:
            if time.monotonic() - self._agents[0] > self.seconds:
                self._agents = (time.monotonic(), self.directory.agents())
            return self._agents[1]

    def devices(self) -> list[DeviceSummary]:
        with self._lock:
            if time.monotonic() - self._devices[0] > self.seconds:
                self._devices = (time.monotonic(), self.directory.devices())
            return self._devices[1]

    def supplies(self, now_ns: int) -> list[SupplyForecast]:
        return self.directory.supplies(now_ns)
