"""Run diagnostics checks the way a command runs them, without MQTT and signing.

    python tests/support/wine_checks.py AGENT_TOML CASES_JSON

CASES_JSON is a list of [check, params]; each is validated by the checks' registry and run
by `agent.diagnostics.execute.run_check` with the Context the agent builds from AGENT_TOML
(its [network] and [snmp]), the same calls CommandHandler makes once a command passed its
gates. The outcomes, one {check, status, error, result} each, go to stdout as JSON.

The Windows CPython under Wine runs it: there the command path itself cannot, because the
signature check's cryptography cannot load (tests/windows/test_diagnostics.py says why).
It imports nothing but `agent`, so it runs from its path under Wine.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from agent import config as agent_config
from agent.diagnostics import execute, registry
from agent.diagnostics.context import Context


async def main(config_path: Path, cases: list[tuple[str, dict[str, object]]]) -> None:
    config = agent_config.load(config_path)
    context = Context(network=config.network, snmp=config.snmp)
    out = []
    for name, params in cases:
        found = registry.validate(name, params)
        if isinstance(found, str):
            out.append({"check": name, "status": "rejected", "error": found, "result": {}})
            continue
        check, decoded = found
        budget = config.commands.max_seconds
        done = await execute.run_check(
            name, check, decoded, context, budget, config.commands.max_result_bytes
        )
        out.append({"check": name, "status": done.status, "error": done.error, "result": done.result})
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())))
