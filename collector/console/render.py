"""Jinja2 templates of the console and the filters they use (times, durations, sparklines)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from agent.protocol import NS

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def when(ns: int | None) -> str:
    """A time as the helpdesk reads it: UTC, to the minute."""
    if not ns:
        return "–"
    return dt.datetime.fromtimestamp(ns / NS, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(ns: int | None) -> str:
    return "" if not ns else dt.datetime.fromtimestamp(ns / NS, dt.UTC).isoformat(timespec="seconds")


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def sparkline(
    points: Sequence[tuple[int, float]], width: int = 160, height: int = 28, top: float = 100
) -> str:
    """SVG polyline points for a series of (ns, value), scaled to 0..`top` (or its own maximum)."""
    if len(points) < 2:
        return ""
    t0, t1 = points[0][0], points[-1][0]
    peak = max(top, max(v for _, v in points)) or 1
    span = (t1 - t0) or 1
    return " ".join(
        f"{(t - t0) / span * width:.1f},{height - min(v, peak) / peak * height:.1f}" for t, v in points
    )


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, iso=iso, duration=duration, sparkline=sparkline)
    return env


class Templates:
    """Renders a template by name with the context every page has."""

    def __init__(self) -> None:
        self.env = environment()

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)
