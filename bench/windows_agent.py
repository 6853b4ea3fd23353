"""The Windows agent under Wine next to the Linux agent: start time and memory, measured in one run.

Informative only: Wine is not Windows. Every Windows API call of the Windows agent goes
through Wine's own DLLs and its wineserver, and the process carries Wine's libraries in its
memory, so a real Windows PC will differ, in either direction. What the figures do show is
the MSI's runtime (the official Windows CPython 3.13 and its win_amd64 wheels) doing the
agent's work, next to the Linux agent (this checkout's virtualenv) on the same machine:

  - start: `deskwatch-agent once` (every source once, no broker), warm: the files are in the
    page cache and, for Wine, the prefix's wineserver already runs; the median of --runs,
    with the bare interpreter (`python -c pass`) as the floor of each;
  - memory after importing the runner, the publisher and the sources (RSS, PSS);
  - memory of a running agent publishing to a private Mosquitto (RSS, PSS, averaged over
    --seconds after it connected).

Memory is the Linux kernel's view of the one process (/proc/PID/smaps_rollup); for Wine
that is the python.exe process, without the wineserver and Wine's service processes, which
a Windows PC has its own counterparts of. The Windows runs go through Wine's cmd.exe, whose
redirections give CPython real console handles (tests/support/wine.py); its start is in
both the agent's and the floor's figure.

    python -m bench.windows_agent [--runs 5] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.report import record
from tests.support.agent_process import agent_env, write_config
from tests.support.mqtt import Subscriber
from tests.support.services import REPO, Mosquitto
from tests.support.wine import Wine, build, windows_path

IMPORTS = """\
import sys
import time
from pathlib import Path

import agent.publisher
import agent.runner
import agent.sources

Path(sys.argv[1]).write_text("ready")
time.sleep(600)
"""


@dataclass
class Figures:
    name: str
    once_s: float = 0.0
    floor_s: float = 0.0
    import_rss_mib: float = 0.0
    import_pss_mib: float = 0.0
    run_rss_mib: float = 0.0
    run_pss_mib: float = 0.0


def memory(pid: int) -> tuple[float, float]:
    """RSS and PSS of one process, MiB."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, *rest = line.split()
        if key == "Rss:":
            rss = int(rest[0])
        elif key == "Pss:":
            pss = int(rest[0])
    return rss / 1024, pss / 1024


def wine_pid(marker: str, timeout: float = 60) -> int:
    """The Linux PID of the Windows python.exe whose command line holds `marker`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if args[0].lower().endswith(b"python.exe") and any(marker.encode() in a for a in args):
                return int(entry.name)
        time.sleep(0.2)
    raise TimeoutError(f"no python.exe with {marker}")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def timed(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    code = run()
    elapsed = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"exit status {code}")
    return elapsed


def median_of(run: Callable[[], int], runs: int) -> float:
    timed(run)  # warm: the page cache, Python's byte-code cache, Wine's DLLs
    return statistics.median(timed(run) for _ in range(runs))


def sample(pid: int, seconds: float) -> tuple[float, float]:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(memory(pid))
        time.sleep(1)
    return statistics.mean(s[0] for s in samples), statistics.mean(s[1] for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deskwatch-bench-windows-"))
    build(work / "dist")
    runtime = work / "runtime"  # a copy, so byte code written here never reaches a build
    shutil.copytree(REPO / "var" / "windows" / "build" / "stage", runtime)
    script = work / "imports.py"
    script.write_text(IMPORTS)
    wine = Wine(work / "prefix")
    wine.boot()
    keeper = wine.keep_running(runtime)
    linux, windows = Figures("Linux agent (venv CPython)"), Figures("Windows agent under Wine")
    procs: list[subprocess.Popen[bytes]] = []
    broker = Mosquitto(work / "broker")
    try:
        with broker:

            def config(name: str, spool: Path) -> Path:
                return write_config(
                    work / f"{name}.toml",
                    agent_id=name,
                    broker=broker.url,
                    spool=spool,
                    interval=2,
                    gateway_port=broker.port,
                )

            linux_config = config("bench-linux", work / "linux.db")
            wine_config = config("bench-wine", Path(f"Z:{work / 'wine.db'}"))
            out, err = work / "once.out", work / "once.err"

            def linux_python(*argv: str) -> int:
                done = subprocess.run(
                    [sys.executable, *argv], env=agent_env(), cwd=REPO, capture_output=True, check=False
                )
                return done.returncode

            def wine_python(line: str) -> int:
                return wine.python(runtime, line, out, err)

            # Start: `once`, and the bare interpreter, alternating so drift hits both alike.
            linux.once_s = median_of(
                lambda: linux_python("-m", "agent", "once", "--config", str(linux_config)), args.runs
            )
            windows.once_s = median_of(
                lambda: wine_python(f"-m agent once --config {windows_path(wine_config)}"), args.runs
            )
            linux.floor_s = median_of(lambda: linux_python("-c", "pass"), args.runs)
            windows.floor_s = median_of(lambda: wine_python("-c pass"), args.runs)

            # Memory after the imports a running agent starts with.
            ready = work / "linux-imports-ready"
            proc = subprocess.Popen([sys.executable, str(script), str(ready)], env=agent_env(), cwd=REPO)
            procs.append(proc)
            wait_until(ready.exists, 60, "Linux imports")
            linux.import_rss_mib, linux.import_pss_mib = memory(proc.pid)
            proc.kill()
            ready = work / "wine-imports-ready"
            shell = wine.start_python(runtime, f"{windows_path(script)} {windows_path(ready)}", out, err)
            procs.append(shell)
            wait_until(ready.exists, 120, "Wine imports")
            pid = wine_pid(ready.name)
            windows.import_rss_mib, windows.import_pss_mib = memory(pid)
            os.kill(pid, signal.SIGKILL)  # Wine sees its python.exe end, as if killed in Task Manager

            # Memory of the agent running, publishing every 2 s.
            with Subscriber(broker.port, "deskwatch/v1/+/state") as sub:

                def online(agent_id: str) -> bool:
                    return any(m.topic.endswith(f"/{agent_id}/state") for m in sub.snapshot())

                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "agent",
                        "run",
                        "--config",
                        str(linux_config),
                        "--log-level",
                        "WARNING",
                    ],
                    env=agent_env(),
                    cwd=REPO,
                )
                procs.append(proc)
                wait_until(lambda: online("bench-linux"), 60, "Linux agent online")
                time.sleep(3)  # its first rounds, as agent_footprint lets it settle
                linux.run_rss_mib, linux.run_pss_mib = sample(proc.pid, args.seconds)
                proc.terminate()
                line = f"-m agent run --config {windows_path(wine_config)} --log-level WARNING"
                procs.append(wine.start_python(runtime, line, work / "run.out", work / "run.err"))
                wait_until(lambda: online("bench-wine"), 120, "Wine agent online")
                time.sleep(3)
                windows.run_rss_mib, windows.run_pss_mib = sample(wine_pid(wine_config.name), args.seconds)
    finally:
        wine.kill()
        keeper.wait(30)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)

    print(
        f"\nWindows agent under Wine next to the Linux agent "
        f"({args.runs} warm runs, {args.seconds:.0f} s running)"
    )
    print(f"{'':<28}{'once s':>8}{'floor s':>9}{'import RSS':>12}{'PSS':>7}{'run RSS':>9}{'PSS':>7}  MiB")
    for f in (linux, windows):
        print(
            f"{f.name:<28}{f.once_s:>8.2f}{f.floor_s:>9.2f}{f.import_rss_mib:>12.1f}{f.import_pss_mib:>7.1f}"
            f"{f.run_rss_mib:>9.1f}{f.run_pss_mib:>7.1f}"
        )
    print(
        "Informative only: Wine is not Windows. The Wine figures include Wine's DLLs in the process\n"
        "and the cost of its wineserver round trips; floor = `python -c pass` (for Wine through cmd.exe)."
    )
    same_run = (
        f"Linux agent: once {linux.once_s:.2f} s (floor {linux.floor_s:.2f} s), imports RSS "
        f"{linux.import_rss_mib:.1f} MiB, running PSS {linux.run_pss_mib:.1f} MiB"
    )
    note = "informative: Wine is not Windows"
    record("windows_agent", "once (warm) under Wine", windows.once_s, "s", same_run, note)
    record("windows_agent", "interpreter start under Wine", windows.floor_s, "s", same_run, note)
    record("windows_agent", "RSS after imports under Wine", windows.import_rss_mib, "MiB", same_run, note)
    record("windows_agent", "running agent PSS under Wine", windows.run_pss_mib, "MiB", same_run, note)
    record("windows_agent", "running agent RSS under Wine", windows.run_rss_mib, "MiB", same_run, note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
