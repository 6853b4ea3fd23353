"""Fixtures that start real services for one test and stop them after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import Mosquitto, VictoriaMetrics
from tests.support.stored import FAULT_REPORT

# `store_url` and `store`: a collector store on SQLite and on PostgreSQL.
pytest_plugins = ["tests.support.databases"]


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private Mosquitto on a free port with the development config."""
    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A private VictoriaMetrics on a free port with its own data directory."""
    with VictoriaMetrics(tmp_path / "vm") as vm:
        yield vm


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault tests' sent and stored counts, as one table at the end of the run."""
    if FAULT_REPORT:
        terminalreporter.section("fault tests: sent vs stored")
        for line in FAULT_REPORT:
            terminalreporter.write_line(line)
