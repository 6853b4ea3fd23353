"""The `deskwatch-agent` Windows service: pywin32's service framework around `agent.runner.run`.

The MSI registers `pythonw.exe -m agent service` as an automatic service running as
LocalSystem; `deskwatch-agent service` (this module's `main`) hands the process to the
service control manager. The agent runs on an asyncio loop in the service's main thread;
the manager's controls arrive on another thread:

- stop: the agent finishes the round in progress, waits briefly for the broker to
  acknowledge what is in flight, says `offline` (reason `shutdown`) and closes the spool;
  what the broker has not acknowledged stays in the spool for the next start;
- shutdown and preshutdown: the same, announced as the power event "shutdown";
- power events: "sleep" and "resume" (agent.windows.power) go to the runner's `on_power`.

Logs go to C:\\ProgramData\\deskwatch\\agent.log (rotated at 5 MiB, three kept).
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import servicemanager
import win32service
import win32serviceutil

from agent.windows import power

log = logging.getLogger(__name__)

NAME = "deskwatch-agent"
STOP_WAIT_MS = 30_000  # how long the manager waits for our stop before it gives up on us


def configure_logging(path: Path, level: str = "INFO") -> None:
    """The service's log file; the agent's own loggers write there like they write to stderr elsewhere."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5 * 2**20, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# How the service loads its configuration: agent.cli.service_config, handed over by `main`.
_configure: list[Callable[[list[str]], Any]] = []


class AgentService(win32serviceutil.ServiceFramework):
    """What the service control manager starts, stops and tells about power and shutdown."""

    _svc_name_ = NAME
    _svc_display_name_ = "deskwatch agent"
    _svc_description_ = "Measures this PC, its network and printers and reports to the helpdesk."
    argv: ClassVar[list[str]] = []  # the `deskwatch-agent service ...` arguments (set by main)

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self.relay = power.PowerRelay()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        # A stop may come while the configuration is still loading, before the loop runs
        # (Wine's `sc stop` right after a start showed it): it must not be lost.
        self._stopping = False

    def GetAcceptedControls(self) -> int:
        accepted: int = super().GetAcceptedControls()  # type: ignore[no-untyped-call]
        return accepted | power.SERVICE_ACCEPT_POWEREVENT | power.SERVICE_ACCEPT_PRESHUTDOWN

    def SvcDoRun(self) -> None:
        config = _configure[0](self.argv)
        log.info("service %s starting (agent id %s)", NAME, config.resolved_agent_id)
        asyncio.run(self.run(config))
        log.info("service %s stopped", NAME)

    async def run(self, config: Any) -> None:
        """The agent until a stop; called by the CLI once the configuration is loaded."""
        from agent import runner

        stop = asyncio.Event()
        with self._lock:
            self._loop, self._stop = asyncio.get_running_loop(), stop
            stopping = self._stopping
        if stopping:
            log.info("stopped before the agent started")
            return
        await runner.run(config, stop=stop, power_source=self.relay)

    def SvcStop(self) -> None:
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_WAIT_MS)
        log.info("the service manager asks the agent to stop")
        self._request_stop()

    def SvcShutdown(self) -> None:
        self._power(power.SERVICE_CONTROL_SHUTDOWN, 0)

    def SvcOtherEx(self, control: int, event_type: int, data: object) -> int:
        self._power(control, event_type)
        return 0  # NO_ERROR; a PBT_APMQUERYSUSPEND would be granted too

    def _power(self, control: int, event_type: int) -> None:
        event = power.event_of(control, event_type)
        if event is None:
            return
        if event == "shutdown":
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_WAIT_MS)
        if not self.relay.deliver(event) and event == "shutdown":
            self._request_stop()  # nobody subscribed yet: stop all the same

    def _request_stop(self) -> None:
        with self._lock:
            self._stopping = True
            loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)


def main(argv: list[str], configure: Callable[[list[str]], Any]) -> int:
    """Run as the service; started by the service control manager, not by a person.

    `configure(argv)` loads the agent's configuration (agent.cli.service_config), once the
    service runs and its log file is the place to report a bad one."""
    AgentService.argv = argv
    _configure[:] = [configure]
    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(AgentService)
    servicemanager.StartServiceCtrlDispatcher()  # type: ignore[no-untyped-call]
    return 0
