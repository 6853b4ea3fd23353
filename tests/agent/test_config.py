"""Configuration: defaults with no file, and one clear line for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load
from agent.errors import ConfigError
from tests.support.agent_process import run_cli
from tests.support.services import REPO


def test_runs_with_no_file_at_all() -> None:
    config = load(None)
    assert config.mqtt.broker == "mqtt://127.0.0.1:1883"
    assert config.resolved_agent_id
    assert config.host.enabled and config.network.enabled


def test_example_config_in_deploy_loads() -> None:
    config = load(REPO / "deploy" / "agent.toml")
    assert config.interval_seconds == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("interval_seconds = 'often'", "Expected `float`, got `str` - at `$.interval_seconds`"),
        ("interval_seconds = 0", "> 0.0 - at `$.interval_seconds`"),
        ("intervall_seconds = 5", "unknown field `intervall_seconds`"),
        ("[mqtt]\nbroker = 'http://x'", "must look like mqtt://HOST[:PORT]"),
        ("[mqtt]\ninflight = 0", "at `$.mqtt.inflight`"),
        ("[network]\ntcp_targets = ['no-port']", "must be host:port"),
        ("[network]\nhttp_targets = ['ftp://x']", "must start with http://"),
        ("agent_id = 'a b'", "at `$.agent_id`"),
        ("[spool]\nmax_bytes = 10", "at `$.spool.max_bytes`"),
        ("[host\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_key_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_check_command_reports_bad_file_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text("[mqtt]\nkeepalive_seconds = 'x'\n")
    result = run_cli("check", "--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0] and "$.mqtt.keepalive_seconds" in lines[0]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--interval", "-5"], "--interval: Expected `float` > 0.0"),
        (["--broker", "tcp://x"], "--broker: broker 'tcp://x' must look like"),
        (["--agent-id", "pc/1"], "--agent-id:"),
    ],
)
def test_bad_flags_name_the_flag(flags: list[str], message: str) -> None:
    result = run_cli("check", *flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unparseable_flag_is_a_usage_error() -> None:
    result = run_cli("check", "--interval", "soon")
    assert result.returncode == 1
    assert "invalid float value: 'soon'" in result.stderr


def test_missing_config_file() -> None:
    result = run_cli("check", "--config", "/nonexistent/agent.toml")
    assert result.returncode == 2
    assert "/nonexistent/agent.toml: no such file" in result.stderr


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text("site = 'hq'\ninterval_seconds = 60\n")
    config = load(path, {"interval": 5.0, "site": None, "agent_id": "pc-7"})
    assert (config.interval_seconds, config.site, config.resolved_agent_id) == (5.0, "hq", "pc-7")
