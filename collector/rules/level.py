"""A level at or below its low mark: a printer's toner, drum or kit running out, a waste box filling.

Many printers never raise their own low-supply alert (or only at 0 %, or only on the
panel), so the level itself is the rule. Once firing it clears only at `clear_above`
(hysteresis), so a cartridge shaken to read 11 % does not close and reopen the ticket.
RFC 3805 gives a receptacle's level as the space left, so "at or below 10 %" of a waste
toner box means nearly full. Negative levels are the RFC's "unknown"/"some left" codes,
never numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.rules.condition import Condition, each_enabled, on_series, series_key
from collector.rules.settings import LevelRule, Settings
from collector.rules.threshold import _Fill
from collector.state import FleetState, Scope, Series


def evaluate(state: FleetState, settings: Settings) -> list[Condition]:
    return each_enabled(state, settings.level, _evaluate_rule)


def _evaluate_rule(state: FleetState, rule: LevelRule) -> list[Condition]:
    found = []
    name = rule.condition or rule.name
    clear_above = rule.below if rule.clear_above is None else rule.clear_above
    for series in state.tracked_series(rule.measurement, rule.field):
        tags = dict(series.tags)
        if any(tags.get(tag, "") not in allowed for tag, allowed in rule.match.items()):
            continue
        readings = _current_readings(state, series)
        if not readings:
            continue  # nobody reports it lately: its incident stays as it is
        latest, value = min(readings, key=lambda r: r[1])  # the lowest any reporter reads now
        parts = [tags.get(t, "") for t in rule.key_tags]
        key = series_key(series, name, *parts)
        if not (value < clear_above if key in state.active else value <= rule.below):
            continue
        summary = rule.summary.format_map(_Fill(tags, field=rule.field, value=value))
        since = _low_since(series.points, clear_above)
        found.append(on_series(series, rule, name, key, summary, since, latest))
    return found


def _current_readings(state: FleetState, series: Series) -> list[tuple[int, float]]:
    """The newest reading of every current reporter (a device's PCs), RFC 3805 codes left out."""
    if series.scope is Scope.DEVICE and series.latest_by:
        readings = [
            (t, v) for agent, (t, v) in series.latest_by.items() if state.current(Scope.DEVICE, agent, t)
        ]
    else:
        readings = [series.latest] if state.current(series.scope, series.agent_id, series.latest[0]) else []
    return [(t, v) for t, v in readings if v >= 0]


def _low_since(points: Iterable[tuple[int, float]], clear_above: float) -> int:
    """When the level last went below the clear mark, as far as the history reaches."""
    since = 0
    for t, v in reversed(list(points)):
        if v >= clear_above:
            break
        since = t
    return since
