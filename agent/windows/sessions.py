"""Who is logged on to this PC: the user names of its terminal services sessions.

A console login and a Remote Desktop login are both sessions; services run in session 0
with no user name. `users_of` is pure and takes (session id, state, user) rows.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Final

log = logging.getLogger(__name__)

WTS_ACTIVE: Final = 0
WTS_CONNECTED: Final = 1
WTS_DISCONNECTED: Final = 4  # a user who locked a Remote Desktop session and left it open
_LOGGED_ON: Final = frozenset({WTS_ACTIVE, WTS_CONNECTED, WTS_DISCONNECTED})


def users_of(sessions: Iterable[tuple[int, int, str]]) -> list[str]:
    """User names with a session, active ones first, each once."""
    rows = sorted(
        (state != WTS_ACTIVE, sid, user) for sid, state, user in sessions if user and state in _LOGGED_ON
    )
    return list(dict.fromkeys(user for _, _, user in rows))


def logged_on() -> list[str]:
    """The users logged on now (DOMAIN\\user where the session has a domain)."""
    if sys.platform != "win32":
        return []
    import win32ts

    rows = []
    try:
        server = win32ts.WTS_CURRENT_SERVER_HANDLE
        for session in win32ts.WTSEnumerateSessions(server, 1, 0):
            sid = int(session["SessionId"])
            user = win32ts.WTSQuerySessionInformation(server, sid, win32ts.WTSUserName)
            domain = win32ts.WTSQuerySessionInformation(server, sid, win32ts.WTSDomainName)
            if user:
                rows.append((sid, int(session["State"]), f"{domain}\\{user}" if domain else str(user)))
    except Exception as err:  # pywintypes.error: terminal services not running (Wine has none)
        log.debug("cannot list sessions: %s", err)
    return users_of(rows)
