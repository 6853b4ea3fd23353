"""The wire contract between agents and the collector: topics, messages, encode and decode.

Everything an agent sends and the collector receives is defined here and nowhere else.
The collector imports this module and nothing else from `agent`, so this module imports
nothing but msgspec and the standard library.

Topics, all under one prefix (default ``deskwatch/v1``):

    <prefix>/<agent_id>/state    agent -> collector  retained  Presence (birth, Last Will, shutdown)
    <prefix>/<agent_id>/metrics  agent -> collector            Batch
    <prefix>/<agent_id>/cmd      collector -> agent            Command
    <prefix>/<agent_id>/reply    agent -> collector            CommandResult

Decoding is strict: a payload that is too large, is not JSON, has a wrong type, a missing
or unknown field, or an unknown protocol version raises `ProtocolError` with a reason a
person can read, and nothing of it is applied.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

PROTOCOL_VERSION: Final = 1
DEFAULT_PREFIX: Final = "deskwatch/v1"

# A batch of ~60 samples is ~10 KiB; a day of agent self-metrics never comes near this.
MAX_PAYLOAD_BYTES: Final = 256 * 1024
MAX_ITEMS_PER_BATCH: Final = 5_000
MAX_TEXT_CHARS: Final = 1_000
MAX_RESULT_BYTES: Final = 64 * 1024

# Names that survive MQTT topics, Influx line protocol and PromQL unescaped.
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
AGENT_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

AgentId = Annotated[str, msgspec.Meta(pattern=AGENT_ID_PATTERN)]
Name = Annotated[str, msgspec.Meta(pattern=_NAME, max_length=64)]
TagValue = Annotated[str, msgspec.Meta(max_length=256)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
Site = Annotated[str, msgspec.Meta(max_length=64)]
TimeNs = Annotated[int, msgspec.Meta(ge=0)]
Seq = Annotated[int, msgspec.Meta(ge=0)]


class ProtocolError(ValueError):
    """A payload or topic that does not follow the wire contract; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Severity(enum.StrEnum):
    """How urgent a problem State is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Kind(enum.StrEnum):
    """The last level of a topic: what kind of message travels on it."""

    STATE = "state"
    METRICS = "metrics"
    CMD = "cmd"
    REPLY = "reply"


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    pass


class Sample(_Struct, frozen=True):
    """Numeric observations of one thing at one time: `<measurement>_<field>{tags}` in PromQL."""

    measurement: Name
    fields: dict[Name, int | float]
    tags: dict[Name, TagValue] = {}
    time_ns: TimeNs = 0


class State(_Struct, frozen=True):
    """A condition that is either fine or a problem: a paper jam, a failed DNS lookup."""

    subject: Annotated[str, msgspec.Meta(max_length=256)]  # what it is about: "dns:intranet", a device key
    condition: Name  # what is checked: "dns_resolves", "paper_jam"
    ok: bool
    severity: Severity = Severity.INFO
    text: Text = ""  # for a person at the helpdesk: why it is a problem
    tags: dict[Name, TagValue] = {}
    observed_ns: TimeNs = 0


class Batch(_Struct, frozen=True):
    """One publish of one agent: samples and states plus the sequence number the collector tracks."""

    v: int
    agent_id: AgentId
    seq: Seq
    created_ns: TimeNs
    site: Site = ""
    samples: Annotated[list[Sample], msgspec.Meta(max_length=MAX_ITEMS_PER_BATCH)] = []
    states: Annotated[list[State], msgspec.Meta(max_length=MAX_ITEMS_PER_BATCH)] = []


class AgentFacts(_Struct, frozen=True):
    """What an agent says about itself when it comes online."""

    version: Annotated[str, msgspec.Meta(max_length=64)]
    host: Annotated[str, msgspec.Meta(max_length=256)]
    os: Annotated[str, msgspec.Meta(max_length=256)]
    interval_seconds: Annotated[float, msgspec.Meta(gt=0)]
    started_ns: TimeNs = 0


class Presence(_Struct, frozen=True):
    """The retained message on `<prefix>/<agent_id>/state`.

    `online` with facts is the birth; `offline` with reason `lost` is the Last Will the
    broker publishes when the agent vanishes; `offline` with reason `shutdown` is a
    graceful stop, which is not an incident.
    """

    v: int
    agent_id: AgentId
    status: Literal["online", "offline"]
    time_ns: TimeNs = 0
    site: Site = ""
    reason: Literal["", "shutdown", "lost"] = ""
    facts: AgentFacts | None = None


ParamValue = str | int | float | bool


class Command(_Struct, frozen=True):
    """An on-demand diagnostic the collector asks one agent to run, signed by the collector."""

    v: int
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    agent_id: AgentId
    check: Name
    issued_ns: TimeNs
    expires_ns: TimeNs
    nonce: Annotated[str, msgspec.Meta(min_length=8, max_length=64)]
    params: dict[Name, ParamValue] = {}
    signature: Annotated[str, msgspec.Meta(max_length=256)] = ""  # base64, over signing_bytes()


class CommandResult(_Struct, frozen=True):
    """An agent's answer to a Command: `ok`, `error` (the check failed), `rejected` or `timeout`."""

    v: int
    command_id: Annotated[str, msgspec.Meta(max_length=64)]
    agent_id: AgentId
    status: Literal["ok", "error", "rejected", "timeout"]
    check: str = ""
    error: Text = ""
    duration_seconds: float = 0.0
    result: dict[str, Any] = {}


Message = Batch | Presence | Command | CommandResult
M = TypeVar("M", Batch, Presence, Command, CommandResult)

_encoder = msgspec.json.Encoder()
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {
    t: msgspec.json.Decoder(t) for t in (Batch, Presence, Command, CommandResult)
}


class _Header(msgspec.Struct):
    v: int | None = None


def encode(message: Message) -> bytes:
    """Serialize a message to the JSON that goes on the wire."""
    return _encoder.encode(message)


def decode(payload: bytes, kind: type[M], *, max_bytes: int = MAX_PAYLOAD_BYTES) -> M:
    """Decode and validate one payload; raise ProtocolError with the reason if anything is off."""
    if len(payload) > max_bytes:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds the limit of {max_bytes}")
    try:
        message: M = _decoders[kind].decode(payload)
    except msgspec.DecodeError as err:
        # Name the version first when that is the real cause: a newer agent's batch may
        # fail on shape, and "unsupported version" is what the operator must learn.
        version = _version_of(payload)
        if version is not None and version != PROTOCOL_VERSION:
            raise ProtocolError(_version_reason(version)) from err
        raise ProtocolError(f"invalid {kind.__name__}: {err}") from err
    if message.v != PROTOCOL_VERSION:
        raise ProtocolError(_version_reason(message.v))
    return message


def _version_of(payload: bytes) -> int | None:
    try:
        return msgspec.json.decode(payload, type=_Header).v
    except msgspec.DecodeError:
        return None


def _version_reason(version: int) -> str:
    return f"unsupported protocol version {version} (this side speaks {PROTOCOL_VERSION})"


def topic(prefix: str, agent_id: str, kind: Kind) -> str:
    """The topic on which `agent_id` sends or receives `kind` messages."""
    return f"{prefix}/{agent_id}/{kind.value}"


def parse_topic(prefix: str, name: str) -> tuple[str, Kind]:
    """Split `<prefix>/<agent_id>/<kind>` into the agent id and kind, or raise ProtocolError."""
    head = prefix + "/"
    if not name.startswith(head):
        raise ProtocolError(f"topic {name!r} is not under {prefix!r}")
    parts = name[len(head) :].split("/")
    if len(parts) != 2:
        raise ProtocolError(f"topic {name!r} is not <prefix>/<agent_id>/<kind>")
    agent_id, kind_name = parts
    if not is_valid_agent_id(agent_id):
        raise ProtocolError(f"topic {name!r} names an invalid agent id {agent_id!r}")
    try:
        return agent_id, Kind(kind_name)
    except ValueError:
        raise ProtocolError(f"topic {name!r} has unknown kind {kind_name!r}") from None


_agent_id_check = msgspec.json.Decoder(AgentId)


def is_valid_agent_id(agent_id: str) -> bool:
    """True if `agent_id` is usable as a topic level and a metric label."""
    try:
        _agent_id_check.decode(_encoder.encode(agent_id))
    except msgspec.ValidationError:
        return False
    return True


def signing_bytes(command: Command) -> bytes:
    """The exact bytes a command's signature covers: the command without its signature."""
    return _encoder.encode(msgspec.structs.replace(command, signature=""))


def to_builtins(message: Message | Sample | State) -> Mapping[str, Any]:
    """A message as plain dicts and lists, for printing and for JSON APIs."""
    result: Mapping[str, Any] = msgspec.to_builtins(message)
    return result
