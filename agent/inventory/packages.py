"""Installed software: the Debian and RPM package databases (Linux), read under a root path.

`parse_dpkg_status` is pure and takes the text of `var/lib/dpkg/status`; the RPM database
is a binary format only `rpm` itself reads, so it is asked with `--root` (guarded: no
`rpm`, no database, or a failure yields nothing). Windows and macOS software is read by
their own modules.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from agent.protocol import NS, Package

log = logging.getLogger(__name__)


def parse_dpkg_status(text: str | Iterable[str], installed_ns: dict[str, int] | None = None) -> list[Package]:
    """Packages whose status is `installed` in a dpkg status file; removed ones keep only config.

    Takes the text or its lines; read line by line, a 1 MB status file never sits in the
    agent's memory whole (it keeps only three fields of each paragraph).
    """
    found: list[tuple[str, str, str]] = []
    name = arch = version = status = ""

    def flush() -> None:
        # "install ok installed"; "deinstall ok config-files" is a removed package
        if name and status.endswith(" installed"):
            found.append((name, arch, version))

    for line in text.splitlines() if isinstance(text, str) else text:
        if not line.strip():
            flush()
            name = arch = version = status = ""
            continue
        if line[:1] in (" ", "\t"):
            continue  # continuation lines of Description, Conffiles
        key, _, value = line.partition(":")
        if key == "Package":
            name = value.strip()
        elif key == "Architecture":
            arch = value.strip()
        elif key == "Version":
            version = value.strip()
        elif key == "Status":
            status = value.strip()
    flush()
    # Multi-Arch packages appear once per architecture (libc6 amd64 and i386): qualify those.
    twice = {n for n, count in Counter(n for n, _, _ in found).items() if count > 1}
    times = installed_ns or {}
    out = []
    for name_, arch_, version_ in found:
        key = f"{name_}:{arch_}" if name_ in twice else name_
        out.append(Package(key, version_, times.get(key, times.get(name_, 0))))
    return out


def dpkg_install_times(info_dir: Path) -> dict[str, int]:
    """When each package was last installed or upgraded: dpkg rewrites its `.list` file then."""
    times: dict[str, int] = {}
    try:
        with os.scandir(info_dir) as entries:
            for entry in entries:
                if entry.name.endswith(".list"):
                    with contextlib.suppress(OSError):
                        times[entry.name[: -len(".list")]] = entry.stat().st_mtime_ns
    except OSError:
        return times
    return times


def rpm_packages(root: Path, timeout: float = 30.0) -> list[Package]:
    """Packages in the RPM database under `root`, via `rpm -qa --root`; [] without rpm or database."""
    rpm = shutil.which("rpm")
    has_db = any((root / d).is_dir() for d in ("var/lib/rpm", "usr/lib/sysimage/rpm"))
    if rpm is None or not has_db:
        return []
    query = "%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{INSTALLTIME}\n"
    try:
        done = subprocess.run(
            [rpm, "-qa", "--root", str(root), "--qf", query],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        log.debug("rpm -qa failed: %s", err)
        return []
    return parse_rpm_query(done.stdout) if done.returncode == 0 else []


def parse_rpm_query(text: str) -> list[Package]:
    """Packages from `rpm -qa --qf '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{INSTALLTIME}\\n'`."""
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0]:
            continue
        version = parts[1].removeprefix("0:")  # epoch 0 is what nobody writes
        seconds = int(parts[2]) if parts[2].isdigit() else 0
        out.append(Package(parts[0], version, seconds * NS))
    return out


def linux_packages(root: Path) -> Iterator[tuple[str, list[Package]]]:
    """(source, packages) for each package database found under `root`."""
    status = root / "var/lib/dpkg/status"
    try:
        with status.open(errors="replace") as lines:
            packages = parse_dpkg_status(lines, dpkg_install_times(root / "var/lib/dpkg/info"))
    except OSError:
        packages = None
    if packages is not None:
        yield "dpkg", packages
    rpms = rpm_packages(root)
    if rpms:
        yield "rpm", rpms
