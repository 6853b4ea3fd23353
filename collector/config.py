"""collector.toml decoded into one Struct tree, with the defaults in the Structs.

`load(path)` reads and validates the file; a wrong type, a bad value or an unknown key
stops the collector with the file, the key and the reason. Command-line flags override
the main settings afterwards (`with_overrides`). Secrets are named by environment
variable (`password_env`, `token_env`), never stored here. deploy/collector.toml
documents every option.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

from agent.protocol import DEFAULT_PREFIX
from collector.console.settings import ConsoleSettings
from collector.errors import ConfigError
from collector.incidents.config import IncidentsConfig

Positive = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class MqttSettings(_Section, frozen=True, forbid_unknown_fields=True):
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


class MetricsSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """The metrics database (VictoriaMetrics or InfluxDB 2) and the writer's buffer."""

    url: str = "http://127.0.0.1:8428"
    bucket: str = "deskwatch"
    org: str = "deskwatch"
    token_env: str = ""
    gzip: bool = False
    batch_lines: PositiveInt = 20_000
    flush_interval_seconds: Positive = 0.2
    timeout_seconds: Positive = 10.0
    retries: NonNegativeInt = 2
    retry_backoff_seconds: Positive = 0.2
    max_backoff_seconds: Positive = 10.0
    buffer_dir: str = "var/deskwatch/write-buffer"
    buffer_max_bytes: PositiveInt = 2 * 1024**3
    shutdown_timeout_seconds: Positive = 10.0


class StoreSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """The collector's relational store (agents, sequence state, dead letters, incidents)."""

    url: str = "sqlite:///var/deskwatch/collector.db"


class DeadLetterSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """The dead-letter store."""

    max_entries: PositiveInt = 100_000


class PresenceSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """When an agent counts as stale."""

    stale_intervals: Positive = 3.0
    default_interval_seconds: Positive = 30.0
    check_interval_seconds: Positive = 10.0


class HttpSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """The HTTP listener: /metrics, /healthz and the API."""

    listen: str = "127.0.0.1:9108"


class LogSettings(_Section, frozen=True, forbid_unknown_fields=True):
    level: Literal["debug", "info", "warning", "error"] = "info"


class CollectorConfig(_Section, frozen=True, forbid_unknown_fields=True):
    """Everything in collector.toml."""

    mqtt: MqttSettings = MqttSettings()
    metrics: MetricsSettings = MetricsSettings()
    store: StoreSettings = StoreSettings()
    deadletter: DeadLetterSettings = DeadLetterSettings()
    presence: PresenceSettings = PresenceSettings()
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()
    incidents: IncidentsConfig = IncidentsConfig()
    console: ConsoleSettings = ConsoleSettings()


def load(path: Path | None) -> CollectorConfig:
    """The configuration in `path`, or all defaults when `path` is None."""
    if path is None:
        return CollectorConfig()
    try:
        text = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    return load_text(text, str(path))


def load_text(text: bytes, source: str) -> CollectorConfig:
    """The configuration in TOML `text`; errors name `source`."""
    try:
        config = msgspec.toml.decode(text, type=CollectorConfig)
    except msgspec.ValidationError as err:
        raise ConfigError(f"{source}: {err}") from err
    except msgspec.DecodeError as err:
        raise ConfigError(f"{source}: not valid TOML: {err}") from err
    check(config, source)
    return config


def sections() -> list[tuple[str, type[msgspec.Struct]]]:
    """Each [section] of collector.toml and the Struct it decodes into."""
    return [(name, type(getattr(CollectorConfig(), name))) for name in CollectorConfig.__struct_fields__]


def with_overrides(
    config: CollectorConfig,
    *,
    broker: str | None = None,
    metrics_url: str | None = None,
    db: str | None = None,
    listen: str | None = None,
) -> CollectorConfig:
    """`config` with the values given on the command line in place of the file's."""
    replace = msgspec.structs.replace
    if broker is not None:
        config = replace(config, mqtt=replace(config.mqtt, broker=broker))
    if metrics_url is not None:
        config = replace(config, metrics=replace(config.metrics, url=metrics_url))
    if db is not None:
        config = replace(config, store=replace(config.store, url=db))
    if listen is not None:
        config = replace(config, http=replace(config.http, listen=listen))
    check(config, "command line")
    return config


def check(config: CollectorConfig, source: str) -> None:
    """Reject values the types cannot catch, naming `source` and the key."""
    broker = urlsplit(config.mqtt.broker)
    if broker.scheme not in ("mqtt", "mqtts") or not broker.hostname:
        raise ConfigError(
            f"{source}: mqtt.broker must be mqtt://HOST[:PORT] or mqtts://..., got {config.mqtt.broker!r}"
        )
    if urlsplit(config.metrics.url).scheme not in ("http", "https"):
        raise ConfigError(f"{source}: metrics.url must be an http(s) URL, got {config.metrics.url!r}")
    try:
        listen_address(config.http.listen)
    except ValueError:
        raise ConfigError(f"{source}: http.listen must be HOST:PORT, got {config.http.listen!r}") from None
    secrets = (
        ("mqtt.password_env", config.mqtt.password_env),
        ("metrics.token_env", config.metrics.token_env),
    )
    for key, name in secrets:
        if name and name not in os.environ:
            raise ConfigError(f"{source}: {key} names ${name}, which is not set")
    if any(c in config.mqtt.group for c in "/+#$"):
        raise ConfigError(f"{source}: mqtt.group must be one topic level, got {config.mqtt.group!r}")


def listen_address(listen: str) -> tuple[str, int]:
    """`HOST:PORT` split into host and port; raise ValueError if it is not one."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(listen)
    return host.strip("[]"), int(port)


def broker_address(config: MqttSettings) -> tuple[str, int, bool]:
    """Host, port and whether to use TLS, from `mqtt.broker`."""
    url = urlsplit(config.broker)
    tls = url.scheme == "mqtts"
    return url.hostname or "127.0.0.1", url.port or (8883 if tls else 1883), tls
