"""Site bindings: the store (SQLite and PostgreSQL), the map ingest reads, and the agents CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from collector import sites
from collector.db import make_engine
from collector.sites import SiteConflict, SiteMap
from tests.support.agent_process import agent_env
from tests.support.services import REPO


def test_bind_moves_an_agent_only_when_told(store: sa.Engine) -> None:
    assert sites.bind(store, "pc-1", "hq", 1) is None
    assert sites.bind(store, "pc-1", "hq", 2) == "hq"  # the same site again: nothing changes
    with pytest.raises(SiteConflict) as refused:
        sites.bind(store, "pc-1", "branch", 3)
    assert refused.value.bound == "hq"
    assert sites.bind(store, "pc-1", "branch", 4, replace=True) == "hq"
    with store.connect() as conn:
        assert sites.bindings(conn) == {"pc-1": "branch"}
        assert sites.bound_site(conn, "pc-2") is None
    assert sites.unbind(store, "pc-1") == "branch"
    assert sites.unbind(store, "pc-1") is None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_map_reads_the_store_periodically_and_for_new_agents_at_most_once_per_interval(
    store: sa.Engine,
) -> None:
    clock = Clock()
    sites.bind(store, "pc-1", "hq", 1)
    map_ = SiteMap(store, refresh_seconds=30, clock=clock)
    assert map_.refresh() and map_.refreshes == 1
    assert map_.get("pc-1") == "hq"
    assert map_.refreshes == 1  # a bound agent is a dict look-up
    # An agent enrolled while the collector runs: its first message reads the bindings again.
    sites.bind(store, "pc-2", "branch", 2)
    assert map_.get("pc-2") == "branch"
    assert map_.refreshes == 2
    # Within the same interval, another new id does not read the store again ...
    sites.bind(store, "pc-3", "hq", 3)
    for index in range(100):
        assert map_.get(f"unbound-{index}") is None
    assert map_.get("pc-3") is None
    assert map_.refreshes == 2
    # ... and an id already looked up never does: the periodic refresh picks pc-3 up.
    map_.refresh_if_due()
    assert map_.refreshes == 2
    clock.now += 30
    assert map_.get("pc-3") is None and map_.refreshes == 2
    map_.refresh_if_due()
    assert map_.refreshes == 3
    assert map_.get("pc-3") == "hq"
    # The next interval allows one more read for a new id.
    clock.now += 30
    assert map_.get("pc-new") is None
    assert map_.get("pc-newer") is None
    assert map_.refreshes == 4
    sites.unbind(store, "pc-1")
    clock.now += 30
    map_.refresh_if_due()
    assert map_.get("pc-1") is None and len(map_) == 2


def test_a_store_that_cannot_be_read_keeps_the_bindings_it_had(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    from collector.db import migrate

    migrate(engine)
    sites.bind(engine, "pc-1", "hq", 1)
    clock = Clock()
    map_ = SiteMap(engine, refresh_seconds=30, clock=clock)
    assert map_.refresh()
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE agent_site RENAME TO gone"))
    clock.now += 30
    assert not map_.refresh()
    assert map_.get("pc-1") == "hq"
    engine.dispose()


def _agents(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", "agents", *argv],
        capture_output=True,
        text=True,
        env=agent_env(),
        cwd=REPO,
        check=False,
    )


def _enroll(tmp_path: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    files = ("--passwd-file", str(tmp_path / "passwd"), "--acl-file", str(tmp_path / "acl"))
    return _agents("enroll", name, *files, *extra)


def _bound(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return sites.bindings(conn)
    finally:
        engine.dispose()


def test_enroll_with_a_site_binds_it_and_moves_it_only_when_re_enrolled(
    tmp_path: Path, store_url: str
) -> None:
    made = _enroll(tmp_path, "pc-1", "--site", "hq", "--db", store_url)
    assert made.returncode == 0, made.stderr
    assert "bound to site 'hq'" in made.stdout and 'site = "hq"' in made.stdout
    password = made.stdout.strip().splitlines()[-1]
    assert _bound(store_url) == {"pc-1": "hq"}
    # Enrolled already: refused as before, and the binding stays.
    again = _enroll(tmp_path, "pc-1", "--site", "branch", "--db", store_url)
    assert again.returncode == 2
    assert "enrolled already" in again.stderr and "agents bind pc-1 --site branch" in again.stderr
    assert _bound(store_url) == {"pc-1": "hq"}
    # bind keeps the password but needs --rebind to move it.
    moved = _agents("bind", "pc-1", "--site", "branch", "--db", store_url)
    assert (
        moved.returncode == 2 and "bound to site 'hq' already" in moved.stderr and "--rebind" in moved.stderr
    )
    moved = _agents("bind", "pc-1", "--site", "branch", "--rebind", "--db", store_url)
    assert moved.returncode == 0, moved.stderr
    assert _bound(store_url) == {"pc-1": "branch"}
    # --rotate re-enrolls it: a new password, and the site it names.
    rotated = _enroll(tmp_path, "pc-1", "--site", "hq", "--rotate", "--db", store_url)
    assert rotated.returncode == 0, rotated.stderr
    assert "(was 'branch')" in rotated.stdout
    assert rotated.stdout.strip().splitlines()[-1] != password
    assert _bound(store_url) == {"pc-1": "hq"}
    # Without --site nothing is bound, nor changed.
    plain = _enroll(tmp_path, "pc-2", "--db", store_url)
    assert plain.returncode == 0, plain.stderr
    assert _bound(store_url) == {"pc-1": "hq"}
    listed = _agents("sites", "--db", store_url)
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [["pc-1", "hq"]]
    # An enrolled agent is bound later without a new password; unbind lets it name its site again.
    assert _agents("bind", "pc-2", "--site", "branch", "--db", store_url).returncode == 0
    assert _bound(store_url) == {"pc-1": "hq", "pc-2": "branch"}
    assert _agents("unbind", "pc-2", "--db", store_url).returncode == 0
    assert _agents("unbind", "pc-2", "--db", store_url).returncode == 2
    assert _bound(store_url) == {"pc-1": "hq"}


def test_enroll_without_a_site_never_opens_the_store(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "store.db"
    made = _enroll(tmp_path, "pc-1", "--db", f"sqlite:///{missing}")
    assert made.returncode == 0, made.stderr
    assert not missing.exists()


def test_enroll_refuses_a_site_no_batch_could_name(tmp_path: Path) -> None:
    made = _enroll(tmp_path, "pc-1", "--site", "x" * 65, "--db", f"sqlite:///{tmp_path / 's.db'}")
    assert made.returncode == 2 and "1 to 64 characters" in made.stderr
    assert not (tmp_path / "passwd").exists()
