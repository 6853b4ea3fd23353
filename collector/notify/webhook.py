"""Signed webhook: POST the incident as JSON to any helpdesk system that takes it.

Headers: `X-Deskwatch-Event` (opened/updated/resolved), `Idempotency-Key` (the same for
every retry of one notice, so a receiver that got it before the connection broke can
drop the repeat), `X-Deskwatch-Timestamp` and `X-Deskwatch-Signature: sha256=<hex>`,
an HMAC-SHA256 with the shared secret over `<timestamp>.<body>`. If the receiver
answers with JSON carrying `ticket_id` (or `id`), that id is kept and sent back as
`external_id` in every later notice of the incident, so its ticket closes too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

import httpx
import msgspec

from collector.errors import ConfigError
from collector.incidents.outbox import Outgoing
from collector.notify.delivery import DeliveryError

# 408 and 429 say "later"; any other 4xx will not change by retrying
_RETRY_4XX = frozenset({408, 425, 429})


class WebhookSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str
    secret_env: str = "DESKWATCH_WEBHOOK_SECRET"  # the secret itself never sits in a config file
    timeout_seconds: float = 10


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does: compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class Webhook:
    """A Connector posting signed JSON."""

    def __init__(
        self, settings: WebhookSettings, secret: bytes | None = None, client: httpx.Client | None = None
    ) -> None:
        self.settings = settings
        self.secret = secret if secret is not None else os.environ.get(settings.secret_env, "").encode()
        if not self.secret:
            # An empty key signs nothing: anyone could forge a notice the receiver would trust.
            raise ConfigError(
                f"webhook {settings.url}: ${settings.secret_env} (secret_env) is not set or empty; "
                "refusing to sign notices with an empty key"
            )
        self._owns_client = client is None
        self.client = client or httpx.Client(timeout=settings.timeout_seconds)

    def close(self) -> None:
        """Close the pooled connection to the receiver (a client handed in stays its owner's)."""
        if self._owns_client:
            self.client.close()

    def deliver(self, notice: Outgoing, external_id: str) -> str:
        document = json.loads(notice.payload)
        document["external_id"] = external_id
        document["idempotency_key"] = notice.idempotency_key
        body = json.dumps(document, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "deskwatch-collector",
            "X-Deskwatch-Event": str(notice.notice),
            "Idempotency-Key": notice.idempotency_key,
            "X-Deskwatch-Timestamp": timestamp,
            "X-Deskwatch-Signature": sign(self.secret, timestamp, body),
        }
        try:
            response = self.client.post(self.settings.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise DeliveryError(f"{self.settings.url}: {err!r}") from err
        if response.status_code >= 400:
            retry = response.status_code >= 500 or response.status_code in _RETRY_4XX
            raise DeliveryError(
                f"{self.settings.url}: HTTP {response.status_code} {response.text[:200]}", retry
            )
        try:
            answer = response.json()
        except ValueError:
            return ""
        if isinstance(answer, dict):
            ticket = answer.get("ticket_id", answer.get("id", ""))
            return str(ticket) if ticket not in (None, "") else ""
        return ""
