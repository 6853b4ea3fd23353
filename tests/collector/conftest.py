"""Fixtures for collector tests: a collector process factory bound to this test's services."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import fake_agents
from tests.support.collector_process import CollectorProcess
from tests.support.services import Mosquitto, VictoriaMetrics
from tests.support.waiting import wait_until

MakeCollector = Callable[..., CollectorProcess]


@pytest.fixture
def make_collector(
    tmp_path: Path, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> Iterator[MakeCollector]:
    """Start collector processes (killed at the end of the test) against this test's broker and VM."""
    started: list[CollectorProcess] = []

    def make(client_id: str = "collector-1", start: bool = True, **kwargs: object) -> CollectorProcess:
        proc = CollectorProcess(
            tmp_path / client_id,
            mosquitto.url,
            victoria_metrics.url,
            client_id=client_id,
            **kwargs,  # type: ignore[arg-type]
        )
        if start:
            proc.start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.kill()


def wait_for_seqs(vm_url: str, expected: dict[str, list[int]], timeout: float = 90.0) -> dict[str, list[int]]:
    """Poll VictoriaMetrics until it holds exactly `expected` sequence numbers, or time runs out."""
    with contextlib.suppress(AssertionError):  # out of time: the caller reports what is missing
        return wait_until(
            lambda: fake_agents.flushed_seqs(vm_url, expected),
            done=lambda seqs: seqs == expected,
            timeout=timeout,
            interval=0.3,
        )
    return fake_agents.flushed_seqs(vm_url, expected)
