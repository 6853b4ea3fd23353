"""The broker as the collector's parts reach it (ingest, diagnostics, dead-letter replay).

`MqttSettings` is the `[mqtt]` table of collector.toml; `broker_address` the host, port and
TLS its URL names.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from agent.protocol import DEFAULT_PREFIX
from collector.bounds import NonNegativeInt, PositiveInt


class MqttSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The broker and how ingest subscribes to it."""

    broker: str = "mqtt://127.0.0.1:1883"
    client_id: str = "deskwatch-collector"
    # "" (one collector): a plain subscription. A name: `$share/<group>/...`, so several
    # collectors split the batches. Mosquitto 2.0 does not keep shared subscriptions across
    # its own restart, so batches published before the collector reconnects would be lost;
    # a single collector therefore subscribes plainly (see docs/collector.md).
    group: str = ""
    prefix: str = DEFAULT_PREFIX
    username: str = ""
    password_env: str = ""
    ca_file: str = ""
    keepalive_seconds: PositiveInt = 30
    session_expiry_seconds: NonNegativeInt = 7 * 24 * 3600
    max_inflight: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 1000


def broker_address(config: MqttSettings) -> tuple[str, int, bool]:
    """Host, port and whether to use TLS, from `mqtt.broker`."""
    url = urlsplit(config.broker)
    tls = url.scheme == "mqtts"
    return url.hostname or "127.0.0.1", url.port or (8883 if tls else 1883), tls
