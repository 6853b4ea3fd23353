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
person can read and a `ProtocolErrorCode` a program can count by, and nothing of it is applied.

Versions. Everyone writes PROTOCOL_VERSION and reads every version from OLDEST_VERSION on,
so the collector is upgraded first and agents follow at their own pace:

    1  the first release
    2  the tag `device` names an SNMP device and nothing else (DEVICE_TAG): a PC's own disk
       sample calls its block device `block_device`. `decode` gives a version 1 batch the
       same shape, so a PC's disk is never taken for a printer whatever the agent's age.
       Presence may say `sleep` (the PC announced sleep or hibernation), and AgentFacts
       say whether the PC has a battery and whether it must always be on. A Batch may
       carry `spool_id`, the life of the spool that numbered it (one per agent process): a
       new one tells the collector the sequence may have started over (a re-imaged PC, a
       deleted spool, numbers used up on a full disk taken again after a restart).
       Optional, so a version 1 batch (none) decodes as before.
       A Batch may carry `sent_ns`, the agent's clock when it published the batch (not
       when it made it: see `stamp_sent`), from which the collector learns how far the
       agent's clock is off. Optional too: a batch without it decodes as before.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

NS: Final = 1_000_000_000  # every time on the wire is integer nanoseconds since the epoch
PROTOCOL_VERSION: Final = 2
OLDEST_VERSION: Final = 1  # the oldest version this side still reads
DEFAULT_PREFIX: Final = "deskwatch/v1"

# A batch of ~60 samples is ~10 KiB; a day of agent self-metrics never comes near this.
MAX_PAYLOAD_BYTES: Final = 256 * 1024
MAX_ITEMS_PER_BATCH: Final = 5_000
MAX_TEXT_CHARS: Final = 1_000
MAX_RESULT_BYTES: Final = 64 * 1024

# The tag that makes a Sample or State be about an SNMP device (printer, modem), keyed by
# its serial: five PCs reporting one printer make one series and one ticket. An agent's own
# sources never use it, so a PC's disk or interface can never be taken for a device.
DEVICE_TAG: Final = "device"

# Names that survive MQTT topics, Influx line protocol and PromQL unescaped. `\Z`, not `$`:
# msgspec runs re.search, where `$` also matches before a trailing newline.
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*\Z"
AGENT_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"

AgentId = Annotated[str, msgspec.Meta(pattern=AGENT_ID_PATTERN)]
Name = Annotated[str, msgspec.Meta(pattern=_NAME, max_length=64)]
# The names in Samples are the collector's hottest strings (four or five per sample, ~60
# samples per batch): msgspec would run the regex on every one of them. They are decoded
# as bounded strings and `decode` checks each distinct name once (see _SampleNames).
SampleName = Annotated[str, msgspec.Meta(max_length=64)]
TagValue = Annotated[str, msgspec.Meta(max_length=256)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
Site = Annotated[str, msgspec.Meta(max_length=64)]
TimeNs = Annotated[int, msgspec.Meta(ge=0)]
Seq = Annotated[int, msgspec.Meta(ge=0)]


class ProtocolErrorCode(enum.StrEnum):
    """What kind of breach a ProtocolError is: the collector's dead-letter reason and metric label."""

    TOO_LARGE = "too_large"
    MALFORMED_JSON = "malformed_json"
    INVALID_MESSAGE = "invalid_message"  # JSON, but not a message of the contract
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_TOPIC = "bad_topic"


class ProtocolError(ValueError):
    """A payload or topic that does not follow the wire contract; `reason` says why, `code` what kind."""

    def __init__(self, reason: str, code: ProtocolErrorCode = ProtocolErrorCode.INVALID_MESSAGE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


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


# Samples, States and Batches hold only strings, numbers and flat containers of them, so
# they can never be part of a reference cycle: `gc=False` keeps the hundreds of thousands
# the collector decodes per second out of the cyclic garbage collector's scans.
class Sample(_Struct, frozen=True, gc=False):
    """Numeric observations of one thing at one time: `<measurement>_<field>{tags}` in PromQL.

    `measurement`, the field names and the tag names are Names (checked by `decode`).
    """

    measurement: SampleName
    fields: dict[SampleName, int | float]
    tags: dict[SampleName, TagValue] = {}
    time_ns: TimeNs = 0


class State(_Struct, frozen=True, gc=False):
    """A condition that is either fine or a problem: a paper jam, a failed DNS lookup."""

    subject: Annotated[str, msgspec.Meta(max_length=256)]  # what it is about: "dns:intranet", a device key
    condition: Name  # what is checked: "dns_resolves", "paper_jam"
    ok: bool
    severity: Severity = Severity.INFO
    text: Text = ""  # for a person at the helpdesk: why it is a problem
    tags: dict[Name, TagValue] = {}
    observed_ns: TimeNs = 0


class Batch(_Struct, frozen=True, gc=False):
    """One publish of one agent: samples and states plus the sequence number the collector tracks."""

    v: int
    agent_id: AgentId
    seq: Seq
    created_ns: TimeNs
    site: Site = ""
    samples: Annotated[list[Sample], msgspec.Meta(max_length=MAX_ITEMS_PER_BATCH)] = []
    states: Annotated[list[State], msgspec.Meta(max_length=MAX_ITEMS_PER_BATCH)] = []
    # Which life of the agent's spool numbered `seq` (see agent/spool.py); "" from old agents.
    spool_id: Annotated[str, msgspec.Meta(max_length=64)] = ""
    # The agent's clock as it published this batch (`stamp_sent`); 0 from old agents. The
    # collector compares it with its own receive time to learn the agent's clock offset.
    sent_ns: TimeNs = 0


class AgentFacts(_Struct, frozen=True):
    """What an agent says about itself when it comes online."""

    version: Annotated[str, msgspec.Meta(max_length=64)]
    host: Annotated[str, msgspec.Meta(max_length=256)]
    os: Annotated[str, msgspec.Meta(max_length=256)]
    interval_seconds: Annotated[float, msgspec.Meta(gt=0)]
    started_ns: TimeNs = 0
    # A PC with a battery (a laptop) comes and goes by design: its absence is no ticket.
    battery: bool = False
    # Set in agent.toml for a PC that must never be away (a reception PC, a kiosk): its
    # absence is a ticket whatever the time, battery or not.
    always_on: bool = False


# Inventory bounds. A desktop's package database is 800 to 4,000 packages, ~40 bytes each on
# the wire (packages travel as [name, version, installed_ns] arrays), so the whole
# inventory stays well under INVENTORY_MAX_BYTES; longer lists are cut by the agent
# (`software_total` keeps the real count) rather than the birth being refused.
INVENTORY_MAX_BYTES: Final = 200 * 1024
MAX_PACKAGES: Final = 5_000
MAX_LIST: Final = 64  # disks, interfaces, addresses, users, printers, DNS servers
Short = Annotated[str, msgspec.Meta(max_length=128)]
Long = Annotated[str, msgspec.Meta(max_length=256)]


def _items(n: int) -> msgspec.Meta:
    return msgspec.Meta(max_length=n)


class Disk(_Struct, frozen=True):
    """A physical disk: `sda`, its model and size."""

    name: Short
    model: Long = ""
    size_bytes: Annotated[int, msgspec.Meta(ge=0)] = 0


class Hardware(_Struct, frozen=True):
    """The PC itself, as its firmware and OS describe it."""

    vendor: Long = ""
    model: Long = ""
    serial: Long = ""
    cpu_model: Long = ""
    cpu_cores: Annotated[int, msgspec.Meta(ge=0)] = 0
    cpu_threads: Annotated[int, msgspec.Meta(ge=0)] = 0
    memory_bytes: Annotated[int, msgspec.Meta(ge=0)] = 0
    disks: Annotated[list[Disk], _items(MAX_LIST)] = []


class OsInfo(_Struct, frozen=True):
    """Operating system name, version and build; `last_update_ns` where the OS tells (0 if not)."""

    name: Long = ""
    version: Long = ""
    build: Long = ""
    kernel: Long = ""
    last_update_ns: TimeNs = 0


class Interface(_Struct, frozen=True):
    """A network interface: `wired`, `wifi` or `virtual`, its MAC and addresses."""

    name: Short
    kind: Literal["wired", "wifi", "virtual", "unknown"] = "unknown"
    mac: Short = ""
    addresses: Annotated[list[Short], _items(MAX_LIST)] = []
    up: bool = False
    speed_mbps: Annotated[int, msgspec.Meta(ge=0)] = 0


class Network(_Struct, frozen=True):
    """Addresses, default gateway and DNS servers."""

    interfaces: Annotated[list[Interface], _items(MAX_LIST)] = []
    gateway: Short = ""
    dns_servers: Annotated[list[Short], _items(MAX_LIST)] = []


class Printer(_Struct, frozen=True):
    """A printer configured in the OS print system (CUPS, the Windows spooler)."""

    name: Long
    driver: Long = ""
    uri: Long = ""  # socket://10.0.0.5:9100, usb://..., the Windows port
    host: Long = ""  # the network address in `uri`, "" for local printers
    default: bool = False
    state: Short = ""  # what the print system says now: idle, printing, stopped


class Package(_Struct, frozen=True, array_like=True):
    """One installed package or application; an array on the wire to keep thousands small."""

    name: Long
    version: Short = ""
    installed_ns: TimeNs = 0  # when the OS says it was installed or last updated (0: unknown)


class Inventory(_Struct, frozen=True):
    """What a PC is and has: sent in the birth, and again when it changes."""

    collected_ns: TimeNs
    hardware: Hardware = Hardware()
    os: OsInfo = OsInfo()
    boot_ns: TimeNs = 0
    users: Annotated[list[Short], _items(MAX_LIST)] = []  # logged in now
    network: Network = Network()
    printers: Annotated[list[Printer], _items(MAX_LIST)] = []
    software_source: Short = ""  # dpkg, rpm, registry, applications
    software: Annotated[list[Package], _items(MAX_PACKAGES)] = []
    software_total: Annotated[int, msgspec.Meta(ge=0)] = 0  # before any cut to fit the bounds


class Presence(_Struct, frozen=True):
    """The retained message on `<prefix>/<agent_id>/state`.

    `online` with facts is the birth; `offline` with reason `lost` is the Last Will the
    broker publishes when the agent vanishes; `offline` with reason `shutdown` is a
    graceful stop (the service or the PC shutting down) and `sleep` a PC that announced
    sleep or hibernation: neither is an incident.
    """

    v: int
    agent_id: AgentId
    status: Literal["online", "offline"]
    time_ns: TimeNs = 0
    site: Site = ""
    reason: Literal["", "shutdown", "sleep", "lost"] = ""
    facts: AgentFacts | None = None
    # Only on a birth. A birth re-published with a new inventory changes nothing else.
    inventory: Inventory | None = None


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


_SENT_KEY: Final = b',"sent_ns":'


def stamp_sent(payload: bytes, sent_ns: int) -> bytes:
    """An encoded Batch with `sent_ns` set to the sender's clock now, just before it is published.

    The spool keeps each batch as the bytes `encode` made when it was measured, and a batch
    may wait there for days, so the stamp cannot be part of that encoding: it is added to
    the JSON object's end at each send (the encoder never writes `sent_ns` itself, and a
    repeated send gets a fresh stamp). A payload the stamp would push over the size limit,
    or that is not a JSON object, is sent as it is: unstamped, never refused.
    """
    stamp = _SENT_KEY + str(sent_ns).encode() + b"}"
    if sent_ns <= 0 or len(payload) < 3 or not payload.endswith(b"}"):
        return payload
    if len(payload) - 1 + len(stamp) > MAX_PAYLOAD_BYTES:
        return payload
    return payload[:-1] + stamp


def decode(payload: bytes, kind: type[M], *, max_bytes: int = MAX_PAYLOAD_BYTES) -> M:
    """Decode and validate one payload; raise ProtocolError with the reason if anything is off."""
    if len(payload) > max_bytes:
        raise ProtocolError(
            f"payload of {len(payload)} bytes exceeds the limit of {max_bytes}", ProtocolErrorCode.TOO_LARGE
        )
    try:
        message: M = _decoders[kind].decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError) as err:
        # msgspec raises UnicodeDecodeError for bad UTF-8 in a key it does not know.
        # Name the version first when that is the real cause: a newer agent's batch may
        # fail on shape, and "unsupported version" is what the operator must learn.
        version = _version_of(payload)
        if version is not None and not OLDEST_VERSION <= version <= PROTOCOL_VERSION:
            raise ProtocolError(_version_reason(version), ProtocolErrorCode.UNSUPPORTED_VERSION) from err
        raise ProtocolError(f"invalid {kind.__name__}: {err}", _decode_error_code(err)) from err
    if not OLDEST_VERSION <= message.v <= PROTOCOL_VERSION:
        raise ProtocolError(_version_reason(message.v), ProtocolErrorCode.UNSUPPORTED_VERSION)
    if isinstance(message, Batch):
        _sample_names.check(message)
        if message.v == 1:
            return _from_v1(message)  # type: ignore[return-value]  # M is Batch here
    return message


# Version 1 host samples that named a block device `device` (agent/sources/host.py before 2).
_V1_HOST_DEVICE_TAG: Final = frozenset({"disk"})


def _from_v1(batch: Batch) -> Batch:
    """A version 1 batch in version 2's shape: a disk's `device` tag becomes `block_device`."""
    if not any(s.measurement in _V1_HOST_DEVICE_TAG and DEVICE_TAG in s.tags for s in batch.samples):
        return batch
    samples = [
        msgspec.structs.replace(
            s, tags={("block_device" if k == DEVICE_TAG else k): v for k, v in s.tags.items()}
        )
        if s.measurement in _V1_HOST_DEVICE_TAG and DEVICE_TAG in s.tags
        else s
        for s in batch.samples
    ]
    return msgspec.structs.replace(batch, samples=samples)


class _SampleNames:
    """The Name rule for the names inside Samples, checked once per distinct name.

    A fleet uses a few hundred names over and over, so after the first batches every check
    is a set lookup done in C. The set is bounded: an agent inventing names cannot grow it
    without limit, it only makes the checks slower until the set starts over.
    """

    MAX_KNOWN: Final = 50_000

    def __init__(self) -> None:
        self._known: set[str] = set()

    def check(self, batch: Batch) -> None:
        known = self._known
        for index, sample in enumerate(batch.samples):
            if sample.measurement not in known or not known.issuperset(sample.fields):
                self._learn(sample.measurement, f"$.samples[{index}].measurement")
                self._learn_all(sample.fields, f"$.samples[{index}].fields")
            if sample.tags and not known.issuperset(sample.tags):
                self._learn_all(sample.tags, f"$.samples[{index}].tags")

    def _learn_all(self, names: Iterable[str], path: str) -> None:
        for name in names:
            self._learn(name, path)

    def _learn(self, name: str, path: str) -> None:
        if name in self._known:
            return
        if not is_name(name):
            # The words msgspec uses for the same rule elsewhere in this contract.
            raise ProtocolError(f"invalid Batch: Expected `str` matching regex {_NAME!r} - at `{path}`")
        if len(self._known) >= self.MAX_KNOWN:
            self._known.clear()
        self._known.add(name)


_sample_names = _SampleNames()
_name_rule = re.compile(_NAME)


def is_name(text: str) -> bool:
    """True if `text` may name a measurement, a field or a tag."""
    return _name_rule.match(text) is not None


def _version_of(payload: bytes) -> int | None:
    try:
        return msgspec.json.decode(payload, type=_Header).v
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _decode_error_code(err: Exception) -> ProtocolErrorCode:
    """Not JSON at all, or JSON of the wrong shape: msgspec tells only in its words.

    Bad UTF-8 counts as an invalid message, as it always has on the collector's metrics.
    """
    text = str(err)
    if not isinstance(err, msgspec.ValidationError) and (
        "malformed" in text or "truncated" in text or "trailing characters" in text
    ):
        return ProtocolErrorCode.MALFORMED_JSON
    return ProtocolErrorCode.INVALID_MESSAGE


def _version_reason(version: int) -> str:
    return f"unsupported protocol version {version} (this side reads {OLDEST_VERSION} to {PROTOCOL_VERSION})"


def inventory_digest(inventory: Inventory) -> str:
    """A hash of what an inventory says, ignoring when it was taken: equal digests, nothing changed."""
    content = msgspec.structs.replace(inventory, collected_ns=0)
    return hashlib.sha256(_encoder.encode(content)).hexdigest()


def bound_inventory(inventory: Inventory, max_bytes: int = INVENTORY_MAX_BYTES) -> Inventory:
    """The inventory cut to fit the wire bounds: lists to their limits, software to `max_bytes`.

    Strings are not validated when a Struct is built, only when decoded, so the sender
    cuts them here; otherwise one long driver name would get the whole birth refused.
    """
    total = inventory.software_total or len(inventory.software)
    software = sorted(inventory.software, key=lambda p: p.name)[:MAX_PACKAGES]
    bounded = _bound_strings(msgspec.structs.replace(inventory, software=software, software_total=total))
    size = len(_encoder.encode(bounded))
    while size > max_bytes and bounded.software:
        # drop in proportion to the excess: one or two passes, not one per package
        keep = int(len(bounded.software) * max_bytes / size * 0.95)
        bounded = msgspec.structs.replace(bounded, software=bounded.software[: max(keep, 0)])
        size = len(_encoder.encode(bounded))
    return bounded


def _bound_strings(value: Inventory) -> Inventory:
    """Cut every string and list of a decoded-shape value to what its Struct field allows."""
    data = msgspec.to_builtins(value)
    cut: Inventory = msgspec.convert(_cut(data, type(value)), type(value))
    return cut


def _cut(data: Any, kind: Any) -> Any:
    info = msgspec.inspect.type_info(kind)
    return _cut_info(data, info)


def _cut_info(data: Any, info: msgspec.inspect.Type) -> Any:
    if isinstance(info, msgspec.inspect.StructType):
        if isinstance(data, list):  # array_like
            return [_cut_info(v, f.type) for v, f in zip(data, info.fields, strict=False)]
        by_name = {f.encode_name: f for f in info.fields}
        return {k: _cut_info(v, by_name[k].type) for k, v in data.items()}
    if isinstance(info, msgspec.inspect.StrType) and isinstance(data, str):
        return data[: info.max_length] if info.max_length is not None else data
    if isinstance(info, msgspec.inspect.ListType) and isinstance(data, list):
        items = data[: info.max_length] if info.max_length is not None else data
        return [_cut_info(v, info.item_type) for v in items]
    if isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            if not isinstance(member, msgspec.inspect.NoneType):
                return _cut_info(data, member) if data is not None else None
    return data


# Every character that ends a line somewhere: str.splitlines() breaks on each, e-mail
# headers refuse CR and LF, log viewers and terminals honour NEL (U+0085) and the Unicode
# line and paragraph separators. Together with the other control characters they become
# a space wherever outside text reaches a header, a log line or a metric tag.
_NOT_ON_ONE_LINE: Final = {
    **{code: " " for code in range(0x20)},
    0x7F: " ",
    **{code: " " for code in range(0x80, 0xA0)},
    0x2028: " ",
    0x2029: " ",
}


def single_line(text: str, max_chars: int) -> str:
    """`text` made one line (every line break and control character a space), at most `max_chars` long.

    For texts that come from agents and devices (a State's text, a printer's alert) on
    their way into an e-mail subject, a log line or a metric tag, where a line break
    would raise, forge a header or a log line, or end the record.
    """
    flat = text.translate(_NOT_ON_ONE_LINE)
    return flat if len(flat) <= max_chars else flat[: max(max_chars - 1, 0)] + "…"


def topic(prefix: str, agent_id: str, kind: Kind) -> str:
    """The topic on which `agent_id` sends or receives `kind` messages."""
    return f"{prefix}/{agent_id}/{kind.value}"


def parse_topic(prefix: str, name: str) -> tuple[str, Kind]:
    """Split `<prefix>/<agent_id>/<kind>` into the agent id and kind, or raise ProtocolError."""
    head = prefix + "/"
    if not name.startswith(head):
        raise ProtocolError(f"topic {name!r} is not under {prefix!r}", ProtocolErrorCode.BAD_TOPIC)
    parts = name[len(head) :].split("/")
    if len(parts) != 2:
        raise ProtocolError(f"topic {name!r} is not <prefix>/<agent_id>/<kind>", ProtocolErrorCode.BAD_TOPIC)
    agent_id, kind_name = parts
    if not is_valid_agent_id(agent_id):
        raise ProtocolError(
            f"topic {name!r} names an invalid agent id {agent_id!r}", ProtocolErrorCode.BAD_TOPIC
        )
    try:
        return agent_id, Kind(kind_name)
    except ValueError:
        raise ProtocolError(
            f"topic {name!r} has unknown kind {kind_name!r}", ProtocolErrorCode.BAD_TOPIC
        ) from None


_agent_id_rule = re.compile(AGENT_ID_PATTERN)


def is_valid_agent_id(agent_id: str) -> bool:
    """True if `agent_id` is usable as a topic level and a metric label (the AgentId rule)."""
    return _agent_id_rule.match(agent_id) is not None


def signing_bytes(command: Command) -> bytes:
    """The exact bytes a command's signature covers: the command without its signature."""
    return _encoder.encode(msgspec.structs.replace(command, signature=""))


def to_builtins(message: Message | Sample | State) -> Mapping[str, Any]:
    """A message as plain dicts and lists, for printing and for JSON APIs."""
    result: Mapping[str, Any] = msgspec.to_builtins(message)
    return result
