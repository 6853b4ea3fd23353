"""The collector's log lines: one line per record on stderr, which systemd's journal keeps."""

from __future__ import annotations

import logging
import sys

from agent.protocol import single_line

# A log record's message at most this long (the traceback, if any, follows it).
MESSAGE_CHARS = 4_000


class OneLineFormatter(logging.Formatter):
    """Every record's message on one line and bounded.

    Messages quote what agents, devices and the broker sent (topics, State texts, reasons):
    a line break in one of them would forge a record of its own in the journal.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = single_line(record.message, MESSAGE_CHARS)
        return super().formatMessage(record)


def setup_logging(level: str) -> None:
    """One line per record on stderr, which systemd's journal keeps."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # paho and uvicorn are chatty at INFO about things the collector already reports.
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, logging.getLogger().level))
