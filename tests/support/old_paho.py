"""paho-mqtt 2.1, which collector/lean_paho.py does not fit, in a directory of its own.

tests/collector/test_paho_fallback.py runs a collector with it first on PYTHONPATH, as a
machine would that installed deskwatch beside an older paho. It is fetched once with pip
into the virtualenv's cache (deploy/install-deps.sh does it at setup, so the tests also
run offline afterwards):

    python -m tests.support.old_paho      # prints the directory
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.services import REPO

VERSION = "2.1.0"
CACHE = REPO / ".venv" / "cache" / f"paho-mqtt-{VERSION}"


def path() -> Path:
    """The directory holding paho-mqtt VERSION (its `paho` package), fetched with pip if not there yet."""
    if (CACHE / "paho" / "mqtt" / "__init__.py").is_file():
        return CACHE
    partial = CACHE.with_name(CACHE.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(partial),
            f"paho-mqtt=={VERSION}",
        ],
        check=True,
        timeout=300,
    )
    shutil.rmtree(CACHE, ignore_errors=True)
    partial.rename(CACHE)
    return CACHE


if __name__ == "__main__":
    print(path())
