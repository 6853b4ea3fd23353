"""Console sign-in: session cookies, CSRF tokens on every form, a login rate limit, roles.

The session cookie (`dw_session`) is HttpOnly, SameSite=Lax, and Secure when the page
came over TLS. Every state-changing request is a POST whose form carries the session's
CSRF token (compared in constant time); the login form, before there is a session,
carries a random token that must equal its own cookie (`dw_login`, double submit).
Failed logins are counted per user name (and, ten times as many, per client address);
past `login_attempts` within `login_window_seconds` the login answers 429 until the
window has passed. The counts live in the process (a second worker keeps its own): they slow
guessing down, the Argon2 hashes make each guess expensive.
"""

from __future__ import annotations

import collections
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import HTTPException, Request

from collector.auth import Role, allows
from collector.auth.users import Session, UserStore
from collector.console.settings import ConsoleSettings
from collector.errors import CollectorError

SESSION_COOKIE = "dw_session"
LOGIN_COOKIE = "dw_login"
MAX_FORM_BYTES = 64 * 1024
ADDRESS_FACTOR = 10  # failed logins allowed per client address, in multiples of those per user


class LoginRequired(CollectorError):
    """No valid session: the browser goes to /login and comes back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Denied(CollectorError):
    """Signed in, but the role is too low, or the form's CSRF token is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Form:
    """A posted urlencoded form: the first value of each field."""

    fields: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


async def read_form(request: Request) -> Form:
    """The request's urlencoded body, refused past MAX_FORM_BYTES before it is all read."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise HTTPException(415, "the console takes urlencoded forms")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=64, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as err:
        raise HTTPException(400, "malformed form") from err
    return Form({k: v[0] for k, v in parsed.items()})


def safe_next(path: str) -> str:
    """Where to go after login: a path on this site only (never //other.host or a URL)."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path and "\n" not in path:
        return path
    return "/"


class Throttle:
    """Failed attempts per key within a sliding window; thread-safe."""

    def __init__(
        self, attempts: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, *keys: str) -> float:
        """0 if each key may try again now, else how long until the first may."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if times is None:
                    continue
                while times and times[0] <= now - self.window:
                    times.popleft()
                if not times:
                    del self._failures[key]
                elif len(times) >= self.attempts:
                    wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, *keys: str) -> bool:
        """Count a failure for each key; True if one of them has just reached the limit."""
        now = self.clock()
        locked = False
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of made-up names must not eat the memory
                self._failures.clear()
            for key in keys:
                times = self._failures.setdefault(key, collections.deque(maxlen=self.attempts * 2))
                times.append(now)
                locked = locked or len(times) == self.attempts
        return locked

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class Auth:
    """Sessions of the console's users, as FastAPI dependencies."""

    def __init__(self, users: UserStore, settings: ConsoleSettings, clock: Callable[[], int] = time.time_ns):
        self.users = users
        self.settings = settings
        self.clock = clock
        self.throttle = Throttle(settings.login_attempts, settings.login_window_seconds)
        # an office's PCs may share one address (NAT, a terminal server): more tries per address
        self.address_throttle = Throttle(
            settings.login_attempts * ADDRESS_FACTOR, settings.login_window_seconds
        )

    def session(self, request: Request) -> Session | None:
        return self.users.session(request.cookies.get(SESSION_COOKIE, ""), self.clock())

    def require(self, request: Request, role: Role) -> Session:
        """The signed-in user's session, with at least `role` (LoginRequired or Denied otherwise)."""
        session = self.session(request)
        if session is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(path)
        if not allows(session.user.role, role):
            raise Denied(f"this needs the {role} role; {session.user.name} is {session.user.role}")
        return session

    @staticmethod
    def check_csrf(session: Session, form: Form) -> None:
        if not hmac.compare_digest(form.get("csrf").encode(), session.csrf.encode()):
            raise Denied("the form was out of date (or not from this console); reload the page and try again")

    @staticmethod
    def login_token(request: Request) -> str:
        """The login form's CSRF token: the one in its cookie, or a new one."""
        return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)

    @staticmethod
    def login_token_ok(request: Request, form: Form) -> bool:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), form.get("csrf").encode())
