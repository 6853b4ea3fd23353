"""Warm start: the rules' histories rebuilt from VictoriaMetrics when the collector starts.

The incidents engine keeps only short histories in memory (FleetState), so without this
a restarted collector would need 30 minutes of new data before it can say a disk is
filling and a day before it can forecast toner. VictoriaMetrics already holds those
histories: for each tracked `<measurement>_<field>` one PromQL range query over the
track's retention, at most MAX_POINTS points a series and never finer than the agents'
30 s, is merged into the engine's series. Fetching and parsing happen outside the
engine's lock, so ingest is not held up; only the merge takes it.

Only VictoriaMetrics (or another server with the Prometheus query API at the write URL)
can answer; with InfluxDB, or when the database is down, the engine starts cold and
says so in the log, nothing else changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from agent.protocol import NS
from collector.incidents.engine import IncidentEngine
from collector.state import Track

log = logging.getLogger(__name__)

MIN_STEP_SECONDS: Final = 30.0  # the agents' interval: a finer step only repeats values
# Enough to fit a rate or see "above for 5 minutes", and it bounds the answer: 10,000 PCs
# with two disks each are 20,000 series x 60 points (~40 MB of JSON), not 200 points each.
MAX_POINTS: Final = 60


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a warm start took in: series and points, and the tracks it could not load."""

    series: int
    points: int
    failed: tuple[str, ...] = ()


def warm_start(
    engine: IncidentEngine, url: str, token: str = "", timeout: float = 30.0, now_ns: int | None = None
) -> Loaded:
    """Load every track's history from the Prometheus query API at `url` into `engine`."""
    now = now_ns if now_ns is not None else time.time_ns()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    series = points = 0
    failed: list[str] = []
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout) as client:
        for track in _distinct(engine.settings.tracks()):
            name = f"{track.measurement}_{track.field}"
            try:
                results = _query_range(client, name, track, now)
            except (httpx.HTTPError, ValueError, KeyError) as err:
                log.warning("no history of %s from %s (%s): its rules start cold", name, url, err)
                failed.append(name)
                continue
            history = _series(results)
            points += engine.preload(track, history)
            series += len(history)
        try:
            devices = engine.preload_devices(_answered(client, now))
        except (httpx.HTTPError, ValueError, KeyError) as err:
            log.warning("no SNMP device history from %s (%s): devices count as new", url, err)
            failed.append(ANSWERED)
            devices = 0
    log.info(
        "rule histories loaded from %s: %d series, %d points, %d SNMP devices that answered before",
        url,
        series,
        points,
        devices,
    )
    return Loaded(series, points, tuple(failed))


# A device that answered SNMP within this time is known to answer (its silence is a ticket);
# one that never did is "not monitored by SNMP". The agents send snmp_device_info only on an answer.
ANSWERED_DAYS: Final = 30
ANSWERED: Final = "snmp_device_info_value"


def _answered(client: httpx.Client, now_ns: int) -> list[tuple[Mapping[str, str], int]]:
    """The SNMP devices that answered within ANSWERED_DAYS, each with when it last did."""
    response = client.get(
        "/api/v1/query",
        params={
            # tlast_over_time (MetricsQL): the time of the newest sample, per device and address
            "query": f"max by (device, address, site, kind) (tlast_over_time({ANSWERED}[{ANSWERED_DAYS}d]))",
            "time": f"{now_ns / NS:.3f}",
        },
    )
    return [(r["metric"], round(float(r["value"][1]) * NS)) for r in _results(response)]


def _results(response: httpx.Response) -> list[dict[str, Any]]:
    """The `result` list of a Prometheus query API answer; HTTPError or ValueError if it failed."""
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "success":
        raise ValueError(f"query failed: {body.get('error', body)}")
    results: list[dict[str, Any]] = body["data"]["result"]
    return results


def _distinct(tracks: list[Track]) -> list[Track]:
    """One track per measurement and field: the longest retention wins (it covers the others)."""
    best: dict[tuple[str, str], Track] = {}
    for track in tracks:
        key = (track.measurement, track.field)
        if key not in best or track.retention_ns > best[key].retention_ns:
            best[key] = track
    return list(best.values())


def _query_range(client: httpx.Client, name: str, track: Track, now_ns: int) -> list[dict[str, Any]]:
    step = max(track.spacing_ns / NS, track.retention_ns / NS / MAX_POINTS, MIN_STEP_SECONDS)
    response = client.get(
        "/api/v1/query_range",
        params={
            # last_over_time: each step holds the newest raw sample before it, not an
            # interpolation, and a series that stopped reporting does not run on.
            "query": f"last_over_time({name}[{step:.0f}s])",
            "start": f"{(now_ns - track.retention_ns) / NS:.3f}",
            "end": f"{now_ns / NS:.3f}",
            "step": f"{step:.0f}s",
        },
    )
    return _results(response)


def _series(results: list[dict[str, Any]]) -> list[tuple[Mapping[str, str], list[tuple[int, float]]]]:
    """Each result's labels and its points as (ns, value)."""
    return [
        (result["metric"], [(round(float(ts) * NS), float(value)) for ts, value in result["values"]])
        for result in results
    ]
