"""The Windows agent under Wine: the MSI's runtime (official Windows CPython + win_amd64 wheels).

deploy/windows/build.sh stages exactly what the MSI installs; these helpers run that
python.exe with Debian's wine64 in a private prefix. CPython's console streams fail
under Wine when its standard handles are Unix files (GetFileInformationByHandle says
"invalid handle"), so every run goes through Wine's cmd.exe, whose own redirections
give python.exe real Windows file handles. Wine passes cmd.exe its command line with any
inner quotes escaped, so arguments given this way must not need quotes (a script path,
not `-c "..."`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

from tests.support.services import REPO
from tests.support.waiting import wait_until

WINE = "/usr/lib/wine/wine64"
WINESERVER = "/usr/lib/wine/wineserver"


def windows_path(path: Path) -> str:
    """A Linux path as Wine's Z: drive sees it."""
    return "Z:" + str(path.resolve()).replace("/", "\\")


def build(out: Path, version: str | None = None) -> Path:
    """Run deploy/windows/build.sh into `out`; the MSI's path (the stage is var/windows/build/stage)."""
    args = ["bash", str(REPO / "deploy" / "windows" / "build.sh"), "--out", str(out)]
    if version:
        args += ["--version", version]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"build.sh failed: {done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class Wine:
    """One Wine prefix of a test session; every process it ran is ended with it (wineserver -k)."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.env = {
            **os.environ,
            "WINEPREFIX": str(prefix),
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mshtml=",
        }

    def boot(self) -> None:
        """Create the prefix (about 10 s the first time) and wait until its Wine has ended again.

        The next program then starts a wineserver of its own instead of joining one that is
        about to go away (it lingers a few seconds after its last program).
        """
        self.run_tool(["wineboot", "--init"], timeout=180)
        subprocess.run([WINESERVER, "-w"], env=self.env, timeout=60, check=False, capture_output=True)

    def run_tool(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A Wine program (reg, msiexec, sc, ...) to completion, its exit status and output.

        The output goes through files, not pipes: a program that starts the prefix's
        wineserver or services.exe hands them its standard handles, and they outlive it
        (a service keeps them up), so reading a pipe to its end would wait for them too.
        """
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            done = subprocess.run(
                [WINE, *argv], env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(
                done.args,
                done.returncode,
                out.read().decode(errors="replace"),
                err.read().decode(errors="replace"),
            )

    def cmd(self, line: str, timeout: float = 120) -> int:
        """`cmd /c LINE`, which may redirect with > and 2> to Windows paths; its exit status."""
        done = subprocess.run(
            [WINE, "cmd", "/c", line],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
        return done.returncode

    def python(self, runtime: Path, args: str, out: Path, err: Path, timeout: float = 120) -> int:
        """`python.exe ARGS` of a staged runtime, stdout and stderr into files."""
        exe = windows_path(runtime / "python.exe")
        return self.cmd(f"{exe} {args} > {windows_path(out)} 2> {windows_path(err)} < NUL", timeout)

    def start_python(self, runtime: Path, args: str, out: Path, err: Path) -> subprocess.Popen[bytes]:
        """The same in the background (a running agent); end it with `kill()`."""
        exe = windows_path(runtime / "python.exe")
        line = f"{exe} {args} > {windows_path(out)} 2> {windows_path(err)} < NUL"
        return subprocess.Popen(
            [WINE, "cmd", "/c", line],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def keep_running(self, runtime: Path, seconds: int = 900) -> subprocess.Popen[bytes]:
        """A program that keeps this prefix's Wine (and so its services) running; `kill()` ends it.

        Wine runs services only while a program of the prefix runs: when the last one ends,
        services.exe terminates every service process (no stop control, no shutdown wait).
        pythonw.exe needs no console, so it runs without cmd.exe, whose command line would
        mangle the quotes of a `-c` argument (cmd then cannot find the program at all).
        """
        code = f"import time; time.sleep({seconds})"  # its job is to be there, for up to `seconds`
        keeper = subprocess.Popen(
            [WINE, windows_path(runtime / "pythonw.exe"), "-c", code],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(  # Wine is up once the Windows program is
            lambda: keeper.poll() is not None or self._runs("pythonw.exe", code),
            timeout=60,
            interval=0.1,
            what="the keeper to run under Wine",
        )
        if keeper.poll() is not None:
            raise RuntimeError(f"the keeper did not start (exit status {keeper.poll()})")
        return keeper

    def _runs(self, program: str, marker: str) -> bool:
        """Whether `program` of this prefix runs with `marker` on its command line.

        Wine's launcher turns into the Windows process: its command line becomes the Windows
        one (`C:\\...\\program.exe args`) once Wine runs it.
        """
        prefix = f"WINEPREFIX={self.prefix}".encode()
        for entry in Path("/proc").iterdir():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
                if (
                    args[0].lower().endswith(program.encode())
                    and marker.encode() in b" ".join(args)
                    and prefix in (entry / "environ").read_bytes().split(b"\0")
                ):
                    return True
            except OSError:
                continue
        return False

    def reg_add(self, key: str, name: str, value: str, kind: str = "REG_SZ") -> None:
        done = self.run_tool(["reg", "add", key, "/v", name, "/t", kind, "/d", value, "/f"])
        assert done.returncode == 0, done.stdout + done.stderr

    def reg_query(self, key: str) -> str:
        """`reg query KEY` output ("" when the key is not there)."""
        done = self.run_tool(["reg", "query", key])
        return done.stdout if done.returncode == 0 else ""

    def kill(self) -> None:
        """End every process of this prefix (the agent, services.exe, ...), like pulling the plug."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run([WINESERVER, "-k"], env=self.env, timeout=30, check=False, capture_output=True)

        def ended() -> bool:
            waited = subprocess.run(
                [WINESERVER, "-w"], env=self.env, timeout=30, check=False, capture_output=True
            )
            return waited.returncode == 0

        # As before: a wineserver that lingers is left to the next kill.
        with contextlib.suppress(AssertionError):
            wait_until(ended, timeout=10, interval=0.2, what="the wineserver to end")
