"""Parameter types shared by the checks' schemas.

A host never starts with '-', so it can never be read as an option by the OS tools
(traceroute, tracert) that receive it as an argument.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Host = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\[][A-Za-z0-9_.:%\[\]-]{0,252}\Z")]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]{1,2040}\Z")]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=30)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every check's parameters: unknown names are refused, never ignored."""


class NoParams(Params, frozen=True):
    """A check that takes no parameters."""
