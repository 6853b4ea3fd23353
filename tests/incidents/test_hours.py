"""Working hours and who is expected at work: the shipped default (Mon-Fri 07:00-19:00, UTC),
site overrides with their own time zones, laptops and always-on agents (pure).

The office-day scenarios run with "always" and "never" so that they pass at any hour of the
night; the clock-bound cases are here, at fixed instants.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from agent.protocol import NS, AgentFacts
from collector.observers import AgentStatus
from collector.rules.hours import WorkingHours
from collector.rules.presence import away_reason, expected
from collector.rules.settings import AgentLostRule, SiteHours
from collector.state import AgentEntry


def at(text: str, zone: str = "UTC") -> int:
    """'2026-12-07 06:59' (a Monday) in `zone`, as Unix nanoseconds."""
    local = dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return int(local.timestamp()) * NS


SHIPPED = AgentLostRule()


@pytest.mark.parametrize(
    ("hours", "when", "zone", "inside"),
    [
        ("Mon-Fri 07:00-19:00", "2026-12-07 06:59", "UTC", False),  # Monday, a minute early
        ("Mon-Fri 07:00-19:00", "2026-12-07 07:00", "UTC", True),
        ("Mon-Fri 07:00-19:00", "2026-12-11 18:59", "UTC", True),  # Friday
        ("Mon-Fri 07:00-19:00", "2026-12-11 19:00", "UTC", False),  # the end is not inside
        ("Mon-Fri 07:00-19:00", "2026-12-12 10:00", "UTC", False),  # Saturday
        ("Mon-Fri 07:00-19:00, Sat 08:00-12:00", "2026-12-12 10:00", "UTC", True),
        ("Mon-Fri 22:00-06:00", "2026-12-08 03:00", "UTC", True),  # a night shift past midnight
        ("Mon-Fri 22:00-06:00", "2026-12-07 03:00", "UTC", False),  # Monday 03:00: Sunday had none
        ("Sun 22:00-06:00", "2026-12-07 05:59", "UTC", True),  # Sunday night into Monday
        # 07:30 in Berlin is 06:30 UTC in winter: inside for Berlin's hours, outside for UTC's
        ("Mon-Fri 07:00-19:00", "2026-12-07 07:30", "Europe/Berlin", True),
        ("Mon-Fri 07:00-19:00", "2026-07-06 07:30", "Europe/Berlin", True),  # summer time too
        ("always", "2026-12-13 03:00", "UTC", True),
        ("never", "2026-12-07 10:00", "UTC", False),
    ],
)
def test_working_hours_at_fixed_instants(hours: str, when: str, zone: str, inside: bool) -> None:
    assert WorkingHours.parse(hours).contains(at(when, zone), zone) is inside


def test_berlin_morning_is_outside_utc_hours() -> None:
    assert not WorkingHours.parse("Mon-Fri 07:00-19:00").contains(
        at("2026-12-07 07:30", "Europe/Berlin"), "UTC"
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Mon-Fri 7-19", "expected like 'Mon-Fri 07:00-19:00'"),
        ("Mon-Fry 07:00-19:00", "days are Mon, Tue"),
        ("Mon-Fri 07:00-25:00", "25:00"),
    ],
)
def test_a_mistyped_working_day_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        WorkingHours.parse(text)


def agent(site: str, since_ns: int, *, battery: bool = False, always_on: bool = False) -> AgentEntry:
    facts = AgentFacts("1.0", "host", "Windows 11", 30.0, since_ns, battery=battery, always_on=always_on)
    return AgentEntry("pc", site, AgentStatus.LOST, since_ns, since_ns, facts)


BERLIN = AgentLostRule(
    sites={"berlin": SiteHours(working_hours="Mon-Sat 08:00-18:00", timezone="Europe/Berlin")}
)


@pytest.mark.parametrize(
    ("rule", "pc", "is_expected", "reason"),
    [
        # the shipped rule: a desktop vanishing Monday 10:00 UTC is lost; at 20:00 it went home
        (SHIPPED, agent("hq", at("2026-12-07 10:00")), True, ""),
        (SHIPPED, agent("hq", at("2026-12-07 20:00")), False, "away outside working hours"),
        (SHIPPED, agent("hq", at("2026-12-12 10:00")), False, "away outside working hours"),
        # a laptop is never lost, unless the rule says laptops count
        (SHIPPED, agent("hq", at("2026-12-07 10:00"), battery=True), False, "laptop away"),
        (AgentLostRule(laptops=True), agent("hq", at("2026-12-07 10:00"), battery=True), True, ""),
        (
            AgentLostRule(laptops=True),
            agent("hq", at("2026-12-07 20:00"), battery=True),
            False,
            "away outside working hours",
        ),
        # always-on: at any hour, laptop or not
        (SHIPPED, agent("hq", at("2026-12-13 03:00"), always_on=True), True, ""),
        (SHIPPED, agent("hq", at("2026-12-13 03:00"), battery=True, always_on=True), True, ""),
        # a site with its own hours and time zone: Saturday 08:30 in Berlin is at work there
        (BERLIN, agent("berlin", at("2026-12-12 08:30", "Europe/Berlin")), True, ""),
        (
            BERLIN,
            agent("berlin", at("2026-12-07 07:30", "Europe/Berlin")),
            False,
            "away outside working hours",
        ),
        (BERLIN, agent("hq", at("2026-12-12 08:30", "Europe/Berlin")), False, "away outside working hours"),
    ],
)
def test_who_is_expected_at_work(rule: AgentLostRule, pc: AgentEntry, is_expected: bool, reason: str) -> None:
    assert expected(pc, rule) is is_expected
    assert away_reason(pc, rule) == reason


def test_an_agent_that_said_goodbye_or_sleeps_is_never_lost() -> None:
    monday = at("2026-12-07 10:00")
    for status, reason in ((AgentStatus.ASLEEP, "asleep"), (AgentStatus.OFFLINE, "shut down")):
        pc = agent("hq", monday)
        assert (
            away_reason(AgentEntry(pc.agent_id, pc.site, status, monday, monday, pc.facts), SHIPPED) == reason
        )
