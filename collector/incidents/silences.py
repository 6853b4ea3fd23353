"""Silences and maintenance windows: which conditions they cover, at which time (pure)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from collector.rules.condition import Condition


class SilenceKind(enum.StrEnum):
    """A maintenance window opens no incident; a silence opens one but sends nothing."""

    MAINTENANCE = "maintenance"
    SILENCE = "silence"


@dataclass(frozen=True, slots=True)
class Silence:
    """Covers conditions that match every non-empty matcher, from `starts_ns` until `ends_ns`."""

    id: int
    kind: SilenceKind
    starts_ns: int
    ends_ns: int
    site: str = ""
    device: str = ""
    agent_id: str = ""
    condition: str = ""
    reason: str = ""
    created_by: str = ""
    # who took it away before its end, and when (0: never removed); a removed one covers nothing
    removed_by: str = ""
    removed_ns: int = 0

    def active(self, as_of: int) -> bool:
        return not self.removed_ns and self.starts_ns <= as_of < self.ends_ns

    def covers(self, c: Condition) -> bool:
        if self.site and self.site != c.site:
            return False
        if self.device and self.device != c.device:
            return False
        if self.agent_id and self.agent_id != c.agent_id and self.agent_id not in c.affected:
            return False
        return not (self.condition and self.condition not in (c.condition, c.rule))


def covering(silences: list[Silence], c: Condition, as_of: int, kind: SilenceKind) -> Silence | None:
    """The first active silence of `kind` that covers `c`."""
    for s in silences:
        if s.kind is kind and s.active(as_of) and s.covers(c):
            return s
    return None
