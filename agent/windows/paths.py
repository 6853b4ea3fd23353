"""Where the agent keeps its files on Windows: C:\\ProgramData\\deskwatch (config, spool, log).

The MSI creates the folder and never removes it, so an upgrade or an uninstall keeps the
spool and an administrator's agent.toml. The folder is asked from the shell
(CSIDL_COMMON_APPDATA), the same question the MSI's CommonAppDataFolder asks: %ProgramData%
may say otherwise (under Wine it points at C:\\users\\Public).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CSIDL_COMMON_APPDATA = 0x23


def data_dir() -> Path:
    """C:\\ProgramData\\deskwatch, or wherever this Windows keeps data for all users."""
    if sys.platform == "win32":
        import ctypes

        buffer = ctypes.create_unicode_buffer(260)
        if ctypes.windll.shell32.SHGetFolderPathW(None, CSIDL_COMMON_APPDATA, None, 0, buffer) == 0:
            return Path(buffer.value) / "deskwatch"
    return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "deskwatch"


def config_path() -> Path:
    """agent.toml, which the agent reads when it exists (the MSI's properties need none)."""
    return data_dir() / "agent.toml"


def spool_path() -> Path:
    return data_dir() / "spool.db"


def log_path() -> Path:
    """The service's log: a service has no console, and the helpdesk reads this file."""
    return data_dir() / "agent.log"
