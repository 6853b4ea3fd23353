"""An agent whose sleep, resume and shutdown arrive through PowerRelay, as the Windows service's do.

    python tests/support/relayed_agent.py AGENT_TOML EVENTS

`agent.runner.run` with a PowerRelay as its power source, and a thread standing in for the
service control manager's: it reads EVENTS (the test appends one event a line: sleep,
resume or shutdown) and hands each to `PowerRelay.deliver` from that thread, where
`AgentService.SvcOtherEx` would. The process ends when the runner does (after shutdown).

Only the service manager is a stand-in: Windows would call the service with
SERVICE_CONTROL_POWEREVENT, and neither Linux nor Wine can (Wine's ControlService refuses
that control, as Windows' does). It imports nothing but `agent`, so the Windows CPython
under Wine runs it from its path as well as the Linux one.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from pathlib import Path

from agent import config as agent_config
from agent import runner
from agent.power import PowerEvent
from agent.windows.power import PowerRelay

log = logging.getLogger("relayed_agent")
EVENTS: dict[str, PowerEvent] = {"sleep": "sleep", "resume": "resume", "shutdown": "shutdown"}


def play_service_manager(relay: PowerRelay, events: Path, done: threading.Event) -> None:
    """Deliver each new line of `events` from this thread, in order."""
    delivered = 0
    while not done.is_set():
        lines = events.read_text().split() if events.exists() else []
        for word in lines[delivered:]:
            log.info("service manager: %s (passed on: %s)", word, relay.deliver(EVENTS[word]))
        delivered = len(lines)
        done.wait(0.05)  # how often the stand-in service manager looks at the feed; returns at once when done


async def main(config_path: Path, events: Path) -> None:
    config = agent_config.load(config_path)
    relay = PowerRelay()
    done = threading.Event()
    manager = threading.Thread(target=play_service_manager, args=(relay, events, done), daemon=True)
    manager.start()
    try:
        # The service's own stop event: set by the relayed "shutdown" (runner.power_handler).
        await runner.run(config, stop=asyncio.Event(), power_source=relay)
    finally:
        done.set()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
