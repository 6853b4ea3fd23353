"""Working hours as an office writes them: "Mon-Fri 07:00-19:00, Sat 08:00-12:00" (pure).

"always" means every hour of the week (a site that never closes) and "never" none. A
span whose end is before its start runs past midnight ("Mon-Fri 22:00-06:00" is a night
shift). Times are wall-clock times in the site's time zone, daylight saving included.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass
from typing import Final

from agent.protocol import NS

_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN: Final = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)
_WEEK: Final = 7 * 24 * 60


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """The minutes of the week (Monday 00:00 = 0) when a site is at work."""

    text: str
    spans: tuple[tuple[int, int], ...]  # [start, end) in minutes of the week, never wrapping

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """Parse the written form; ValueError says which part is wrong."""
        cleaned = text.strip().lower()
        if cleaned == "always":
            return cls(text, ((0, _WEEK),))
        if cleaned == "never":
            return cls(text, ())
        spans: list[tuple[int, int]] = []
        for part in (p.strip() for p in cleaned.split(",")):
            match = _SPAN.match(part)
            if match is None:
                raise ValueError(
                    f"working hours {part!r}: expected like 'Mon-Fri 07:00-19:00', 'always' or 'never'"
                )
            first, last = match["first"], match["last"] or match["first"]
            if first not in _DAYS or last not in _DAYS:
                raise ValueError(f"working hours {part!r}: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun")
            start, end = _minutes(match["start"], part), _minutes(match["end"], part)
            a, b = _DAYS.index(first), _DAYS.index(last)
            for day in range(a, (b if b >= a else b + 7) + 1):
                begin = (day % 7) * 1440 + start
                finish = (day % 7) * 1440 + end + (1440 if end <= start else 0)
                if finish <= _WEEK:
                    spans.append((begin, finish))
                else:  # Sunday night into Monday morning
                    spans += [(begin, _WEEK), (0, finish - _WEEK)]
        return cls(text, tuple(sorted(spans)))

    def contains(self, time_ns: int, zone: str) -> bool:
        """True if `time_ns` falls within these hours in time zone `zone`."""
        local = dt.datetime.fromtimestamp(time_ns / NS, self.zone(zone))
        minute = local.weekday() * 1440 + local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.spans)

    @staticmethod
    @functools.cache
    def zone(name: str) -> zoneinfo.ZoneInfo:
        """The time zone `name` ("Europe/Berlin"); ValueError if the system does not know it."""
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {name!r}") from err


def _minutes(text: str, part: str) -> int:
    hours, minutes = map(int, text.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ValueError(f"working hours {part!r}: {text} is not a time of day")
    return hours * 60 + minutes


@functools.cache
def working_hours(text: str) -> WorkingHours:
    """`WorkingHours.parse`, once per distinct text (rules ask for every lost agent, every cycle)."""
    return WorkingHours.parse(text)
