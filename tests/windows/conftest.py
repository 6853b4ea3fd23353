"""The Windows agent under Wine: one MSI build and one Wine prefix per test session.

The build (deploy/windows/build.sh) caches its pinned downloads in ~/.cache/deskwatch/windows,
so only the first run on a machine fetches them. The runtime the tests run is the staged
Program Files folder the MSI was built from, copied out so the tests' byte-code files never
reach a later build.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.collector.conftest import make_collector  # noqa: F401 - shared fixture
from tests.support.services import REPO
from tests.support.wine import Wine, build

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class WindowsBuild:
    msi: Path
    runtime: Path  # what the MSI installs to C:\Program Files\deskwatch


@pytest.fixture(scope="session")
def windows_build(tmp_path_factory: pytest.TempPathFactory) -> WindowsBuild:
    out = tmp_path_factory.mktemp("dist")
    msi = build(out)
    runtime = tmp_path_factory.mktemp("runtime") / "deskwatch"
    shutil.copytree(REPO / "var" / "windows" / "build" / "stage", runtime)
    return WindowsBuild(msi, runtime)


@pytest.fixture(scope="session")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wine]:
    """A private Wine prefix; every Windows process in it is ended after the session."""
    prefix = Wine(tmp_path_factory.mktemp("wine") / "prefix")
    prefix.boot()
    yield prefix
    prefix.kill()
