"""collector.toml decoded into one Struct tree, with the defaults in the Structs.

`load(path)` reads and validates the file; a wrong type, a bad value or an unknown key
stops the collector with the file, the key and the reason. Command-line flags override
the main settings afterwards (`with_overrides`). Secrets are named by environment
variable (`password_env`, `token_env`), never stored here. deploy/collector.toml
documents every option.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec
from sqlalchemy.engine import make_url

from collector.bounds import Positive, PositiveInt
from collector.broker import MqttSettings
from collector.console.settings import ConsoleSettings
from collector.deadletter import DeadLetterSettings
from collector.errors import ConfigError
from collector.limits import LimitSettings
from collector.notify.email import EmailSettings
from collector.notify.notifier import RetryPolicy
from collector.notify.routing import Route
from collector.notify.webhook import WebhookSettings
from collector.writer import MetricsSettings


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class IncidentsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `[incidents]` table of collector.toml."""

    rules_file: str = ""  # merged over collector/rules/defaults.toml
    kb_dirs: list[str] = []  # extra article directories; a file named like a shipped one replaces it
    webhooks: dict[str, WebhookSettings] = {}  # connector name -> settings
    email: dict[str, EmailSettings] = {}
    routes: list[Route] = []  # empty: every connector hears of every incident
    retry: RetryPolicy = RetryPolicy()
    notify_interval_seconds: float = 1.0
    # At start, rebuild the rules' histories (disk filling, supply forecasts) from the
    # metrics database's PromQL API, instead of waiting 30 min / a day for new data.
    warm_start: bool = True


class StoreSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """The collector's relational store (agents, sequence state, dead letters, incidents)."""

    url: str = "sqlite:///var/deskwatch/collector.db"


class PresenceSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """When an agent counts as stale."""

    stale_intervals: Positive = 3.0
    default_interval_seconds: Positive = 30.0
    check_interval_seconds: Positive = 10.0


class HttpSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """The HTTP listeners: the API (with /healthz, and /metrics for a token) and an optional internal one."""

    listen: str = "127.0.0.1:9108"
    # HTTPS on `listen` (and `internal_listen`): a PEM certificate (chain) and its key.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # A second listener for operations, without tokens: /metrics, /healthz, /openapi.json,
    # /docs. Bind it to loopback or a management network. "" = none: /metrics and
    # /openapi.json are then served on `listen` to a valid API token, and /docs nowhere.
    internal_listen: str = ""
    # The largest request body taken; a larger one is refused (413) before it is read.
    max_body_bytes: PositiveInt = 1024**2


class DiagnosticsSettings(_Section, frozen=True, forbid_unknown_fields=True):
    """On-demand checks on agents: where the command signing key is kept."""

    # The private key agents trust commands from, in a file only its owner reads (0600), never
    # in the store (which backups copy around). "": beside a SQLite store (<file>.signing-key),
    # else var/deskwatch/signing-key. Every collector worker needs the same file.
    signing_key_file: str = ""


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
    diagnostics: DiagnosticsSettings = DiagnosticsSettings()
    log: LogSettings = LogSettings()
    incidents: IncidentsConfig = IncidentsConfig()
    limits: LimitSettings = LimitSettings()
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
    check_http(config.http, source)
    secrets = (
        ("mqtt.password_env", config.mqtt.password_env),
        ("metrics.token_env", config.metrics.token_env),
    )
    for key, name in secrets:
        if name and name not in os.environ:
            raise ConfigError(f"{source}: {key} names ${name}, which is not set")
    if any(c in config.mqtt.group for c in "/+#$"):
        raise ConfigError(f"{source}: mqtt.group must be one topic level, got {config.mqtt.group!r}")
    check_connectors(config.incidents, source)


def check_http(http: HttpSettings, source: str) -> None:
    """Listen addresses that parse, and a TLS certificate with its key, both readable."""
    for key, value in (("http.listen", http.listen), ("http.internal_listen", http.internal_listen)):
        if key == "http.internal_listen" and not value:
            continue
        try:
            listen_address(value)
        except ValueError:
            raise ConfigError(f"{source}: {key} must be HOST:PORT, got {value!r}") from None
    if http.internal_listen and listen_address(http.internal_listen) == listen_address(http.listen):
        raise ConfigError(f"{source}: http.internal_listen must differ from http.listen ({http.listen})")
    if bool(http.tls_cert_file) != bool(http.tls_key_file):
        raise ConfigError(
            f"{source}: http.tls_cert_file and http.tls_key_file go together: give both or neither"
        )
    for key, value in (("http.tls_cert_file", http.tls_cert_file), ("http.tls_key_file", http.tls_key_file)):
        if value and not os.access(value, os.R_OK):
            raise ConfigError(f"{source}: {key} {value!r} cannot be read")


def check_connectors(incidents: IncidentsConfig, source: str) -> None:
    """Connector names unique across kinds, webhook secrets set, routes naming real connectors."""
    for name in sorted(set(incidents.webhooks) & set(incidents.email)):
        # The outbox keeps one row per incident and connector name: one of the two would never hear.
        raise ConfigError(
            f"{source}: incidents.webhooks.{name} and incidents.email.{name} share the name {name!r}; "
            "every connector needs a name of its own"
        )
    for name, hook in incidents.webhooks.items():
        if not os.environ.get(hook.secret_env):
            raise ConfigError(
                f"{source}: incidents.webhooks.{name}.secret_env names ${hook.secret_env}, which is not set "
                "or empty: receivers could not tell this collector's notices from forged ones"
            )
    names = set(incidents.webhooks) | set(incidents.email)
    for index, route in enumerate(incidents.routes):
        if route.connector not in names:
            raise ConfigError(
                f"{source}: incidents.routes[{index}].connector {route.connector!r} is no webhook or e-mail "
                f"connector (there are: {', '.join(sorted(names)) or 'none'})"
            )


def listen_address(listen: str) -> tuple[str, int]:
    """`HOST:PORT` split into host and port; raise ValueError if it is not one."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(listen)
    return host.strip("[]"), int(port)


def signing_key_path(config: CollectorConfig) -> Path:
    """Where the command signing key is kept: `diagnostics.signing_key_file`, or its default."""
    if config.diagnostics.signing_key_file:
        return Path(config.diagnostics.signing_key_file)
    url = make_url(config.store.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".signing-key")
    return Path("var/deskwatch/signing-key")


def store_arguments(parser: argparse.ArgumentParser) -> None:
    """`--db` and `--config`, for the commands that work on the store (token, user)."""
    parser.add_argument(
        "--db",
        default=os.environ.get("DESKWATCH_DB"),
        help="store URL (default: $DESKWATCH_DB, else the store of --config)",
    )
    parser.add_argument("--config", type=Path, help="collector.toml whose [store] url to use")


def store_url(args: argparse.Namespace) -> str:
    """The store named by `store_arguments`: --db, $DESKWATCH_DB, else [store] url of --config."""
    return str(args.db) if args.db else load(args.config).store.url
