"""Diagnostics: the collector's signing key, commands published to agents, replies awaited, an audit log.

    key = signing_key(engine, key_file)          # made on first use, kept in a 0600 file
    diag = Diagnostics(config.mqtt, engine, store, key_file=key_file); diag.start()
    outcome = diag.run(Request("pc-17", "dns", {"name": "intranet"}, incident_id=42), actor="alice")

A command is signed with the collector's Ed25519 key, carries an expiry and a nonce and
is published on `<prefix>/<agent>/cmd` with an MQTT v5 response topic and correlation
data; the agent answers on `<prefix>/<agent>/reply` with the correlation data. Every
worker subscribes to every reply topic (not shared), so the worker that sent a command
sees its reply whichever worker it is; the others drop it. Every request, refused ones
included, is a row of the audit log (who, what, when, result); a result with an
incident id is also a comment on that incident's timeline.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import json
import logging
import os
import secrets
import socket
import stat
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from agent import protocol
from agent.protocol import NS, Command, CommandResult, Kind, ParamValue, ProtocolError, single_line
from collector.broker import MqttSettings, broker_address
from collector.errors import ConfigError
from collector.incidents.model import IncidentNotFound
from collector.incidents.store import IncidentStore
from collector.presence import agent as agent_table

log = logging.getLogger(__name__)

# How much longer than the command's own lifetime the collector waits: the agent answers
# before expiry, this covers the trip back through the broker.
REPLY_GRACE_SECONDS = 1.0
TIMELINE_TEXT_CHARS = 4000

metadata = sa.MetaData()
signing_keys = sa.Table(
    "diagnostic_signing_key",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1: one key per store
    # Empty: the private key lives in [diagnostics] signing_key_file (a store before that held the
    # raw 32-byte seed here; signing_key() moves it out).
    sa.Column("private_key", sa.LargeBinary, nullable=False),
    sa.Column("public_key", sa.String(64), nullable=False),  # base64, what agents configure
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)
audit = sa.Table(
    "diagnostic_command",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("command_id", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("check", sa.String(64), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("incident_id", sa.Integer, nullable=True),
    sa.Column("requested_ns", sa.BigInteger, nullable=False),
    sa.Column("finished_ns", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("duration_seconds", sa.Float, nullable=True),
    sa.Column("result", sa.Text, nullable=False, server_default="{}"),  # JSON, as the agent sent it
    sa.Index("ix_diagnostic_command_agent", "agent_id", "requested_ns"),
)


# -- the signing key -------------------------------------------------------------------


def signing_key(engine: Engine, key_file: Path, now_ns: int | None = None) -> Ed25519PrivateKey:
    """The collector's command signing key, made on first use.

    The private key lives in `key_file` (PEM, mode 0600) and never in the store: the store's
    backups travel further than the collector's own disk. The store keeps the public half,
    one per store, so every worker checks that its file holds the key agents trust. A key
    from before (kept in the store) is moved out into `key_file` and wiped from the store.
    """
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(signing_keys.c.private_key, signing_keys.c.public_key).where(signing_keys.c.id == 1)
        ).first()
    if row is not None and row.private_key:
        key = Ed25519PrivateKey.from_private_bytes(bytes(row.private_key))
        if key_file.exists():
            _check_same(_read_key(key_file), row.public_key, key_file)
        else:
            _write_key(key_file, key)
        _wipe(engine)
        log.warning("moved the command signing key out of the store into %s (mode 0600)", key_file)
        return key
    if key_file.exists():
        key = _read_key(key_file)
        if row is not None:
            _check_same(key, row.public_key, key_file)
            return key
        return _record(engine, key, key_file, now_ns)
    if row is not None:
        raise ConfigError(
            f"{key_file} is missing: it held the private half of the command signing key whose public "
            f"key agents trust ({row.public_key}). Restore it from your backup; or, to make a new key "
            "(every agent then needs the new command_key), delete the row of diagnostic_signing_key"
        )
    key = Ed25519PrivateKey.generate()
    try:
        _write_key(key_file, key)
    except FileExistsError:
        return signing_key(engine, key_file, now_ns)  # another worker on this machine made it first
    log.info(
        "made the command signing key in %s; agents need command_key = %s", key_file, public_key_text(key)
    )
    return _record(engine, key, key_file, now_ns)


def _wipe(engine: Engine) -> None:
    """Empty the store's copy of the private key, leaving no copy in SQLite's free pages or WAL.

    (PostgreSQL keeps the old row version until VACUUM; docs/diagnostics.md says so.)
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA secure_delete=ON")  # freed space is zeroed
        conn.execute(signing_keys.update().where(signing_keys.c.id == 1).values(private_key=b""))
        conn.commit()
        if sqlite:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL held the old page
            conn.exec_driver_sql("PRAGMA secure_delete=OFF")


def _record(engine: Engine, key: Ed25519PrivateKey, key_file: Path, now_ns: int | None) -> Ed25519PrivateKey:
    """Store the public half of `key`; if another worker stored one first, it must be the same."""
    try:
        with engine.begin() as conn:
            conn.execute(
                signing_keys.insert().values(
                    id=1,
                    private_key=b"",
                    public_key=public_key_text(key),
                    created_ns=now_ns or time.time_ns(),
                )
            )
    except IntegrityError:
        with engine.connect() as conn:
            stored = conn.execute(
                sa.select(signing_keys.c.public_key).where(signing_keys.c.id == 1)
            ).scalar_one()
        _check_same(key, stored, key_file)
    return key


def _check_same(key: Ed25519PrivateKey, public_key: str, key_file: Path) -> None:
    if public_key_text(key) != public_key:
        raise ConfigError(
            f"{key_file} holds another signing key than the one agents trust ({public_key}): every "
            "collector worker needs a copy of the same key file"
        )


def _read_key(key_file: Path) -> Ed25519PrivateKey:
    try:
        mode = key_file.stat().st_mode
        if mode & 0o077:
            raise ConfigError(
                f"{key_file}: the command signing key may be readable by its owner only (chmod 600), "
                f"not {stat.filemode(mode)}"
            )
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except OSError as err:
        raise ConfigError(f"{key_file}: cannot read the command signing key: {err.strerror}") from err
    except ValueError as err:
        raise ConfigError(f"{key_file}: not a PEM private key: {err}") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{key_file}: not an Ed25519 key")
    return key


def _write_key(key_file: Path, key: Ed25519PrivateKey) -> None:
    """Write `key` as PEM to a new file only its owner may read; FileExistsError if there is one."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
    except FileExistsError:
        raise
    except OSError as err:
        raise ConfigError(f"{key_file}: cannot write the command signing key: {err.strerror}") from err


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half as agents configure it (`command_key`): base64 of the raw 32 bytes."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(command: Command, key: Ed25519PrivateKey) -> Command:
    """`command` with its signature over `protocol.signing_bytes`."""
    signature = base64.b64encode(key.sign(protocol.signing_bytes(command))).decode()
    return msgspec.structs.replace(command, signature=signature)


# -- requests and outcomes -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """What the helpdesk asks of one agent."""

    agent_id: str
    check: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    incident_id: int | None = None
    timeout_seconds: float = 10.0


class Refusal(enum.StrEnum):
    """Why the collector did not send a command at all."""

    UNKNOWN_AGENT = "unknown_agent"
    OFFLINE = "offline"
    NO_INCIDENT = "no_incident"
    BROKER_DOWN = "broker_down"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Refused:
    """The command was not sent; `reason` says why in words."""

    audit_id: int
    kind: Refusal
    reason: str


@dataclass(frozen=True, slots=True)
class Answered:
    """The agent answered (ok, error, rejected or timeout), or did not within the wait (`reply` None)."""

    audit_id: int
    command_id: str
    reply: CommandResult | None
    waited_seconds: float


Outcome = Refused | Answered


class Diagnostics:
    """Sends signed commands to agents over MQTT and waits for their replies; thread-safe."""

    def __init__(
        self,
        settings: MqttSettings,
        engine: Engine,
        store: IncidentStore,
        *,
        key_file: Path,
        password: str = "",
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self.clock = clock
        self.key = signing_key(engine, key_file)
        self.connected = False
        self._pending: dict[bytes, Future[CommandResult]] = {}
        self._lock = threading.Lock()
        self._client = self._make_client(password)

    def _make_client(self, password: str) -> mqtt.Client:
        s = self.settings
        # Its own connection (not ingest's): replies must not wait behind a backlog of batches.
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{s.client_id}-diagnostics-{secrets.token_hex(3)}",
            protocol=mqtt.MQTTv5,
        )
        if s.username:
            client.username_pw_set(s.username, password or None)
        if broker_address(s)[2]:
            client.tls_set(ca_certs=s.ca_file or None)
        client.reconnect_delay_set(1, 10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        return client

    def start(self) -> None:
        host, port, _ = broker_address(self.settings)
        self._client.connect_async(host, port, keepalive=self.settings.keepalive_seconds)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # paho's thread

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            log.warning("diagnostics: broker refused the connection: %s", rc)
            return
        client.subscribe(f"{self.settings.prefix}/+/{Kind.REPLY.value}", qos=1)
        self.connected = True

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if self.connected:
            log.warning("diagnostics: lost the broker (%s)", rc)
        self.connected = False

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            reply = protocol.decode(bytes(message.payload), CommandResult)
            agent_id, _ = protocol.parse_topic(self.settings.prefix, message.topic)
        except ProtocolError as err:
            log.warning("diagnostics: bad reply on %s: %s", message.topic, err.reason)
            return
        if reply.agent_id != agent_id:
            log.warning("diagnostics: reply on %s claims agent %s; dropped", message.topic, reply.agent_id)
            return
        correlation = getattr(message.properties, "CorrelationData", None)
        key = bytes(correlation) if correlation else reply.command_id.encode()
        with self._lock:
            future = self._pending.pop(key, None)
        if future is not None and not future.done():
            future.set_result(reply)

    # the caller's thread

    def run(self, request: Request, actor: str) -> Outcome:
        """Send one command and wait for its reply; refuse at once what cannot be sent."""
        now = self.clock()
        refusal = self._refusal(request, now)
        if refusal is not None:
            kind, reason = refusal
            audit_id = self._audit_insert(request, actor, now, "", str(kind), reason)
            log.info("diagnostic %s for %s refused: %s", request.check, request.agent_id, reason)
            return Refused(audit_id, kind, reason)
        command = sign(
            Command(
                v=protocol.PROTOCOL_VERSION,
                id=secrets.token_hex(16),
                agent_id=request.agent_id,
                check=request.check,
                issued_ns=now,
                expires_ns=now + int(request.timeout_seconds * NS),
                nonce=secrets.token_hex(16),
                params=dict(request.params),
            ),
            self.key,
        )
        audit_id = self._audit_insert(request, actor, now, command.id, "sent", "")
        future: Future[CommandResult] = Future()
        correlation = command.id.encode()
        with self._lock:
            self._pending[correlation] = future
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = protocol.topic(self.settings.prefix, request.agent_id, Kind.REPLY)
        props.CorrelationData = correlation
        started = time.monotonic()
        self._client.publish(
            protocol.topic(self.settings.prefix, request.agent_id, Kind.CMD),
            protocol.encode(command),
            qos=1,
            properties=props,
        )
        try:
            reply: CommandResult | None = future.result(request.timeout_seconds + REPLY_GRACE_SECONDS)
        except FutureTimeout:
            reply = None
        finally:
            with self._lock:
                self._pending.pop(correlation, None)
        waited = time.monotonic() - started
        self._finish(audit_id, request, actor, command.id, reply, waited)
        return Answered(audit_id, command.id, reply, waited)

    def _refusal(self, request: Request, now: int) -> tuple[Refusal, str] | None:
        if not 0 < request.timeout_seconds <= 120:
            return Refusal.INVALID, "timeout_seconds must be more than 0 and at most 120"
        if request.incident_id is not None:
            try:
                self.store.get(request.incident_id)
            except IncidentNotFound:
                return Refusal.NO_INCIDENT, f"no incident {request.incident_id}"
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(agent_table.c.status, agent_table.c.status_ns, agent_table.c.last_seen_ns).where(
                    agent_table.c.agent_id == request.agent_id
                )
            ).first()
        if row is None:
            return Refusal.UNKNOWN_AGENT, f"no agent {request.agent_id} has ever reported to this collector"
        if row.status in ("offline", "lost"):
            how = "stopped" if row.status == "offline" else "lost its connection"
            ago = max(0, now - row.last_seen_ns) / NS
            return (
                Refusal.OFFLINE,
                f"agent {request.agent_id} is offline: it {how}, last heard from {_ago(ago)}; "
                "it cannot run diagnostics until it is back",
            )
        if not self.connected:
            return Refusal.BROKER_DOWN, "the collector is not connected to the broker; try again shortly"
        return None

    def _audit_insert(
        self, request: Request, actor: str, now: int, command_id: str, status: str, error: str
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                audit.insert().values(
                    command_id=command_id,
                    agent_id=request.agent_id,
                    check=request.check,
                    params=json.dumps(dict(request.params), sort_keys=True),
                    actor=actor,
                    incident_id=request.incident_id,
                    requested_ns=now,
                    finished_ns=now if status != "sent" else None,
                    status=status,
                    error=error,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def _finish(
        self,
        audit_id: int,
        request: Request,
        actor: str,
        command_id: str,
        reply: CommandResult | None,
        waited: float,
    ) -> None:
        now = self.clock()
        if reply is None:
            status = "no_reply"
            error = (
                f"agent {request.agent_id} did not answer within {request.timeout_seconds:g} s "
                "(it may have just gone offline)"
            )
            values: dict[str, Any] = {"status": status, "error": error}
        else:
            values = {
                "status": reply.status,
                "error": reply.error,
                "duration_seconds": reply.duration_seconds,
                "result": json.dumps(reply.result),
            }
        with self.engine.begin() as conn:
            conn.execute(audit.update().where(audit.c.id == audit_id).values(finished_ns=now, **values))
        log.info(
            "diagnostic %s on %s by %s: %s in %.2f s",
            request.check,
            request.agent_id,
            actor,
            values["status"],
            waited,
        )
        if request.incident_id is not None:
            text = timeline_text(request, reply, audit_id)
            try:
                self.store.comment(request.incident_id, actor, text, now)
            except IncidentNotFound:
                log.warning(
                    "incident %d vanished before diagnostic %d could be attached",
                    request.incident_id,
                    audit_id,
                )

    def history(self, agent_id: str = "", limit: int = 50) -> list[AuditEntry]:
        """The newest audit entries, for one agent or all."""
        query = sa.select(audit).order_by(audit.c.id.desc()).limit(limit)
        if agent_id:
            query = query.where(audit.c.agent_id == agent_id)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query)]

    def entry(self, audit_id: int) -> AuditEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(audit).where(audit.c.id == audit_id)).first()
        return _entry(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log: who asked which agent for what, when, and what came back."""

    id: int
    command_id: str
    agent_id: str
    check: str
    params: dict[str, ParamValue]
    actor: str
    incident_id: int | None
    requested_ns: int
    finished_ns: int | None
    status: str
    error: str
    duration_seconds: float | None
    result: dict[str, Any]


def _entry(r: Any) -> AuditEntry:
    return AuditEntry(
        r.id,
        r.command_id,
        r.agent_id,
        r.check,
        json.loads(r.params),
        r.actor,
        r.incident_id,
        r.requested_ns,
        r.finished_ns,
        r.status,
        r.error,
        r.duration_seconds,
        json.loads(r.result),
    )


def _no_delay(_c: mqtt.Client, _u: Any, sock: Any) -> None:
    # Commands and replies are small request/response messages: with Nagle on, each hop
    # waits for the peer's delayed ACK (40 ms on Linux). The broker needs `set_tcp_nodelay true` too.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def timeline_text(request: Request, reply: CommandResult | None, audit_id: int) -> str:
    """What an incident's timeline shows of a diagnostic: a readable summary, verdict and problems
    first; the full result stays in the audit (GET /api/v1/diagnostics/{audit_id})."""
    head = f"diagnostic {request.check} on {request.agent_id}"
    where = f"full result: audit #{audit_id}"
    if reply is None:
        return f"{head}: no answer within {request.timeout_seconds:g} s ({where})"
    problems = reply.result.get("problems") or ([reply.error] if reply.error else [])
    lines = [f"{head}: {reply.status} in {reply.duration_seconds:.2f} s"]
    lines += [f"- {single_line(str(p), 300)}" for p in problems[:12]] if problems else ["no problems found"]
    if len(problems) > 12:
        lines.append(f"- ... and {len(problems) - 12} more")
    findings = reply.result.get("findings")
    if isinstance(findings, list):  # triage: which areas were fine
        bad = {f.get("area") for f in findings if isinstance(f, dict) and not f.get("ok")}
        fine = sorted({str(f.get("area")) for f in findings if isinstance(f, dict) and f.get("ok")} - bad)
        if fine:
            lines.append("fine: " + ", ".join(fine))
    else:  # one check: its plain facts ("rtt_seconds: 0.004"), not its nested data
        facts = [
            f"{key}: {value}"
            for key, value in reply.result.items()
            if key not in ("ok", "problems") and isinstance(value, str | int | float | bool)
        ]
        lines += facts[:8]
    lines.append(where)
    return "\n".join(lines)[:TIMELINE_TEXT_CHARS]
