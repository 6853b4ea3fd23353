"""Bearer tokens with roles, as route dependencies: `viewer` reads, `helpdesk` acts on incidents,
silences and diagnostics, an admin does all (collector.auth has the roles and the token store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collector.auth import Principal, Role, allows
from collector.auth.tokens import TokenStore
from collector.http import part

_bearer = HTTPBearer(auto_error=False, description="a token from `deskwatch-collector token create`")


def require(role: Role) -> Callable[..., Principal]:
    """A dependency: 401 without a valid token, 403 below `role`; the caller as a Principal."""

    def check(
        tokens: Annotated[TokenStore, Depends(part(TokenStore))],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        identity = tokens.identity(credentials.credentials)
        if identity is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown or revoked token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = Principal(Role(identity[0]), identity[1] or identity[0])
        if not allows(principal.role, role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this ({role} needed)"
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Helpdesk = Annotated[Principal, Depends(require(Role.HELPDESK))]
