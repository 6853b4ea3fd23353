"""A private snmpsim responder serving recorded walks on a free UDP port.

The walks are copied into a temp dir that the unprivileged simulator can read (it
drops root to nobody), optionally with some objects replaced, so a test can serve
a printer whose toner level changed between two polls. The community of a walk is
its name (the file name without `.snmprec`); SNMPv3 requests select a walk with the
context name.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from agent.snmp.client import Client
from agent.snmp.poll import poll
from agent.snmp.profile import builtin_profiles, enterprise_names
from agent.snmp.report import DeviceReport
from agent.snmp.target import Auth, Target
from tests.support.services import free_port, require_binary
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
WALKS = Path(os.environ.get("DESKWATCH_SNMP_DATA", REPO.parent / "shared" / "data" / "snmp"))


def walk_paths() -> dict[str, Path]:
    """Every recorded walk by name (`brother`, `routeros`, ...)."""
    return {p.stem: p for p in sorted(WALKS.glob("*/snmprec/*.snmprec"))}


# When started as root the responder drops to nobody before it indexes the walks; then
# Python's standard library (under /root/.pyenv on this machine) is no longer readable
# and the late `import dbm.dumb` fails. Importing it first, while still root, fixes that.
_RESPONDER = (
    "import sys, dbm, dbm.dumb, encodings.latin_1, encodings.ascii, encodings.utf_8, encodings.hex_codec; "
    "from snmpsim.commands.responder import main; sys.exit(main())"
)


class V3User:
    """An SNMPv3 USM user the simulator accepts (authPriv with SHA and AES-128)."""

    def __init__(self, name: str = "deskwatch", auth_key: str = "authpass123", priv_key: str = "privpass123"):
        self.name = name
        self.auth_key = auth_key
        self.priv_key = priv_key


class SnmpSim:
    """snmpsim-command-responder on 127.0.0.1:<free port>; use as a context manager."""

    def __init__(self, v3_user: V3User | None = None, port: int | None = None) -> None:
        self.port = port or free_port(__import__("socket").SOCK_DGRAM)
        self.v3_user = v3_user
        self.root = Path(tempfile.mkdtemp(prefix="deskwatch-snmpsim-"))
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        self.cache = self.root / "cache"
        for d in (self.data, self.cache):
            d.mkdir()
            os.chmod(d, 0o777)
        self.proc: subprocess.Popen[bytes] | None = None
        self.communities: list[str] = []

    def add_walk(
        self,
        source: Path,
        community: str | None = None,
        replace: Mapping[str, str] | None = None,
        misplaced: Mapping[str, str] | None = None,
        end_after: str | None = None,
    ) -> str:
        """Serve `source` under `community` (default: its name), with `replace` = {OID: "TYPE|VALUE"}.

        Two edits imitate broken agents. `misplaced` = {AFTER_OID: "OID|TYPE|VALUE"} puts a
        record right after AFTER_OID's line, out of order: snmpsim answers a GETNEXT of
        AFTER_OID with whatever line follows it, so the device "answers" an OID that does
        not increase. `end_after` = OID drops every record after it, so the walk meets
        endOfMibView there, in the middle of whatever table that OID belongs to.
        """
        community = community or source.stem
        lines = source.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        if replace:
            pending = dict(replace)
            out = []
            for line in lines:
                oid = line.split("|", 1)[0]
                out.append(f"{oid}|{pending.pop(oid)}" if oid in pending else line)
            out.extend(f"{oid}|{value}" for oid, value in pending.items())
            out.sort(key=lambda ln: tuple(int(x) for x in ln.split("|", 1)[0].split(".") if x))
            lines = out
        if end_after is not None:
            lines = lines[: [ln.split("|", 1)[0] for ln in lines].index(end_after) + 1]
        if misplaced:
            for after, record in misplaced.items():
                lines.insert([ln.split("|", 1)[0] for ln in lines].index(after) + 1, record)
        target = self.data / f"{community}.snmprec"
        target.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
        os.chmod(target, 0o644)
        self.communities.append(community)
        return community

    def command(self) -> list[str]:
        cmd = [sys.executable, "-c", _RESPONDER]
        if os.geteuid() == 0:
            cmd += ["--process-user=nobody", "--process-group=nogroup"]
        cmd += [f"--cache-dir={self.cache}", "--logging-method=null"]
        if self.v3_user is not None:
            u = self.v3_user
            cmd += [
                f"--v3-user={u.name}",
                f"--v3-auth-key={u.auth_key}",
                "--v3-auth-proto=SHA",
                f"--v3-priv-key={u.priv_key}",
                "--v3-priv-proto=AES",
            ]
        cmd += [f"--data-dir={self.data}", f"--agent-udpv4-endpoint=127.0.0.1:{self.port}"]
        return cmd

    def start(self, timeout: float = 30.0) -> None:
        if not self.communities:
            raise RuntimeError("add at least one walk before start()")
        log = open(self.root / "snmpsim.log", "wb")  # noqa: SIM115 - lives as long as the child
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        log.close()
        snmpget = require_binary("snmpget")
        proc = self.proc

        def answers() -> bool:
            if proc.poll() is not None:
                return True  # it exited: said below
            probe = subprocess.run(
                [
                    snmpget,
                    "-v2c",
                    "-c",
                    self.communities[0],
                    "-t",
                    "0.3",
                    "-r",
                    "0",
                    "-On",
                    f"127.0.0.1:{self.port}",
                    "1.3.6.1.2.1.1.2.0",
                ],
                capture_output=True,
                check=False,
            )
            return probe.returncode == 0

        try:
            wait_until(answers, timeout=timeout, what=f"snmpsim on udp/{self.port} to answer")
        except AssertionError:
            self.stop()
            raise
        if proc.poll() is not None:
            output = (self.root / "snmpsim.log").read_text()[-2000:]
            self.stop()
            raise RuntimeError(f"snmpsim exited: {output}")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SnmpSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def poll_walk(sim: SnmpSim, community: str, version: str = "2c") -> DeviceReport:
    """One poll of the walk served under `community`, with every shipped profile, as the agent polls."""

    async def run() -> DeviceReport:
        client = Client()
        try:
            auth = Auth(version=version, community=community)
            target = Target("127.0.0.1", sim.port, auth, timeout_seconds=2)
            return await poll(client, target, builtin_profiles(), enterprise_names())
        finally:
            client.close()

    return asyncio.run(run())
