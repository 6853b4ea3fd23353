"""agent.toml decoded into one AgentConfig, with every default in the structs.

The agent runs with no file at all: agent id = host name, broker on 127.0.0.1:1883.
A bad value stops the agent at start-up with one line naming the file (or flag), the
key and what is wrong: `agent.toml: Expected `float`, got `str` - at `$.interval_seconds``.
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec

from agent import inventory, protocol
from agent.broker import MqttSettings
from agent.diagnostics.settings import Settings as CommandSettings
from agent.errors import ConfigError
from agent.snmp.settings import Settings as SnmpSettings
from agent.sources import host, network


class SpoolSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `[spool]` table: the on-disk store of batches not yet acknowledged by the broker."""

    path: str = ""  # default: see default_spool_path()
    # when full, the oldest batches are dropped (and counted)
    max_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024)] = 64 * 2**20


class AgentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything in agent.toml."""

    # default: this PC's host name; letters, digits, '.', '_' and '-', at most 64
    agent_id: Annotated[str, msgspec.Meta(pattern=r"^\Z|" + protocol.AGENT_ID_PATTERN)] = ""
    site: Annotated[str, msgspec.Meta(max_length=64)] = (
        ""  # the office or branch; incidents are grouped by it
    )
    interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = (
        30.0  # how often sources run unless they set their own
    )
    # random delay per round, so 1,000 PCs don't publish in the same second
    jitter_seconds: Annotated[float, msgspec.Meta(ge=0)] = 2.0
    # A PC that must never be away (reception, kiosk, a PC that serves others): the collector
    # opens "agent lost" for it at any hour, even if it has a battery.
    always_on: bool = False
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    spool: SpoolSettings = msgspec.field(default_factory=SpoolSettings)
    host: host.Settings = msgspec.field(default_factory=host.Settings)
    network: network.Settings = msgspec.field(default_factory=network.Settings)
    snmp: SnmpSettings = msgspec.field(default_factory=SnmpSettings)
    inventory: inventory.Settings = msgspec.field(default_factory=inventory.Settings)
    # The collector's public key (`deskwatch-collector signing-key` prints it): commands
    # signed with anything else are refused, and with no key every command is.
    command_key: Annotated[str, msgspec.Meta(pattern=r"^\Z|^[A-Za-z0-9+/]{43}=\Z")] = ""
    commands: CommandSettings = msgspec.field(default_factory=CommandSettings)

    @property
    def resolved_agent_id(self) -> str:
        return self.agent_id or default_agent_id()

    @property
    def spool_path(self) -> Path:
        return Path(self.spool.path) if self.spool.path else default_spool_path()


# Command-line flags and the config keys they set.
FLAG_KEYS = {
    "broker": ("mqtt", "broker"),
    "agent_id": ("agent_id",),
    "site": ("site",),
    "interval": ("interval_seconds",),
    "spool": ("spool", "path"),
    "device": ("snmp", "device_urls"),
    "command_key": ("command_key",),
    "ca_file": ("mqtt", "ca_file"),
}


def load(
    path: Path | None, overrides: dict[str, Any] | None = None, origins: dict[str, str] | None = None
) -> AgentConfig:
    """Read agent.toml (or nothing), apply flag overrides, validate; ConfigError says what is wrong.

    `origins` names where an override came from when it is not a flag (the Windows
    registry for an MSI property), so an error cites that place instead of `--flag`.
    """
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
    flag_paths: dict[str, str] = {}
    for flag, value in (overrides or {}).items():
        if value is None:
            continue
        keys = FLAG_KEYS[flag]
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
        flag_paths["$." + ".".join(keys)] = (origins or {}).get(flag) or "--" + flag.replace("_", "-")
    try:
        return msgspec.convert(raw, AgentConfig)
    except msgspec.ValidationError as err:
        message = str(err)
        found = re.search(r"at `(\$[^`]*)`", message)
        where = found.group(1) if found else None
        culprit = next((f for p, f in flag_paths.items() if where and p.startswith(where)), None)
        if culprit is not None:
            raise ConfigError(f"{culprit}: {message}") from None
        raise ConfigError(f"{source}: {message}") from None


def default_agent_id() -> str:
    """This PC's host name, made safe for topics and metric labels."""
    name = socket.gethostname().split(".")[0] or "agent"
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name).lstrip("._-")[:64]
    return name or "agent"


def default_spool_path() -> Path:
    """Where the spool lives when agent.toml does not say: a system path for a service, else per user."""
    if sys.platform == "win32":
        from agent.windows import paths

        return paths.spool_path()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        if sys.platform == "darwin":
            return Path("/Library/Application Support/deskwatch/spool.db")
        return Path("/var/lib/deskwatch/spool.db")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "deskwatch" / "spool.db"
