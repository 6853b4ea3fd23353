"""The caller's figures from VictoriaMetrics: values now, the last hour, checks and printer supplies.

One PromQL (MetricsQL) query per part, over the HTTP query API at `[metrics] url`; a
database that does not answer within `timeout_seconds` leaves that part empty and the
page says so, instead of holding up the helpdesk. Labels are escaped into selectors, so
an agent id or serial can never change a query.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import msgspec

from agent.protocol import NS

log = logging.getLogger(__name__)
# Only what the agent sent within this window counts as "now" (VictoriaMetrics' lookback).
NOW_WINDOW_SECONDS = 300
HOUR_STEP_SECONDS = 60


class _Result(msgspec.Struct):
    metric: dict[str, str]
    value: tuple[float, str] | None = None  # instant query
    values: list[tuple[float, str]] = []  # range query


class _Data(msgspec.Struct):
    result: list[_Result]


class _Answer(msgspec.Struct):
    """The Prometheus query API's answer (VictoriaMetrics gives the same)."""

    data: _Data


@dataclass(frozen=True, slots=True)
class Value:
    labels: dict[str, str]
    value: float
    time_ns: int


@dataclass(frozen=True, slots=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[int, float]]  # (time ns, value)


@dataclass(frozen=True, slots=True)
class Gauge:
    """One figure now, with the last hour for a sparkline."""

    name: str
    unit: str
    now: float | None
    time_ns: int
    hour: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Check:
    """A state the agent reports (a network check, a printer condition) and when it last did."""

    condition: str
    subject: str
    ok: bool
    severity: str
    last_seen_ns: int


@dataclass(frozen=True, slots=True)
class Supply:
    device: str
    name: str
    level_percent: float


@dataclass(frozen=True, slots=True)
class Tray:
    device: str
    name: str
    level_percent: float | None


@dataclass(frozen=True, slots=True)
class Health:
    """What the metrics database says about one PC right now (`reachable` False: it did not answer)."""

    reachable: bool
    gauges: list[Gauge]
    checks: list[Check]


@dataclass(frozen=True, slots=True)
class DeviceFigures:
    reachable: bool
    supplies: list[Supply]
    trays: list[Tray]
    alerts: dict[str, float]  # device -> active alerts
    errors: dict[str, float]  # device -> active error bits


def label(value: str) -> str:
    """A label value as a PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _any_of(values: Sequence[str]) -> str:
    """A regex literal matching exactly one of `values`."""
    return label("|".join(re.escape(v) for v in values))


class MetricsReader:
    """Reads the metrics database's Prometheus query API."""

    def __init__(self, url: str, token: str = "", timeout_seconds: float = 2.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_seconds)

    def close(self) -> None:
        self._client.close()

    def instant(self, query: str) -> list[Value]:
        found = []
        for r in self._get("/api/v1/query", {"query": query}):
            if r.value is not None and _finite(r.value[1]):
                found.append(Value(r.metric, float(r.value[1]), int(r.value[0] * NS)))
        return found

    def range(self, query: str, start_ns: int, end_ns: int, step_seconds: float) -> list[Series]:
        params = {"query": query, "start": f"{start_ns / NS:.3f}", "end": f"{end_ns / NS:.3f}"}
        params["step"] = f"{step_seconds:g}s"
        return [
            Series(r.metric, [(int(t * NS), float(v)) for t, v in r.values if _finite(v)])
            for r in self._get("/api/v1/query_range", params)
        ]

    def _get(self, path: str, params: dict[str, str]) -> list[_Result]:
        response = self._client.get(path, params=params)
        response.raise_for_status()
        return msgspec.json.decode(response.content, type=_Answer).data.result

    def health(self, agent_id: str, now_ns: int) -> Health:
        """CPU, memory and each disk now and over the last hour; every check the PC reports.

        Three queries: one range query for all the figures (the newest point within the
        5-minute lookback is "now"), and the checks' last value and last-seen time."""
        pc = f"agent_id={label(agent_id)}"
        names = {"cpu_used_percent": "CPU", "memory_used_percent": "Memory", "disk_used_percent": "Disk"}
        try:
            hour = self.range(
                f'{{__name__=~"{"|".join(names)}",{pc}}}', now_ns - 3600 * NS, now_ns, HOUR_STEP_SECONDS
            )
            ok = self.instant(f"last_over_time(state_ok{{{pc}}}[1h])")
            seen = {
                _key(v.labels): int(v.value * NS)
                for v in self.instant(f"tlast_over_time(state_ok{{{pc}}}[1h])")
            }
        except (httpx.HTTPError, msgspec.MsgspecError, ValueError) as err:
            log.debug("metrics database: %s", err)
            return Health(False, [], [])
        order = list(names)
        hour.sort(key=lambda s: (order.index(s.labels.get("__name__", "")), s.labels.get("mount", "")))
        recent = now_ns - NOW_WINDOW_SECONDS * NS
        gauges = []
        for series in hour:
            name = names.get(series.labels.get("__name__", ""), "?")
            if name == "Disk":
                name = f"Disk {series.labels.get('mount', '')}"
            last = series.points[-1] if series.points else None
            current = last is not None and last[0] >= recent
            gauges.append(
                Gauge(name, "%", last[1] if current and last else None, last[0] if last else 0, series.points)
            )
        checks = [
            Check(
                v.labels.get("condition", ""),
                v.labels.get("subject", ""),
                v.value >= 1,
                v.labels.get("severity", ""),
                seen.get(_key(v.labels), 0),
            )
            for v in ok
            if not v.labels.get("device")  # a printer's states belong to the printer
        ]
        checks.sort(key=lambda c: (c.ok, c.condition, c.subject))
        return Health(True, gauges, checks)

    def devices(self, devices: Sequence[str]) -> DeviceFigures:
        """Supply and tray levels and active alerts of the printers `devices`, whoever polls them."""
        if not devices:
            return DeviceFigures(True, [], [], {}, {})
        sel = f"device=~{_any_of(devices)}"
        try:
            supplies = self.instant(
                f"max by (device, supply) (last_over_time(printer_supply_level_percent{{{sel}}}[1h]))"
            )
            trays = self.instant(
                f"max by (device, tray) (last_over_time(printer_tray_level_percent{{{sel}}}[1h]))"
            )
            alerts = self.instant(f"max by (device) (last_over_time(printer_alerts_active{{{sel}}}[1h]))")
            errors = self.instant(f"max by (device) (last_over_time(printer_errors_active{{{sel}}}[1h]))")
        except (httpx.HTTPError, msgspec.MsgspecError, ValueError) as err:
            log.debug("metrics database: %s", err)
            return DeviceFigures(False, [], [], {}, {})
        return DeviceFigures(
            True,
            sorted(
                (Supply(v.labels.get("device", ""), v.labels.get("supply", ""), v.value) for v in supplies),
                key=lambda s: (s.device, s.name),
            ),
            sorted(
                (Tray(v.labels.get("device", ""), v.labels.get("tray", ""), v.value) for v in trays),
                key=lambda t: (t.device, t.name),
            ),
            {v.labels.get("device", ""): v.value for v in alerts},
            {v.labels.get("device", ""): v.value for v in errors},
        )


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def _finite(v: str) -> bool:
    try:
        return math.isfinite(float(v))
    except ValueError:
        return False
