"""Rules: pure functions from FleetState and Settings to the Conditions present now.

`RULES` is the registry; each entry is `evaluate(state, settings) -> list[Condition]`
and reads `state.as_of` for the time. Which thresholds, states and rates they check is
data: `defaults.toml`, merged with the operator's rules file by `load_settings()`.
"""

from __future__ import annotations

from collections.abc import Callable

from collector.rules import level, presence, rate, states, threshold
from collector.rules.condition import Category, Condition
from collector.rules.settings import Settings, SettingsError, load_settings
from collector.state import FleetState

Rule = Callable[[FleetState, Settings], list[Condition]]

RULES: dict[str, Rule] = {
    "threshold": threshold.evaluate,
    "level": level.evaluate,
    "state": states.evaluate,
    "rate": rate.evaluate,
    "agent_lost": presence.evaluate,
}


def evaluate(state: FleetState, settings: Settings) -> list[Condition]:
    """Every rule's conditions, in registry order."""
    found: list[Condition] = []
    for rule in RULES.values():
        found += rule(state, settings)
    return found


__all__ = ["RULES", "Category", "Condition", "Settings", "SettingsError", "evaluate", "load_settings"]
