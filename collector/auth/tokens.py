"""API tokens for scripts and integrations: made once, stored only as their SHA-256.

tokens = TokenStore(engine)
secret = tokens.create("helpdesk", "ticket-bridge", now_ns)   # shown once
tokens.identity(secret)                                        # ("helpdesk", "ticket-bridge")
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from collector.incidents.schema import api_tokens
from collector.rows import reader


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is known about an API token: everything but the token itself."""

    id: int
    name: str
    role: str
    created_ns: int
    revoked: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The API tokens, in the collector's store (table `api_tokens`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, role: str, name: str, now_ns: int) -> str:
        """A new random token; only its SHA-256 is stored, so this is the one time it is seen."""
        token = "dw_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    name=name, role=role, token_sha256=hash_token(token), created_ns=now_ns
                )
            )
        return token

    def all(self) -> list[TokenInfo]:
        """Every token ever created, revoked ones included, oldest first (never the token itself)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.id))
            return [_token_info(r._mapping) for r in rows]

    def revoke(self, token_id: int) -> bool:
        """Refuse the token from now on; False if there is no such token or it was revoked already."""
        with self.engine.begin() as conn:
            done = conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked == sa.false())
                .values(revoked=True)
            )
            return done.rowcount == 1

    def identity(self, token: str) -> tuple[str, str] | None:
        """(role, name) of a valid token, None for an unknown or revoked one."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(api_tokens.c.role, api_tokens.c.name).where(
                    api_tokens.c.token_sha256 == hash_token(token), api_tokens.c.revoked == sa.false()
                )
            ).first()
            return None if row is None else (str(row.role), str(row.name))


_token_info = reader(TokenInfo)
