"""Run one validated check within a time budget: the part of a command that is not MQTT or signing.

`CommandHandler` calls `run_check` once a command has passed its gates. It imports nothing
of the signature checking (cryptography), so the tests can run the checks exactly as a
command would on a runtime where that cannot load (cryptography's Rust core needs
bcryptprimitives.dll's ProcessPrng, which Windows 10 has and Wine 8 lacks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from agent.diagnostics import registry
from agent.diagnostics.context import Context
from agent.diagnostics.params import Params
from agent.diagnostics.report import CheckFailed, Report

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # ok, error, timeout
    error: str
    result: dict[str, Any]
    seconds: float


async def run_check(
    name: str, check: registry.Check, params: Params, context: Context, budget: float, max_bytes: int
) -> Outcome:
    """Run `check`; cancel it after `budget` seconds (its partial report marked `timeout`); never raises."""
    report = Report()
    start = time.perf_counter()
    task = asyncio.create_task(check.run(params, context, report))
    done, _ = await asyncio.wait({task}, timeout=budget)
    seconds = time.perf_counter() - start
    status, error = "ok", ""
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        status, error = "timeout", f"{name} did not finish within {budget:.1f} s; the result is partial"
    elif isinstance(task.exception(), CheckFailed):
        status, error = "error", str(task.exception())
    elif task.exception() is not None:
        err = task.exception()
        log.error("check %s failed", name, exc_info=err)
        status, error = "error", f"{name} failed: {err!r}"
    if error:
        report.problem(error)  # the reason leads the problems the helpdesk reads first
    result, cut = report.finish(max_bytes)
    if cut:
        error = (error + "; " if error else "") + f"result cut to {max_bytes} bytes"
    return Outcome(status, error, result, seconds)
