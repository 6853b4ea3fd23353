"""Where the agent keeps its files on Windows: C:\\ProgramData\\deskwatch (config, spool, log).

The MSI creates the folder and never removes it, so an upgrade or an uninstall keeps the
spool and an administrator's agent.toml. The folder follows %ProgramData%, as Windows moves it.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """C:\\ProgramData\\deskwatch, or wherever %ProgramData% points."""
    return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "deskwatch"


def config_path() -> Path:
    """agent.toml, which the agent reads when it exists (the MSI's properties need none)."""
    return data_dir() / "agent.toml"


def spool_path() -> Path:
    return data_dir() / "spool.db"


def log_path() -> Path:
    """The service's log: a service has no console, and the helpdesk reads this file."""
    return data_dir() / "agent.log"
