"""What the Windows registry says: programs, the Windows version and its last update, the MSI's settings.

Installed programs are the Uninstall keys that Programs and Features lists: the machine's
64-bit and 32-bit views (a 64-bit agent sees 32-bit programs only through
KEY_WOW64_32KEY) and the current user's. The last update is the newest install time among
the update packages Component Based Servicing keeps (Package_for_KB..., the monthly
Package_for_RollupFix...), where Windows records every update it installed. The parsers
take the values of one key as a mapping, so the tests feed them recorded values;
`read_key` is the only reader.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from agent.protocol import NS, OsInfo, Package

log = logging.getLogger(__name__)

UNINSTALL: Final = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
CURRENT_VERSION: Final = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
CBS_PACKAGES: Final = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages"
# Updates among the servicing packages (the rest are features and language packs).
UPDATE_PACKAGES: Final = ("package_for_kb", "package_for_rollupfix", "package_for_servicingstack")
# CBS CurrentState of a package that is on the PC: 0x70 installed, 0x80 permanent.
CBS_INSTALLED: Final = frozenset({0x70, 0x80})
FILETIME_UNIX_EPOCH: Final = 116_444_736_000_000_000  # 1970-01-01 in 100 ns steps since 1601
# Where the MSI keeps its properties (deploy/windows/msi.py writes the same names).
DEPLOYMENT: Final = r"SOFTWARE\deskwatch\Agent"
# registry value -> the command-line flag it stands for (agent.cli)
DEPLOYMENT_FLAGS: Final = {
    "Broker": "broker",
    "AgentId": "agent_id",
    "Site": "site",
    "CaFile": "ca_file",
    "CommandKey": "command_key",
}

Values = Mapping[str, object]


def name_of(flag: str) -> str:
    """The registry value that stands for a flag (for error messages)."""
    return next((name for name, f in DEPLOYMENT_FLAGS.items() if f == flag), flag)


def package_of(values: Values) -> Package | None:
    """One Uninstall key's values as a Package; None for updates, components and nameless keys."""
    name = str(values.get("DisplayName", "")).strip()
    if not name or values.get("SystemComponent") == 1 or values.get("ParentKeyName"):
        return None  # parts of another program (SystemComponent), or its updates (ParentKeyName)
    version = str(values.get("DisplayVersion", "")).strip()
    return Package(name[:256], version[:128], install_date_ns(str(values.get("InstallDate", ""))))


def install_date_ns(text: str) -> int:
    """InstallDate is YYYYMMDD (local day, taken as UTC midnight); 0 when absent or malformed."""
    try:
        day = dt.datetime.strptime(text.strip(), "%Y%m%d").replace(tzinfo=dt.UTC)
    except ValueError:
        return 0
    return int(day.timestamp()) * NS


def packages(keys: Iterator[Values]) -> list[Package]:
    """Installed programs, each name once (the first view that has it wins), sorted by name."""
    found: dict[str, Package] = {}
    for values in keys:
        package = package_of(values)
        if package is not None:
            found.setdefault(package.name, package)
    return sorted(found.values(), key=lambda p: p.name)


def os_of(values: Values, kernel: str = "") -> OsInfo:
    """Windows name, version and build from HKLM\\...\\Windows NT\\CurrentVersion.

    Windows 11 still says "Windows 10" in ProductName; a build of 22000 or later is 11.
    The build carries the update revision (UBR), which changes with every cumulative update.
    """
    name = str(values.get("ProductName", "Windows")).strip()
    build = str(values.get("CurrentBuildNumber", values.get("CurrentBuild", ""))).strip()
    if build.isdigit() and int(build) >= 22000:
        name = name.replace("Windows 10", "Windows 11")
    ubr = values.get("UBR")
    full_build = f"{build}.{ubr}" if build and isinstance(ubr, int) else build
    version = str(values.get("DisplayVersion", values.get("ReleaseId", values.get("CurrentVersion", ""))))
    return OsInfo(name=name[:256], version=version.strip()[:256], build=full_build[:256], kernel=kernel[:256])


def last_update_ns(packages: Iterable[tuple[str, Values]]) -> int:
    """The newest install time of an installed update package, in ns; 0 without one.

    `packages` are (key name, values) of Component Based Servicing's Packages keys; the time
    is the FILETIME in InstallTimeHigh and InstallTimeLow (UTC).
    """
    newest = 0
    for name, values in packages:
        if not name.lower().startswith(UPDATE_PACKAGES) or values.get("CurrentState") not in CBS_INSTALLED:
            continue
        high, low = values.get("InstallTimeHigh"), values.get("InstallTimeLow")
        if not isinstance(high, int) or not isinstance(low, int):
            continue
        filetime = ((high & 0xFFFFFFFF) << 32) | (low & 0xFFFFFFFF)
        if filetime > FILETIME_UNIX_EPOCH:
            newest = max(newest, (filetime - FILETIME_UNIX_EPOCH) * 100)
    return newest


def deployment_of(values: Values) -> dict[str, str]:
    """The MSI's settings as flag overrides: {"broker": "mqtts://...", ...}, empty values left out."""
    out = {}
    for name, flag in DEPLOYMENT_FLAGS.items():
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            out[flag] = value.strip()
    return out


# -- reading (Windows only) -------------------------------------------------------------


def read_key(path: str, hive: str = "HKLM", view: str = "64") -> dict[str, object] | None:
    """Every value of one key ({} if empty), None if the key is not there or not readable."""
    if sys.platform != "win32":
        return None
    import winreg

    root = winreg.HKEY_LOCAL_MACHINE if hive == "HKLM" else winreg.HKEY_CURRENT_USER
    access = winreg.KEY_READ | (winreg.KEY_WOW64_32KEY if view == "32" else winreg.KEY_WOW64_64KEY)
    try:
        key = winreg.OpenKey(root, path, 0, access)
    except OSError:
        return None
    values: dict[str, object] = {}
    with key:
        index = 0
        while True:
            try:
                name, value, _ = winreg.EnumValue(key, index)
            except OSError:
                break
            values[name] = value
            index += 1
    return values


def subkeys(path: str, hive: str = "HKLM", view: str = "64") -> list[str]:
    """Names of the subkeys of one key; [] if it is not there."""
    if sys.platform != "win32":
        return []
    import winreg

    root = winreg.HKEY_LOCAL_MACHINE if hive == "HKLM" else winreg.HKEY_CURRENT_USER
    access = winreg.KEY_READ | (winreg.KEY_WOW64_32KEY if view == "32" else winreg.KEY_WOW64_64KEY)
    try:
        key = winreg.OpenKey(root, path, 0, access)
    except OSError:
        return []
    names = []
    with key:
        for index in range(winreg.QueryInfoKey(key)[0]):
            try:
                names.append(winreg.EnumKey(key, index))
            except OSError:
                break
    return names


# Machine 64-bit view, machine 32-bit view (WOW6432Node), then the user's own installs.
_UNINSTALL_VIEWS: Final = (("HKLM", "64"), ("HKLM", "32"), ("HKCU", "64"))


def _uninstall_keys() -> Iterator[Values]:
    for hive, view in _UNINSTALL_VIEWS:
        for name in subkeys(UNINSTALL, hive, view):
            values = read_key(rf"{UNINSTALL}\{name}", hive, view)
            if values is not None:
                yield values


def installed_software() -> list[Package]:
    """Programs and Features' list: every Uninstall key of both views and the current user."""
    return packages(_uninstall_keys())


def windows_version() -> OsInfo:
    """This PC's Windows name, version and build; empty fields where the registry has none."""
    values = read_key(CURRENT_VERSION) or {}
    kernel = ""
    if sys.platform == "win32":
        version = sys.getwindowsversion()
        kernel = f"{version.major}.{version.minor}.{version.build}"
    return os_of(values, kernel)


def _update_packages() -> Iterator[tuple[str, Values]]:
    # Thousands of packages on a PC that has seen years of updates: only updates' are read.
    for name in subkeys(CBS_PACKAGES):
        if name.lower().startswith(UPDATE_PACKAGES):
            values = read_key(rf"{CBS_PACKAGES}\{name}")
            if values is not None:
                yield name, values


def last_update() -> int:
    """When Windows last installed an update (ns since the epoch), 0 where it keeps no record."""
    return last_update_ns(_update_packages())


def deployment_settings() -> dict[str, str]:
    """The MSI properties (BROKER, SITE, ...) the installer stored, as flag overrides."""
    return deployment_of(read_key(DEPLOYMENT) or {})
