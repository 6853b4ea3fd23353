"""End-to-end and fault tests: real agents, broker, collector and VictoriaMetrics together.

Each fault test records what was sent and what was stored; the counts are printed in
one table at the end of the run, so a CI log shows them next to the verdicts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.collector.conftest import make_collector, wait_for_seqs  # noqa: F401 - shared fixtures
from tests.support.agent_process import AgentProcess


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    """Agent processes a test starts; any still running at the end are killed."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.cleanup()
