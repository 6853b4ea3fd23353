"""Delivers the outbox to connectors, retrying with exponential backoff until a bound.

Each connector has a thread of its own, so a receiver that hangs or is down costs only
its own notices time, never another connector's. Within a connector, tickets wait only
for their own earlier notices (`Outbox.due_notices`), never for other tickets.
A notice fails for good, with its reason kept in the outbox and on the incident's
timeline, when the receiver refuses it (a DeliveryError that says so), when it failed
`max_attempts` times, or at once when the connector raises anything but a DeliveryError
(a notice it cannot even build, such as one whose text breaks a header): trying that
again would fail again and again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import msgspec

from agent.protocol import NS, single_line
from collector.incidents.outbox import Outbox, Outgoing
from collector.notify.delivery import Connector, DeliveryError

log = logging.getLogger(__name__)
ERROR_CHARS = 1_000  # what the outbox keeps of a failure's reason


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
        outbox: Outbox,
        connectors: Mapping[str, Connector],
        retry: RetryPolicy | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.outbox = outbox
        self.connectors = dict(connectors)
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._down: set[str] = set()
        self._lock = threading.Lock()  # guards _down, which every connector's thread touches

    def deliver_due(self, now_ns: int | None = None, connector: str | None = None) -> int:
        """Try every due notice (of one connector, or of all) once; return how many were delivered."""
        now = self.clock() if now_ns is None else now_ns
        delivered = 0
        for notice in self.outbox.due_notices(now, connector=connector):
            if self._deliver(notice, now, now_ns is None):
                delivered += 1
        return delivered

    def _deliver(self, notice: Outgoing, now: int, live_clock: bool) -> bool:
        connector = self.connectors.get(notice.connector)
        if connector is None:
            self.outbox.failed(notice, now, f"no connector {notice.connector!r} configured", None)
            return False
        try:
            external_id = connector.deliver(
                notice, self.outbox.external_id(notice.incident_id, notice.connector)
            )
        except DeliveryError as err:
            attempts = notice.attempts + 1
            give_up = not err.retry or attempts >= self.retry.max_attempts
            self._failed(notice, now, str(err), give_up, attempts)
            return False
        except Exception as err:  # a bug or a notice the connector cannot build: it would fail forever
            log.exception(
                "%s cannot deliver %s of incident %s", notice.connector, notice.notice, notice.incident_id
            )
            self._failed(notice, now, f"{type(err).__name__}: {err}", True, notice.attempts + 1)
            return False
        with self._lock:
            back = notice.connector in self._down
            self._down.discard(notice.connector)
        if back:
            log.info("%s reachable again", notice.connector)
        self.outbox.delivered(notice, self.clock() if live_clock else now, external_id)
        return True

    def _failed(self, notice: Outgoing, now: int, error: str, give_up: bool, attempts: int) -> None:
        reason = single_line(error, ERROR_CHARS)
        self.outbox.failed(notice, now, reason, None if give_up else now + self.retry.delay_ns(attempts))
        if give_up:
            log.error(
                "gave up delivering %s of incident %s to %s after %d attempts: %s",
                notice.notice,
                notice.incident_id,
                notice.connector,
                attempts,
                reason,
            )
            return
        with self._lock:
            first = notice.connector not in self._down
            self._down.add(notice.connector)
        if first:
            log.warning("%s unreachable, retrying: %s", notice.connector, reason)

    def run(self, interval_seconds: float = 1.0, connector: str | None = None) -> None:
        while not self._stop.wait(interval_seconds):
            try:
                self.deliver_due(connector=connector)
            except Exception:
                log.exception("notification delivery to %s failed", connector or "every connector")

    def fail_orphans(self, now_ns: int | None = None) -> int:
        """Mark failed the notices queued for connectors no longer configured; return how many."""
        now = self.clock() if now_ns is None else now_ns
        failed = 0
        while True:
            orphans = [
                n for n in self.outbox.due_notices(now, limit=1000) if n.connector not in self.connectors
            ]
            if not orphans:
                return failed
            for notice in orphans:
                self._deliver(notice, now, False)
            failed += len(orphans)

    def start(self, interval_seconds: float = 1.0) -> None:
        """One delivery thread per connector (after failing the notices of connectors now gone)."""
        try:
            self.fail_orphans()
        except Exception:
            log.exception("cannot clear the notices of connectors no longer configured")
        for name in self.connectors:
            thread = threading.Thread(
                target=self.run, args=(interval_seconds, name), name=f"notify-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the delivery threads and close the connectors."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        for connector in self.connectors.values():
            connector.close()
