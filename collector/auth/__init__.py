"""Who may do what: roles, API tokens for scripts and the console's users and sessions.

Three roles, each allowing what the one below it does: a viewer reads, helpdesk staff act
on tickets, silences and diagnostics, an administrator does all. A script proves its role
with an API token (`tokens`), a person with a name and password in the console (`users`);
both end up as a `Principal`, the name that timelines and the audit show.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    VIEWER = "viewer"
    HELPDESK = "helpdesk"
    ADMIN = "admin"


_RANK = {Role.VIEWER: 0, Role.HELPDESK: 1, Role.ADMIN: 2}


def allows(held: Role, needed: Role) -> bool:
    """Whether a `held` role may do what `needed` is required for."""
    return _RANK[held] >= _RANK[needed]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: their role and their name (the actor on timelines)."""

    role: Role
    name: str
