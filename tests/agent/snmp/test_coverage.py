"""The coverage table in docs/snmp.md is the one the profiles make (rebuild it with the command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.snmp import coverage
from agent.snmp.profile import builtin_profiles

DOCS = Path(__file__).resolve().parents[3] / "docs" / "snmp.md"


def test_docs_hold_the_table_the_profiles_make() -> None:
    text = DOCS.read_text("utf-8")
    # Regenerate with: python -m agent.snmp.coverage --write docs/snmp.md
    assert coverage.rewrite(text, coverage.table(builtin_profiles())) == text


def test_every_profile_has_a_row_and_vendor_addons_say_their_family() -> None:
    profiles = builtin_profiles()
    rows = coverage.table(profiles).splitlines()[2:]
    assert len(rows) == len(profiles)
    assert all(p.family != "any" for p in profiles if not p.generic)


def test_rewrite_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="coverage markers"):
        coverage.rewrite("no markers here", "table")


def test_the_command_writes_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "snmp.md"
    doc.write_text(f"before\n{coverage.START}\nold\n{coverage.END}\nafter\n", "utf-8")
    assert coverage.main(["--write", str(doc)]) == 0
    text = doc.read_text("utf-8")
    assert text.startswith("before\n") and text.endswith("after\n") and "| `kyocera` |" in text
