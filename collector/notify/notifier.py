"""Delivers the store's outbox to connectors, retrying with exponential backoff until a bound."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import msgspec

from collector.incidents.store import IncidentStore
from collector.notify.delivery import Connector, DeliveryError

log = logging.getLogger(__name__)
NS = 1_000_000_000


class RetryPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    first_delay_seconds: float = 5
    max_delay_seconds: float = 600
    max_attempts: int = 50  # about 8 hours of tries at the cap; then it is given up and logged

    def delay_ns(self, attempts: int) -> int:
        return int(min(self.first_delay_seconds * 2 ** max(attempts - 1, 0), self.max_delay_seconds) * NS)


class Notifier:
    """Sends due notices; safe to run in several workers (at worst a notice is sent twice, same key)."""

    def __init__(
        self,
        store: IncidentStore,
        connectors: Mapping[str, Connector],
        retry: RetryPolicy | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.connectors = dict(connectors)
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down: set[str] = set()

    def deliver_due(self, now_ns: int | None = None) -> int:
        """Try every due notice once; return how many were delivered."""
        now = self.clock() if now_ns is None else now_ns
        delivered = 0
        for notice in self.store.due_notices(now):
            connector = self.connectors.get(notice.connector)
            if connector is None:
                self.store.failed(notice, now, f"no connector {notice.connector!r} configured", None)
                continue
            try:
                external_id = connector.deliver(
                    notice, self.store.external_id(notice.incident_id, notice.connector)
                )
            except DeliveryError as err:
                attempts = notice.attempts + 1
                give_up = not err.retry or attempts >= self.retry.max_attempts
                retry_at = None if give_up else now + self.retry.delay_ns(attempts)
                self.store.failed(notice, now, str(err), retry_at)
                if give_up:
                    log.error(
                        "gave up delivering %s of incident %s to %s: %s",
                        notice.notice,
                        notice.incident_id,
                        notice.connector,
                        err,
                    )
                elif notice.connector not in self._down:
                    self._down.add(notice.connector)
                    log.warning("%s unreachable, retrying: %s", notice.connector, err)
                continue
            if notice.connector in self._down:
                self._down.discard(notice.connector)
                log.info("%s reachable again", notice.connector)
            self.store.delivered(notice, self.clock() if now_ns is None else now, external_id)
            delivered += 1
        return delivered

    def run(self, interval_seconds: float = 1.0) -> None:
        while not self._stop.wait(interval_seconds):
            try:
                self.deliver_due()
            except Exception:
                log.exception("notification delivery failed")

    def start(self, interval_seconds: float = 1.0) -> None:
        self._thread = threading.Thread(target=self.run, args=(interval_seconds,), name="notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
