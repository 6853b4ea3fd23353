"""`python -m collector`: the same as `deskwatch-collector`; logging is configured here."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str) -> None:
    """One line per record on stderr, which systemd's journal keeps."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # paho and uvicorn are chatty at INFO about things the collector already reports.
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, logging.getLogger().level))


if __name__ == "__main__":
    from collector.cli import main

    sys.exit(main())
