"""A value that will reach zero within the horizon at the rate of its recent history."""

from __future__ import annotations

from collections.abc import Sequence

from agent.protocol import NS
from collector.rules.condition import Condition, each_enabled, on_series, series_key
from collector.rules.settings import RateRule, Settings
from collector.rules.threshold import _Fill
from collector.state import FleetState


def evaluate(state: FleetState, settings: Settings) -> list[Condition]:
    return each_enabled(state, settings.rate, _evaluate_rule)


def _evaluate_rule(state: FleetState, rule: RateRule) -> list[Condition]:
    found = []
    name = rule.condition or rule.name
    start = state.as_of - int(rule.window_seconds * NS)
    for series in state.tracked_series(rule.measurement, rule.field):
        if not series.points or not state.current(series.scope, series.agent_id, series.latest[0]):
            continue
        points = [(t, v) for t, v in series.points if t >= start and v >= 0]  # < 0: RFC 3805 "unknown"
        points = since_last_rise(points, rule.reset_rise)
        left = seconds_left(points, rule.min_points, rule.min_span_seconds)
        if left is None or left >= rule.horizon_seconds:
            continue
        tags = dict(series.tags)
        parts = [tags.get(t, "") for t in rule.key_tags]
        key = series_key(series, name, *parts)
        what = " ".join(p for p in parts if p) or rule.field
        left_units = left / rule.unit_seconds
        summary = rule.summary.format_map(_Fill(tags, what=what, left=left_units, unit=rule.unit))
        tagged = (*series.tags, ("left_" + rule.unit, f"{left_units:.1f}"))
        found.append(on_series(series, rule, name, key, summary, points[0][0], series.latest[0], tagged))
    return found


def since_last_rise(points: Sequence[tuple[int, float]], reset_rise: float) -> list[tuple[int, float]]:
    """The points after the last refill: a rise larger than `reset_rise` of the values' range."""
    if not points:
        return []
    scale = max(abs(v) for _, v in points) or 1.0
    start = 0
    for i in range(1, len(points)):
        if points[i][1] - points[i - 1][1] > reset_rise * scale:
            start = i
    return list(points[start:])


def seconds_left(
    points: Sequence[tuple[int, float]], min_points: int, min_span_seconds: float
) -> float | None:
    """Seconds until the least-squares line through `points` reaches zero; None if not falling."""
    if len(points) < min_points:
        return None
    t0 = points[0][0]
    xs = [(t - t0) / NS for t, _ in points]
    if xs[-1] < min_span_seconds:
        return None
    ys = [v for _, v in points]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    if slope >= 0:
        return None
    now_value = my + slope * (xs[-1] - mx)  # the fitted value now, steadier than the last reading
    return max(now_value, 0.0) / -slope
