"""Rules, correlation and reconciliation stay pure: importing them loads no I/O library."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "collector.state",
    "collector.clock_offset",
    "collector.rules",
    "collector.incidents.correlate",
    "collector.incidents.reconcile",
    "collector.incidents.silences",
]
IO = ["sqlalchemy", "httpx", "fastapi", "paho", "smtplib", "socket", "influxdb_client"]


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io_library(module: str) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {IO!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == ""
