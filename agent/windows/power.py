"""Sleep, resume and shutdown as the Windows service manager announces them, in the agent's words.

The service receives SERVICE_CONTROL_POWEREVENT with a PBT_* event type, and
SERVICE_CONTROL_SHUTDOWN or SERVICE_CONTROL_PRESHUTDOWN; `event_of` maps them to one of three
events so a laptop that goes home says "sleep" instead of vanishing. Whoever runs the agent
(`agent.runner.run`) subscribes one callback, `on_power(event)`, through `PowerRelay`, which
carries the event from the service manager's thread onto the agent's event loop.
Pure apart from the relay's thread hop; the codes are winuser.h and winsvc.h's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Final

from agent.power import PowerEvent

log = logging.getLogger(__name__)

OnPower = Callable[[PowerEvent], None]

# winsvc.h: service control codes
SERVICE_CONTROL_SHUTDOWN: Final = 0x05
SERVICE_CONTROL_POWEREVENT: Final = 0x0D
SERVICE_CONTROL_PRESHUTDOWN: Final = 0x0F
# winsvc.h: what the service tells the manager it wants to hear
SERVICE_ACCEPT_SHUTDOWN: Final = 0x04
SERVICE_ACCEPT_POWEREVENT: Final = 0x40
SERVICE_ACCEPT_PRESHUTDOWN: Final = 0x100
# winuser.h: power broadcast event types
PBT_APMSUSPEND: Final = 0x04  # the PC is about to sleep or hibernate
PBT_APMRESUMESUSPEND: Final = 0x07  # resumed, and a user is there (after PBT_APMRESUMEAUTOMATIC)
PBT_APMPOWERSTATUSCHANGE: Final = 0x0A  # on battery / on mains: not ours
PBT_APMRESUMEAUTOMATIC: Final = 0x12  # resumed, always sent
PBT_POWERSETTINGCHANGE: Final = 0x8013  # a registered power setting changed: not ours

_POWER_EVENTS: Final[dict[int, PowerEvent]] = {
    PBT_APMSUSPEND: "sleep",
    PBT_APMRESUMEAUTOMATIC: "resume",
    PBT_APMRESUMESUSPEND: "resume",
}


def event_of(control: int, event_type: int = 0) -> PowerEvent | None:
    """The agent's event for a service control (and its event type), or None when it is not one."""
    if control in (SERVICE_CONTROL_SHUTDOWN, SERVICE_CONTROL_PRESHUTDOWN):
        return "shutdown"
    if control == SERVICE_CONTROL_POWEREVENT:
        return _POWER_EVENTS.get(event_type)
    return None


class PowerRelay:
    """Power events from any thread to the one callback subscribed on the agent's event loop.

    Windows sends both resume events after a sleep (automatic, then suspend when a user is
    there), and PRESHUTDOWN before SHUTDOWN; the relay passes each change once, so the
    subscriber sees sleep, resume, sleep, resume, shutdown, never the same twice in a row.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callback: OnPower | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last: PowerEvent | None = None

    def subscribe(self, callback: OnPower) -> None:
        """Call `callback(event)` on the running event loop for every event from now on."""
        with self._lock:
            self._callback = callback
            self._loop = asyncio.get_running_loop()

    def deliver(self, event: PowerEvent) -> bool:
        """Hand one event over (from the service manager's thread); False if it was a repeat or unheard."""
        with self._lock:
            if event == self._last:
                return False
            self._last = event
            callback, loop = self._callback, self._loop
        if callback is None or loop is None or loop.is_closed():
            log.info("power event %s before the agent was running", event)
            return False
        loop.call_soon_threadsafe(callback, event)
        return True
