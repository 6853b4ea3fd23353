"""Bearer tokens with roles: viewer reads, helpdesk acts on incidents and silences, admin does all."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collector.incidents.store import IncidentStore


class Role(enum.StrEnum):
    VIEWER = "viewer"
    HELPDESK = "helpdesk"
    ADMIN = "admin"


_RANK = {Role.VIEWER: 0, Role.HELPDESK: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: their role and the token's name (the actor on timelines)."""

    role: Role
    name: str


_bearer = HTTPBearer(auto_error=False, description="a token from `deskwatch-collector token create`")


def requirer(store: IncidentStore) -> Callable[[Role], Callable[..., Principal]]:
    """`require(Role.HELPDESK)` is a dependency: 401 without a valid token, 403 below that role."""

    def require(role: Role) -> Callable[..., Principal]:
        def check(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:  # noqa: B008
            if credentials is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    "a bearer token is required",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            identity = store.token_identity(credentials.credentials)
            if identity is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    "unknown or revoked token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            principal = Principal(Role(identity[0]), identity[1] or identity[0])
            if _RANK[principal.role] < _RANK[role]:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this ({role} needed)"
                )
            return principal

        return check

    return require
