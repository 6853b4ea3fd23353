"""The `[mqtt]` table of agent.toml: the broker the agent publishes to, and how it logs in."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from agent import protocol


class MqttSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `[mqtt]` table: where and how the agent publishes."""

    broker: str = "mqtt://127.0.0.1:1883"  # mqtts://host:8883 for TLS
    prefix: str = protocol.DEFAULT_PREFIX
    username: str = ""
    password_env: str = ""  # name of the environment variable that holds the password
    password_file: str = ""  # or a file readable only by the agent's account
    ca_file: str = ""  # CA that signed the broker's certificate (default: the system's)
    cert_file: str = ""  # client certificate, where the broker asks for one
    key_file: str = ""
    keepalive_seconds: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    inflight: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20  # batches published, not yet acknowledged
    reconnect_max_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.broker)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(
                f"broker {self.broker!r} must look like mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
            )

    @property
    def host(self) -> str:
        return urlsplit(self.broker).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.broker)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.broker).scheme == "mqtts"

    def password(self) -> str | None:
        """The broker password from the environment or a file; never stored in agent.toml."""
        if self.password_env:
            return os.environ.get(self.password_env)
        if self.password_file:
            return Path(self.password_file).read_text().strip()
        return None
