"""Every error the agent raises on purpose has one root, AgentError, and keeps its other bases."""

from __future__ import annotations

import pytest

from agent import probe
from agent.diagnostics.report import CheckFailed
from agent.errors import AgentError
from agent.snmp.errors import DeviceError, DeviceUnreachable, DeviceUrlError, ProfileError, SnmpError


@pytest.mark.parametrize(
    "error", [SnmpError, DeviceUnreachable, DeviceError, ProfileError, DeviceUrlError, CheckFailed]
)
def test_each_error_is_an_agent_error(error: type[Exception]) -> None:
    assert issubclass(error, AgentError)


def test_a_bad_device_url_is_still_a_value_error() -> None:
    assert issubclass(DeviceUrlError, ValueError)


def test_a_probe_usage_error_is_an_agent_error_and_exits_as_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert issubclass(probe._UsageError, AgentError)
    assert probe.main(["--no-such-flag"]) == probe.EXIT_USAGE
    assert capsys.readouterr().err == "deskwatch-agent probe: the following arguments are required: host\n"
