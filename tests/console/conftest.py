"""One running office for the console tests: broker, VictoriaMetrics, the collector process with the
console (linking to a Grafana at GRAFANA), a Sharp printer low on black toner (snmpsim), two real
agents that accept the helpdesk's checks, console users made with the administrator's command, and
two tickets of PCs that have gone (made by a real incidents engine on the same store) that nothing
resolves on its own, so the tests that acknowledge and resolve them see exactly what they did.

pc-a reads its inventory's OS files from a recorded tree with an OS of its own (OS_NAME) and its
software from a package database the tests edit (ConsoleOffice.packages), so a test can install
and remove software on it and see the change reach its page.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent.protocol import Severity
from collector.db import make_engine
from collector.incidents.model import IncidentFilter
from collector.incidents.store import IncidentStore
from tests.incidents.fleet import batch, engine_for, state
from tests.incidents.office import (
    BLACK,
    FULL_DISKS,
    MOUNTS,
    RULES,
    SHARP,
    Office,
    create_token,
    office,
    sharp,
)
from tests.inventory.fake_tree import make_tree, write_packages
from tests.support.agent_process import agent_env
from tests.support.services import REPO

SUPPLY = f"device/{SHARP}/supply_low/{BLACK}"
PCS = ("pc-a", "pc-b")
PASSWORDS = {"ada": "ada-admin-pass-1", "hal": "hal-helpdesk-pass-1", "vic": "vic-viewer-pass-1"}
ROLES = {"ada": "admin", "hal": "helpdesk", "vic": "viewer"}
# printers of PCs that have gone: no agent reports them any more, so their tickets wait for people
GHOSTS = {
    "SN-GONE-1": ("printer_paper_jam", Severity.CRITICAL),  # acted on over HTTP
    "SN-GONE-2": ("printer_cover_open", Severity.WARNING),  # gets the triage of the HTTP test
    "SN-GONE-3": ("printer_paper_empty", Severity.WARNING),  # acknowledged and resolved in the browser
}
REFRESH_SECONDS = 2  # the console's live parts, quick enough for a test to see one refresh
GRAFANA = "https://grafana.office.test:3000"  # [console] grafana_url; no Grafana answers there
# pc-a's OS as its recorded tree says (not this machine's), and the software it starts with
OS_NAME, OS_VERSION, KERNEL = "Deskwatch Test Linux", "41.2", "6.9.9-test"
PACKAGES = {"zz-office-suite": "7.4.7-1", "zz-kept": "1.0"}


def disk(agent_id: str) -> str:
    return f"agent/{agent_id}/disk_full/{MOUNTS[0]}"


def collector_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`deskwatch-collector ARGS` as an administrator types it."""
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=agent_env(),
        cwd=REPO,
        timeout=60,
    )


@dataclass
class ConsoleOffice:
    run: Office
    db_url: str
    url: str
    ghost_tickets: dict[str, int]  # device -> ticket id
    api_token: str
    packages: Path  # pc-a's package database: write_packages(packages, ...) installs and removes

    def login(self, name: str, password: str | None = None) -> httpx.Client:
        """A browser-like client signed in as `name` (cookies kept, redirects not followed)."""
        client = httpx.Client(base_url=self.url, timeout=30)
        form = client.get("/login")
        assert form.status_code == 200, form.text
        response = client.post(
            "/login",
            data={"username": name, "password": password or PASSWORDS[name], "csrf": csrf_of(form.text)},
        )
        assert response.status_code == 303, response.text
        signed_in = httpx.Client(base_url=self.url, timeout=30, cookies=client.cookies)
        client.close()
        return signed_in


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def _seed_ghost_tickets(db_url: str) -> dict[str, tuple[int, str]]:
    """Printer tickets from a PC that reported them and went: a real engine opens them on the shared
    store. The collector never sees that printer, so it never counts it as cleared."""
    engine = make_engine(db_url)
    store = IncidentStore(engine)
    incidents = engine_for(store)
    t = time.time_ns()
    states = [
        state(device, condition, False, t, severity=severity, text=condition.replace("_", " "), device=device)
        for device, (condition, severity) in GHOSTS.items()
    ]
    incidents.observe_batch(batch("pc-gone", t, states=states), t)
    incidents.evaluate(t)
    tickets = {}
    for device in GHOSTS:
        found, _ = store.list_incidents(IncidentFilter(device=device))
        tickets[device] = (found[0].id, found[0].key)
    engine.dispose()
    return tickets


@pytest.fixture(scope="package")
def console_office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleOffice]:
    workdir = tmp_path_factory.mktemp("console-office")
    console = f'\n[console]\nrefresh_seconds = {REFRESH_SECONDS}\ngrafana_url = "{GRAFANA}"\n'
    tree = make_tree(workdir / "pc-a-root")
    (tree / "etc/os-release").write_text(f'NAME="{OS_NAME}"\nVERSION_ID="{OS_VERSION}"\n')
    (tree / "proc/sys/kernel/osrelease").write_text(KERNEL + "\n")
    packages = workdir / "pc-a-packages"
    write_packages(packages, PACKAGES)
    inventory = f'[inventory]\ninterval_seconds = 1\nroot = "{tree}"\npackage_roots = ["{packages}"]\n'
    with office(workdir, RULES + FULL_DISKS, collector_extra=console) as run:
        db_url = f"sqlite:///{workdir / 'collector.db'}"
        key = collector_cli("signing-key", "--db", db_url).stdout.strip().splitlines()[-1]
        run.printer("sharp", sharp(black=2))
        for pc in PCS:
            run.agent(pc, printers=("sharp",), command_key=key, extra=inventory if pc == "pc-a" else "")
        for name, role in ROLES.items():
            made = collector_cli(
                "user", "add", name, "--role", role, "--db", db_url, stdin=PASSWORDS[name] + "\n"
            )
            assert made.returncode == 0, made.stderr
        ghosts = _seed_ghost_tickets(db_url)
        run.wait_for_tickets({SUPPLY, *(disk(pc) for pc in PCS), *(key for _, key in ghosts.values())})
        # the caller's figures: VictoriaMetrics has the PCs' CPU and their checks
        run.wait("CPU of pc-a in VictoriaMetrics", lambda: _has(run, 'cpu_used_percent{agent_id="pc-a"}'))
        run.wait("checks of pc-a in VictoriaMetrics", lambda: _has(run, 'state_ok{agent_id="pc-a"}'))
        run.wait("toner in VictoriaMetrics", lambda: _has(run, "printer_supply_level_percent"))
        ids = {device: incident_id for device, (incident_id, _) in ghosts.items()}
        yield ConsoleOffice(run, db_url, run.collector.url, ids, create_token(db_url, "viewer"), packages)


def _has(run: Office, query: str) -> bool:
    answer = httpx.get(f"{run.vm.url}/api/v1/query", params={"query": query}, timeout=5).json()
    return bool(answer["data"]["result"])
