"""Per-agent budgets at ingest: what one PC may send before the excess is dead-lettered.

An agent in a loop (a runaway source, a script feeding it nonsense) must not fill the
metrics database with series nor keep the collector busy. Two budgets, each per agent:

- **bytes per window**, counted as received. A backlog drained after an outage is at most
  what the agent's spool holds (64 MiB by default), so the default budget admits a full
  spool and still stops a flood;
- **series per day in VictoriaMetrics**, read from the database's own cardinality figures
  (`/api/v1/status/tsdb` with `focusLabel=agent_id`) every `series_check_seconds`, which
  costs ingest nothing per sample. An agent over it has its batches dead-lettered until the
  figures say it is under again (VictoriaMetrics counts per day). InfluxDB has no such
  figures: there only the byte budget applies, and the check says so once.

Excess batches go to the dead-letter store with reason `over_limit` (replayable once the
cause is fixed), are counted, and each agent is logged once when it goes over a budget and
once when it is back under. The collector's own memory per agent is bounded apart from
this, by `[trust]` in the rules (collector/state.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Annotated, Final

import httpx
import msgspec

from agent.protocol import NS

log = logging.getLogger(__name__)

OVER_LIMIT: Final = "over_limit"


class LimitSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `[limits]` table of collector.toml."""

    bytes_per_window: Annotated[int, msgspec.Meta(gt=0)] = 128 * 2**20
    window_seconds: Annotated[float, msgspec.Meta(gt=0)] = 600
    max_series_per_agent: Annotated[int, msgspec.Meta(gt=0)] = 20_000  # per day
    series_check_seconds: Annotated[float, msgspec.Meta(ge=0)] = 300  # 0: no series check


class AgentLimits:
    """Which agents are over a budget now; `refuse()` is asked once per metrics payload."""

    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self._window_ns = int(settings.window_seconds * NS)
        self._used: dict[str, tuple[int, int]] = {}  # agent -> (window start, bytes in it)
        self._over_bytes: set[str] = set()
        self._over_series: dict[str, int] = {}  # agent -> its series today
        self._lock = threading.Lock()

    def refuse(self, agent_id: str, size: int, now_ns: int) -> str:
        """Why this payload of `agent_id` is over a budget, or "" to take it."""
        series = self._over_series.get(agent_id)
        if series is not None:
            return (
                f"agent {agent_id} has {series} series in the metrics database today, over "
                f"[limits] max_series_per_agent = {self.settings.max_series_per_agent}"
            )
        with self._lock:
            start, used = self._used.get(agent_id, (now_ns, 0))
            if now_ns - start >= self._window_ns:
                start, used = now_ns, 0
                if agent_id in self._over_bytes:
                    self._over_bytes.discard(agent_id)
                    log.warning("agent %s is back within its byte budget", agent_id)
            used += size
            self._used[agent_id] = (start, used)
            if used <= self.settings.bytes_per_window:
                return ""
            if agent_id not in self._over_bytes:
                self._over_bytes.add(agent_id)
                log.error(
                    "agent %s sent over %d bytes within %g s ([limits] bytes_per_window): "
                    "its batches are dead-lettered until the window ends",
                    agent_id,
                    self.settings.bytes_per_window,
                    self.settings.window_seconds,
                )
        window = self.settings.window_seconds
        return f"agent {agent_id} sent {used} bytes within {window:g} s, over [limits] bytes_per_window"

    def set_series(self, counts: Mapping[str, int]) -> None:
        """Take the metrics database's series count per agent for today."""
        limit = self.settings.max_series_per_agent
        over = {agent: n for agent, n in counts.items() if n > limit}
        for agent in over.keys() - self._over_series.keys():
            log.error(
                "agent %s has %d series in the metrics database today "
                "([limits] max_series_per_agent = %d): its batches are dead-lettered until it is under again",
                agent,
                over[agent],
                limit,
            )
        for agent in self._over_series.keys() - over.keys():
            log.warning("agent %s is back within its series budget", agent)
        self._over_series = over

    def forget(self, now_ns: int) -> None:
        """Drop byte windows that ended long ago (agents that went quiet)."""
        with self._lock:
            horizon = now_ns - 2 * self._window_ns
            self._used = {a: w for a, w in self._used.items() if w[0] >= horizon}


def series_per_agent(url: str, token: str = "", top: int = 100, timeout: float = 30.0) -> dict[str, int]:
    """Today's series count of the `top` agents with the most, from VictoriaMetrics' cardinality API."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(
        f"{url.rstrip('/')}/api/v1/status/tsdb",
        params={"topN": top, "focusLabel": "agent_id"},
        headers=headers,
        timeout=timeout,
    )
    response.raise_for_status()
    data = response.json()["data"]
    return {row["name"]: int(row["value"]) for row in data.get("seriesCountByFocusLabelValue") or []}


class SeriesWatch:
    """A thread that feeds `limits` the database's series counts every `series_check_seconds`."""

    def __init__(
        self,
        limits: AgentLimits,
        read: Callable[[], dict[str, int]],
        clock: Callable[[], int],
    ) -> None:
        self.limits = limits
        self.read = read
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="series-watch", daemon=True)
        self._failing = False

    def start(self) -> None:
        if self.limits.settings.series_check_seconds > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def check(self) -> None:
        """One look at the figures; a database that cannot answer leaves the budgets as they were."""
        try:
            counts = self.read()
        except (httpx.HTTPError, ValueError, KeyError) as err:
            if not self._failing:
                log.warning("no series counts from the metrics database (%s): only byte budgets apply", err)
            self._failing = True
            return
        if self._failing:
            log.info("series counts from the metrics database again")
        self._failing = False
        self.limits.set_series(counts)
        self.limits.forget(self.clock())

    def _run(self) -> None:
        while not self._stop.wait(self.limits.settings.series_check_seconds):
            self.check()
