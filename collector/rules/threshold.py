"""A number above its mark for a minimum time; once firing it clears only below the lower mark."""

from __future__ import annotations

from collections import deque

from agent.protocol import NS
from collector.rules.condition import Condition, each_enabled, on_series, series_key
from collector.rules.settings import Settings, ThresholdRule
from collector.state import FleetState


def evaluate(state: FleetState, settings: Settings) -> list[Condition]:
    return each_enabled(state, settings.threshold, _evaluate_rule)


def _evaluate_rule(state: FleetState, rule: ThresholdRule) -> list[Condition]:
    found = []
    clear_below = rule.above if rule.clear_below is None else rule.clear_below
    window_start = state.as_of - int(rule.min_duration_seconds * NS)
    # at or below both marks it fires neither way: most series of a quiet fleet end here
    quiet_at = min(rule.above, clear_below)
    for series in state.tracked_series(rule.measurement, rule.field):
        latest, value = series.latest
        if value <= quiet_at:
            continue
        if not state.current(series.scope, series.agent_id, latest):
            continue  # no longer reported (a mount that went away); an away agent's last word stands
        tags = dict(series.tags)
        parts = [tags.get(t, "") for t in rule.key_tags]
        key = series_key(series, rule.name, *parts)
        if key in state.active:
            firing = value > clear_below
        else:
            firing = _held_above(series.points, rule.above, window_start)
        if not firing:
            continue
        summary = rule.summary.format_map(_Fill(tags, field=rule.field, value=value))
        since = _above_since(series.points, rule.above)
        found.append(on_series(series, rule, rule.name, key, summary, since, latest))
    return found


def _held_above(points: deque[tuple[int, float]], above: float, window_start: int) -> bool:
    """True if every point since `window_start`, and the one before it, is above the mark."""
    for t, v in reversed(points):
        if v <= above:
            return False
        if t <= window_start:
            return True
    return False  # the history does not reach back far enough yet


def _above_since(points: deque[tuple[int, float]], above: float) -> int:
    since = points[-1][0]
    for t, v in reversed(points):
        if v <= above:
            break
        since = t
    return since


class _Fill(dict[str, object]):
    """Summary template values; a tag the series lacks renders empty instead of raising."""

    def __init__(self, tags: dict[str, str], **values: object) -> None:
        super().__init__(tags, **values)

    def __missing__(self, key: str) -> str:
        return ""
