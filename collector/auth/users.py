"""Helpdesk users of the console and their browser sessions (migration branch `console`).

Passwords are stored only as Argon2id hashes (argon2-cffi, its default parameters: the
RFC 9106 low-memory profile). A session is a random token in an HttpOnly cookie; the
store keeps its SHA-256, the user, the session's CSRF token and its expiry, so any
collector worker sharing the store accepts it, and removing a user or changing a
password ends that user's sessions at once.

    users = UserStore(engine)
    users.add("maria", Role.HELPDESK, "correct horse", now_ns)
    user = users.verify("maria", "correct horse")          # None if wrong
    token, csrf = users.open_session(user, now_ns, ttl_seconds)
    session = users.session(token, now_ns)                 # None once expired or closed
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from agent.protocol import NS
from collector.auth import Role
from collector.errors import CollectorError

MIN_PASSWORD_CHARS = 10
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"

metadata = sa.MetaData()
users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=False),  # Argon2id, PHC string format
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("password_changed_ns", sa.BigInteger, nullable=False),
)
sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),  # the cookie's token is never stored
    sa.Column("user_id", sa.Integer, sa.ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_console_sessions_user", "user_id"),
)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so an unknown name takes as long as a wrong
    password; made on first use, not at import (the CLI imports this module)."""
    return _hasher.hash(secrets.token_urlsafe(16))


class UserError(CollectorError, ValueError):
    """A user cannot be made or changed as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    created_ns: int


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: who, and the token its forms must carry."""

    user: User
    csrf: str
    expires_ns: int


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    """Refuse a password too short to resist guessing."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")


class UserStore:
    """Users and sessions in the collector's store (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, name: str, role: Role, password: str, now_ns: int) -> User:
        if not re.match(NAME_PATTERN, name):
            raise UserError(f"a user name is letters, digits and . _ @ - (at most 64), not {name!r}")
        check_password(password)
        try:
            with self.engine.begin() as conn:
                result = conn.execute(
                    users.insert().values(
                        name=name,
                        role=role.value,
                        password_hash=_hasher.hash(password),
                        created_ns=now_ns,
                        password_changed_ns=now_ns,
                    )
                )
        except IntegrityError:
            raise UserError(f"user {name} exists already") from None
        key = result.inserted_primary_key
        assert key is not None
        return User(int(key[0]), name, role, now_ns)

    def list(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.name))
            return [User(r.id, r.name, Role(r.role), r.created_ns) for r in rows]

    def get(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(users).where(users.c.name == name)).first()
        return None if r is None else User(r.id, r.name, Role(r.role), r.created_ns)

    def remove(self, name: str) -> bool:
        """Delete the user and end their sessions; False if there is no such user."""
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar_one_or_none()
            if found is None:
                return False
            conn.execute(sessions.delete().where(sessions.c.user_id == found))
            conn.execute(users.delete().where(users.c.id == found))
            return True

    def set_password(self, name: str, password: str, now_ns: int) -> bool:
        """A new password; every session of the user ends. False if there is no such user."""
        check_password(password)
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar_one_or_none()
            if found is None:
                return False
            conn.execute(
                users.update()
                .where(users.c.id == found)
                .values(password_hash=_hasher.hash(password), password_changed_ns=now_ns)
            )
            conn.execute(sessions.delete().where(sessions.c.user_id == found))
            return True

    def verify(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs, else None (in about the same time either way)."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(users).where(users.c.name == name)).first()
        try:
            _hasher.verify(r.password_hash if r is not None else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if r is None:
            return None
        if _hasher.check_needs_rehash(r.password_hash):  # parameters raised since it was set
            with self.engine.begin() as conn:
                conn.execute(
                    users.update().where(users.c.id == r.id).values(password_hash=_hasher.hash(password))
                )
        return User(r.id, r.name, Role(r.role), r.created_ns)

    def open_session(self, user: User, now_ns: int, ttl_seconds: float) -> tuple[str, str]:
        """A new session: (cookie token, CSRF token). Expired sessions are swept here."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_ns <= now_ns))
            conn.execute(
                sessions.insert().values(
                    token_sha256=_sha256(token),
                    user_id=user.id,
                    csrf=csrf,
                    created_ns=now_ns,
                    expires_ns=now_ns + int(ttl_seconds * NS),
                )
            )
        return token, csrf

    def session(self, token: str, now_ns: int) -> Session | None:
        if not token or len(token) > 128:
            return None
        query = (
            sa.select(users, sessions.c.csrf, sessions.c.expires_ns)
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(sessions.c.token_sha256 == _sha256(token), sessions.c.expires_ns > now_ns)
        )
        with self.engine.connect() as conn:
            r = conn.execute(query).first()
        if r is None:
            return None
        return Session(User(r.id, r.name, Role(r.role), r.created_ns), r.csrf, r.expires_ns)

    def close_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.token_sha256 == _sha256(token)))
