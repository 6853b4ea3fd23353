"""The incidents engine: an ingest Observer that keeps FleetState and reconciles incidents each cycle.

Ingest calls `observe_batch` / `observe_presence` in its own thread; they only update
FleetState under a lock, so they are quick. `evaluate(now_ns)` runs the rules,
correlation and reconciliation and writes the store; `run()` calls it every
`cycle_seconds` until stopped. Several workers may run engines against one store:
the store's unique index and version checks make their writes idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.protocol import Batch
from collector import rules
from collector.incidents.correlate import correlate
from collector.incidents.reconcile import Inputs, reconcile
from collector.incidents.store import Incident, IncidentStore
from collector.observers import PresenceChange
from collector.rules.condition import Condition
from collector.rules.settings import NS, Settings, load_settings
from collector.state import FleetState

log = logging.getLogger(__name__)


class IncidentEngine:
    """Observer of ingest that turns the fleet's state into incidents in `store`."""

    def __init__(
        self, store: IncidentStore, settings: Settings | None = None, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self.store = store
        self.settings = settings or load_settings()
        self.state = FleetState(tracks=self.settings.tracks())
        self.clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_conditions: list[Condition] = []

    @classmethod
    def from_files(cls, store: IncidentStore, rules_path: Path | None = None) -> IncidentEngine:
        return cls(store, load_settings(rules_path))

    def observe_batch(self, batch: Batch, received_ns: int) -> None:
        with self._lock:
            self.state.apply_batch(batch, received_ns)

    def observe_presence(self, change: PresenceChange) -> None:
        with self._lock:
            self.state.apply_presence(change)

    def conditions(self, now_ns: int) -> list[Condition]:
        """The correlated conditions present at `now_ns` (no store access)."""
        with self._lock:
            self.state.as_of = now_ns
            found = rules.evaluate(self.state, self.settings)
            return correlate(found, self.state, self.settings.correlation)

    def evaluate(self, now_ns: int) -> list[Incident]:
        """One cycle: rules, correlation, reconciliation, store; returns the incidents changed."""
        conditions = self.conditions(now_ns)
        with self._lock:
            coverage = self.state.coverage()
        policy = self.settings.incidents
        open_views = self.store.open_views()
        inputs = Inputs(
            open=open_views,
            recently_resolved=self.store.resolved_since(now_ns - int(policy.reopen_window_seconds * NS)),
            silences=self.store.active_silences(now_ns),
            coverage=coverage,
        )
        changes = reconcile(conditions, inputs, now_ns, policy)
        changed = self.store.apply(changes, now_ns)
        with self._lock:
            # hysteresis remembers what fired; open incidents count too, so a restart keeps it
            self.state.active = frozenset(c.key for c in conditions) | {
                v.key for v in open_views if v.key not in {ch.key for ch in changes if ch.action == "resolve"}
            }
        self.last_conditions = conditions
        return changed

    def run(self) -> None:
        """Evaluate every cycle until `stop()`; a failing cycle is logged and the next one runs."""
        period = self.settings.incidents.cycle_seconds
        while not self._stop.wait(period):
            try:
                self.evaluate(self.clock())
            except Exception:
                log.exception("incident evaluation failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="incidents", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
