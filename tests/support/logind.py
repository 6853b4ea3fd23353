"""A private D-Bus bus (the real dbus-daemon) with a stand-in for systemd-logind on it.

logind itself cannot run in a test (it needs to be PID 1's systemd-logind and would put
the test machine to sleep), so this answers `Inhibit` the way logind does (a file
descriptor that holds the lock until it is closed) and sends `PrepareForSleep` and
`PrepareForShutdown` when the test says. Everything else is real: the daemon, the
agent's D-Bus client, the file-descriptor passing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

from jeepney import DBusAddress, HeaderFields, MessageType, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import Proxy, open_dbus_connection

from tests.support.waiting import wait_until

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
_PATH = "/org/freedesktop/login1"
_MANAGER = "org.freedesktop.login1.Manager"


class Bus:
    """`dbus-daemon` on a socket in `workdir`; `address` is what DBUS_SYSTEM_BUS_ADDRESS takes."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket = workdir / "bus"
        self.config = workdir / "bus.conf"
        self.config.write_text(_CONFIG.format(socket=self.socket))
        self.address = f"unix:path={self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Bus:
        daemon = shutil.which("dbus-daemon")
        if daemon is None:
            raise RuntimeError("dbus-daemon is not installed (deploy/install-deps.sh installs it)")
        proc = self.proc = subprocess.Popen([daemon, f"--config-file={self.config}", "--nofork"])
        # listening, not only bound: the socket file exists a moment before connects succeed
        wait_until(
            lambda: self._accepts() or proc.poll() is not None, timeout=10, what="dbus-daemon's socket"
        )
        if proc.poll() is not None:
            raise RuntimeError(f"dbus-daemon exited with {proc.returncode}")
        return self

    def _accepts(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:  # not there yet, or bound but not listening
                return False
        return True

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


class FakeLogind:
    """Owns org.freedesktop.login1 on `bus`, hands out inhibitor locks and sends the signals."""

    def __init__(self, bus: Bus) -> None:
        self.conn = open_dbus_connection(bus.address, enable_fds=True)
        reply = Proxy(message_bus, self.conn).RequestName("org.freedesktop.login1", 0)
        assert reply == (1,), reply  # primary owner
        self.inhibits: list[tuple[str, ...]] = []
        self._locks: list[int] = []  # read ends: EOF once the holder closed its end
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = message.header.fields
            if message.header.message_type is not MessageType.method_call:
                continue
            if fields.get(HeaderFields.member) == "Inhibit":
                read_end, write_end = os.pipe()
                with self._lock:
                    self.inhibits.append(tuple(message.body))
                    self._locks.append(read_end)
                self.conn.send(new_method_return(message, "h", (write_end,)))
                os.close(write_end)  # the holder's copy is the only one left

    def held(self) -> int:
        """How many inhibitor locks are still held by someone."""
        held = 0
        with self._lock:
            for fd in self._locks:
                os.set_blocking(fd, False)
                try:
                    data = os.read(fd, 1)
                except BlockingIOError:
                    held += 1  # open, nothing to read: still held
                    continue
                if data:
                    held += 1
        return held

    def signal(self, member: str, active: bool) -> None:
        """`PrepareForSleep(active)` or `PrepareForShutdown(active)`, to everyone listening."""
        address = DBusAddress(_PATH, interface=_MANAGER)
        self.conn.send(new_signal(address, member, "b", (active,)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.conn.close()
        with self._lock:
            for fd in self._locks:
                os.close(fd)
