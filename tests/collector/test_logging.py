"""Log records stay one line whatever text from agents and devices they quote."""

from __future__ import annotations

import logging

import pytest

from agent.cli import OneLineFormatter as AgentFormatter
from agent.protocol import single_line
from collector.logs import MESSAGE_CHARS, OneLineFormatter


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("plain", 10, "plain"),
        ("a\nb\rc", 10, "a b c"),
        ("a\x85b\u2028c\u2029d", 10, "a b c d"),
        ("tab\there\x00\x7f\x9b", 20, "tab here   "),
        ("Zürich – ok", 20, "Zürich – ok"),
        ("abcdefghij", 5, "abcd…"),
    ],
)
def test_single_line(text: str, limit: int, expected: str) -> None:
    assert single_line(text, limit) == expected


@pytest.mark.parametrize("formatter", [OneLineFormatter, AgentFormatter])
def test_a_forged_record_stays_inside_its_own_line(formatter: type[logging.Formatter]) -> None:
    record = logging.LogRecord(
        "collector.ingest",
        logging.WARNING,
        __file__,
        1,
        "bad message on %s",
        ("t\n2026 ERROR forged\u2028",),
        None,
    )
    text = formatter("%(levelname)s %(message)s").format(record)
    assert text.splitlines() == [text]
    assert text == "WARNING bad message on t 2026 ERROR forged "


def test_a_record_is_bounded_and_keeps_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError as err:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "%s", ("y" * 10_000,), (ValueError, err, None)
        )
    text = OneLineFormatter("%(message)s").format(record)
    first, *rest = text.splitlines()
    assert len(first) == MESSAGE_CHARS
    assert rest[-1] == "ValueError: boom"
