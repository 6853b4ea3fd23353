"""One snmpsim for the SNMP tests of a session, serving every recorded walk (v2c and v3)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.snmpsim import SnmpSim, V3User, walk_paths


@pytest.fixture(scope="session")
def v3_user() -> V3User:
    return V3User()


@pytest.fixture(scope="session")
def snmpsim(v3_user: V3User) -> Iterator[SnmpSim]:
    """Every walk of ../shared/data/snmp on 127.0.0.1:<free port>, community = walk name."""
    sim = SnmpSim(v3_user)
    for path in walk_paths().values():
        sim.add_walk(path)
    with sim:
        yield sim
