"""The caller's picture as the lookup answers it: plain Structs shared by the server and `deskwatch whois`.

Pure: msgspec and the wire contract only, so the helpdesk CLI decodes the answer into
the same types the server encodes without importing the server's stores.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from agent.protocol import Hardware, Network, OsInfo


class IncidentView(msgspec.Struct, frozen=True):
    id: int
    status: str
    severity: str
    agent_id: str
    device: str
    condition: str
    summary: str
    opened_ns: int
    resolved_ns: int | None


class FailingCheck(msgspec.Struct, frozen=True):
    condition: str
    severity: str
    subject: str
    summary: str
    since_ns: int
    observed_ns: int = 0  # when the agent last reported it
    current: bool = True  # False: the agent is away, this is its last word


class PrinterView(msgspec.Struct, frozen=True):
    name: str
    driver: str
    uri: str
    host: str
    default: bool
    state: str  # what the PC's print system says now


class DeviceView(msgspec.Struct, frozen=True):
    """A printer or modem this PC's agent polls, with what it reports as wrong now."""

    device: str
    problems: list[str]
    last_seen_ns: int
    monitoring: str = "answers"  # answers, unreachable, not monitored by SNMP
    address: str = ""


class ChangeView(msgspec.Struct, frozen=True):
    time_ns: int
    kind: str
    subject: str
    before: str
    after: str


class Software(msgspec.Struct, frozen=True):
    source: str
    total: int
    recent_changes: list[ChangeView]  # newest first: what was installed, updated, removed lately
    packages: list[tuple[str, str]]  # (name, version)


class ArticleView(msgspec.Struct, frozen=True):
    slug: str
    title: str
    steps: list[str]


class Picture(msgspec.Struct, frozen=True):
    """One PC as the helpdesk sees it during a call; the most urgent parts first."""

    agent_id: str
    matched_by: str  # "serial PF3ABC12"
    site: str
    status: str  # online, offline, asleep, lost, stale, unknown
    last_seen_ns: int
    open_incidents: list[IncidentView]
    failing_checks: list[FailingCheck]
    host: str
    users: list[str]
    hardware: Hardware | None
    os: OsInfo | None
    boot_ns: int
    uptime_seconds: int
    network: Network | None
    printers: list[PrinterView]
    devices: list[DeviceView]
    software: Software | None
    incident_history: list[IncidentView]  # this PC's resolved incidents, newest first
    user_incidents: list[IncidentView]  # incidents on the other PCs of its users
    articles: list[ArticleView]
    inventory_ns: int  # when the agent took the inventory shown (0: none received yet)


class Candidate(msgspec.Struct, frozen=True):
    """One PC of several that match, with what tells it apart from the others."""

    agent_id: str
    matched_by: str
    host: str
    site: str
    status: str
    users: list[str]
    addresses: list[str] = []
    macs: list[str] = []
    last_seen_ns: int = 0
    selector: str = ""  # the query that finds exactly this PC: "agent:ID"


class DevicePicture(msgspec.Struct, frozen=True):
    """A printer or modem found by serial or address, and the PCs that see it."""

    device: str
    matched_by: str
    site: str
    address: str
    monitoring: str
    problems: list[str]
    last_seen_ns: int
    seen_by: list[Candidate]
    open_incidents: list[IncidentView]


class Lookup(msgspec.Struct, frozen=True):
    """The answer: `found` with `pc`, `device` with `device`, `ambiguous` with `candidates`, or
    `unknown` with none of them."""

    query: str
    result: Literal["found", "device", "ambiguous", "unknown"]
    message: str
    candidates: list[Candidate] = []
    pc: Picture | None = None
    device: DevicePicture | None = None
