"""Sleep, hibernation and shutdown of this PC, told to the collector before they happen.

A laptop closed at the end of the day leaves the network without a goodbye: the broker
would publish the agent's Last Will and the PC would look lost. The OS tells programs
first, so the agent says goodbye with a reason (`offline`, reason `sleep` or `shutdown`)
and disconnects cleanly, which makes the broker drop the Last Will; on waking it
connects again and its birth says `online`.

On Linux the announcement comes from systemd-logind over the D-Bus system bus
(`PrepareForSleep`, `PrepareForShutdown`). The agent holds a *delay* inhibitor lock, so
logind waits (up to its InhibitDelayMaxSec, 5 s by default) until the goodbye is out,
and takes a new lock after each wake. On Windows the service receives the power
broadcasts itself and calls the same handler. Where neither is there (no logind, a
container, macOS) nothing is announced and the Last Will still tells the collector
that the PC went away, which its rules read as laptops and working hours say.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, Literal

log = logging.getLogger(__name__)

PowerEvent = Literal["sleep", "resume", "shutdown"]
PowerHandler = Callable[[PowerEvent], Coroutine[Any, Any, None]]

LOGIND: Final = "org.freedesktop.login1"
_MANAGER: Final = "org.freedesktop.login1.Manager"
_PATH: Final = "/org/freedesktop/login1"
ANNOUNCE_TIMEOUT_SECONDS: Final = 4.0  # within logind's default 5 s delay


class LogindWatcher:
    """A thread that turns logind's sleep and shutdown signals into calls of `handler` on `loop`."""

    def __init__(self, handler: PowerHandler, loop: asyncio.AbstractEventLoop, bus: str = "SYSTEM") -> None:
        self.handler = handler
        self.loop = loop
        self.bus = bus
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.available = False  # connected to logind and holding a lock

    def start(self, timeout: float = 5.0) -> bool:
        """Start watching; True if logind is there (the first lock is held), False otherwise."""
        self._thread = threading.Thread(target=self._run, name="power", daemon=True)
        self._thread.start()
        self._ready.wait(timeout)
        return self.available

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        try:
            from jeepney import DBusAddress, MatchRule, new_method_call
            from jeepney.io.blocking import open_dbus_connection
        except ImportError:
            log.info("no jeepney: sleep and shutdown are not announced (the Last Will still is)")
            self._ready.set()
            return
        try:
            conn = open_dbus_connection(self.bus, enable_fds=True)
        except (OSError, KeyError, ValueError, RuntimeError) as err:
            log.info("no D-Bus system bus (%s): sleep and shutdown are not announced", err)
            self._ready.set()
            return
        logind = DBusAddress(_PATH, bus_name=LOGIND, interface=_MANAGER)
        rule = MatchRule(type="signal", interface=_MANAGER, path=_PATH)
        try:
            conn.bus_proxy.AddMatch(rule)
            lock = self._inhibit(conn, new_method_call(logind, "Inhibit", "ssss", _INHIBIT))
        except Exception as err:  # a bus without logind answers with an error message
            log.info("logind does not answer (%s): sleep and shutdown are not announced", err)
            conn.close()
            self._ready.set()
            return
        self.available = True
        self._ready.set()
        log.info("announcing sleep and shutdown to the collector (logind delay lock held)")
        try:
            with conn.filter(rule, bufsize=16) as signals:
                while not self._stop.is_set():
                    try:
                        message = conn.recv_until_filtered(signals, timeout=1.0)
                    except TimeoutError:
                        continue
                    lock = self._signal(conn, logind, message, lock)
        except (OSError, ConnectionError) as err:
            log.warning("lost the D-Bus system bus (%s): sleep and shutdown no longer announced", err)
        finally:
            if lock is not None:
                lock.close()
            conn.close()

    def _signal(self, conn: Any, logind: Any, message: Any, lock: Any) -> Any:
        from jeepney import HeaderFields, new_method_call

        member = message.header.fields.get(HeaderFields.member)
        active = bool(message.body[0]) if message.body else False
        if member == "PrepareForSleep" and active:
            self._announce("sleep")
        elif member == "PrepareForShutdown" and active:
            self._announce("shutdown")
        elif member in ("PrepareForSleep", "PrepareForShutdown"):  # woke, or a shutdown was cancelled
            self._announce("resume")
            if lock is None:
                return self._inhibit(conn, new_method_call(logind, "Inhibit", "ssss", _INHIBIT))
            return lock
        else:
            return lock
        if lock is not None:
            lock.close()  # the goodbye is out: logind may go on
        return None

    def _announce(self, event: PowerEvent) -> None:
        future = asyncio.run_coroutine_threadsafe(self.handler(event), self.loop)
        try:
            future.result(ANNOUNCE_TIMEOUT_SECONDS)
        except Exception as err:  # the PC goes to sleep anyway: say why the goodbye failed
            log.warning("could not announce %s: %r", event, err)

    @staticmethod
    def _inhibit(conn: Any, call: Any) -> Any:
        reply = conn.send_and_get_reply(call, timeout=5)
        if reply.header.message_type.name == "error":
            raise RuntimeError(f"Inhibit refused: {reply.body}")
        return reply.body[0]  # a FileDescriptor: the lock lasts until it is closed


# what, who, why, mode: logind's Inhibit arguments
_INHIBIT: Final = (
    "sleep:shutdown",
    "deskwatch",
    "tell the helpdesk this PC goes to sleep or shuts down",
    "delay",
)


async def watch(handler: PowerHandler) -> LogindWatcher | None:
    """Start announcing this PC's sleep and shutdown where the OS tells (Linux: logind)."""
    if not sys.platform.startswith("linux"):
        return None
    watcher = LogindWatcher(handler, asyncio.get_running_loop())
    return watcher if await asyncio.to_thread(watcher.start) else None
