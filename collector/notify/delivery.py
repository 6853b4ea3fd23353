"""What every connector implements, and the errors that tell the notifier to retry or give up."""

from __future__ import annotations

from typing import Protocol

from collector.errors import CollectorError
from collector.incidents.outbox import Outgoing


class DeliveryError(CollectorError):
    """A notice was not delivered; `retry` says whether trying again later can help."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Connector(Protocol):
    """Sends one notice; returns the receiver's ticket id if it gave one ("" otherwise)."""

    def deliver(self, notice: Outgoing, external_id: str) -> str: ...

    def close(self) -> None:
        """Release what the connector holds between deliveries (a pooled connection)."""
