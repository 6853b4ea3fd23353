"""The API's answers as the helpdesk CLI reads them: one type per response body.

The API's response bodies are decoded into the very types the server answers with
(collector.answers, collector.incidents.model.Incident, collector.incidents.silences.Silence:
pure modules). A field the server renames or drops fails the decode with a clear message
instead of a KeyError in the middle of a table; unknown fields are ignored. What is defined
here are the result documents of the checks the CLI reads beyond their problems.
"""

from __future__ import annotations

import msgspec

from collector.answers import Agent, Article, ArticleRef, Diagnostic, Event, IncidentDetail, IncidentPage
from collector.incidents.model import Incident
from collector.incidents.silences import Silence

__all__ = [
    "Agent",
    "Article",
    "ArticleRef",
    "CheckResult",
    "Diagnostic",
    "Event",
    "Incident",
    "IncidentDetail",
    "IncidentPage",
    "Silence",
    "Triage",
]


class _Answer(msgspec.Struct, frozen=True):
    pass


# The result documents of the checks the CLI reads beyond their problems. Each part the
# agent had to cut for size arrives as a "<cut: ...>" text instead, hence `| str`.


class CheckResult(_Answer, frozen=True):
    """What every check's result has: the problems it found, in words."""

    problems: list[str] = []


class Finding(_Answer, frozen=True):
    """One area of a triage, fine or not."""

    area: str
    ok: bool = False


class Link(_Answer, frozen=True):
    """A network interface as network_config reports it."""

    name: str
    addresses: list[str] = []
    up: bool = False


class Wifi(_Answer, frozen=True):
    interface: str
    signal_dbm: int | float | None = None
    signal_percent: int | float | None = None


class NetworkConfig(_Answer, frozen=True):
    interfaces: list[Link] = []
    gateway: str = ""
    dns_servers: list[str] = []
    wifi: list[Wifi] = []


class DiskUse(_Answer, frozen=True):
    mount: str
    used_percent: float
    free_bytes: int


class Disks(_Answer, frozen=True):
    disks: list[DiskUse]


class MemoryUse(_Answer, frozen=True):
    used_percent: float
    available_bytes: int


class SwapUse(_Answer, frozen=True):
    used_percent: float = 0


class Memory(_Answer, frozen=True):
    memory: MemoryUse | None = None
    swap: SwapUse = msgspec.field(default_factory=SwapUse)


class Process(_Answer, frozen=True):
    name: str
    cpu_percent: float


class Cpu(_Answer, frozen=True):
    cpu_percent: float = 0
    processes: list[Process] = []


class Identity(_Answer, frozen=True):
    model: str | None = None


class Supply(_Answer, frozen=True):
    description: str | None = None
    level_percent: float | None = None


class Printer(_Answer, frozen=True):
    """A printer (or a device that did not answer) as the triage polled it."""

    address: str
    reachable: bool = False
    identity: Identity = msgspec.field(default_factory=Identity)
    status: str = "?"
    supplies: list[Supply] = []


class Triage(CheckResult, frozen=True):
    """The triage check's result: the areas, and the parts its one screen shows."""

    findings: list[Finding] | str = []
    pending: list[str] | str = []
    network_config: NetworkConfig | str | None = None
    disk: Disks | str | None = None
    memory: Memory | str | None = None
    cpu: Cpu | str | None = None
    printers: list[Printer] | str = []
