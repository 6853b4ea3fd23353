"""An agent whose diagnostics cannot load (a broken install; under Wine 8, cryptography's
Rust module misses bcryptprimitives.dll) refuses each command and says why, instead of
leaving the helpdesk waiting for an answer that never comes.

The import failure is made by hiding the handler module from the import system: the one
stand-in here, for a DLL that Linux cannot lack.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import msgspec
import pytest

from agent import config
from agent.runner import LazyCommands


def test_a_command_the_agent_cannot_load_diagnostics_for_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "agent.diagnostics.handler", None)  # import raises ImportError
    commands = LazyCommands(config.load(None, {"spool": str(tmp_path / "spool.db")}), "pc-1")
    payload = msgspec.json.encode({"v": 2, "id": "cmd-42", "agent_id": "pc-1", "check": "ping"})
    answer = asyncio.run(commands.handle(payload))
    assert (answer.status, answer.command_id, answer.agent_id) == ("rejected", "cmd-42", "pc-1")
    assert answer.error.startswith("diagnostics cannot load on this agent:")
    assert "diagnostics cannot load, commands refused" in caplog.text
    # nonsense gets a refusal too, with no id to quote
    assert asyncio.run(commands.handle(b"\xff not json")).command_id == ""
