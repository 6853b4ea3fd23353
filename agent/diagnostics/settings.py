"""The `[commands]` table of agent.toml: how many on-demand checks, how long, how big."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agent.protocol import MAX_RESULT_BYTES


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Limits on commands from the collector; the verifying key is `command_key` at the top level."""

    enabled: bool = True
    # A token bucket: `burst` commands at once, refilled at `per_minute`.
    per_minute: Annotated[float, msgspec.Meta(gt=0, le=6000)] = 30
    burst: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    max_concurrent: Annotated[int, msgspec.Meta(ge=1, le=16)] = 2
    # The longest any check may run; a command's own expiry can only shorten it.
    max_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15
    # The longest lifetime (expires - issued) a command may claim, which also bounds
    # how long nonces must be remembered.
    max_lifetime_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 300
    # How far the collector's clock may be ahead of or behind this PC's.
    clock_skew_seconds: Annotated[float, msgspec.Meta(ge=0, le=600)] = 30
    max_result_bytes: Annotated[int, msgspec.Meta(ge=1024, le=MAX_RESULT_BYTES)] = MAX_RESULT_BYTES - 4096
