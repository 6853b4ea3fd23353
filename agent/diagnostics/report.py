"""The result a check fills in as it goes, so a check stopped at its deadline still says what it found.

A check writes named parts (`set`, `append`) and the problems it found (`problem`); the
handler turns the report into the reply's `result` with `finish()`. Values are
msgspec Structs or plain JSON values. `problems` come first in every result, so the
helpdesk reads what is wrong before the details.
"""

from __future__ import annotations

from typing import Any

import msgspec

from agent.errors import AgentError

_encoder = msgspec.json.Encoder()


class CheckFailed(AgentError):
    """The check could not run at all (a tool is missing, the OS has no such thing); `str()` says why."""


class Report:
    """A check's findings so far."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._parts: dict[str, Any] = {}

    def set(self, key: str, value: object) -> None:
        self._parts[key] = value

    def append(self, key: str, value: object) -> None:
        self._parts.setdefault(key, []).append(value)

    def problem(self, text: str) -> None:
        """Something the helpdesk should know is wrong, in words: "DNS lookup of x timed out after 2 s"."""
        self.problems.append(text)

    def finish(self, max_bytes: int) -> tuple[dict[str, Any], bool]:
        """The report as JSON-ready builtins within `max_bytes`, and whether parts had to be cut."""
        result: dict[str, Any] = {"ok": not self.problems, "problems": list(self.problems)}
        result.update(msgspec.to_builtins(self._parts))
        return bound(result, max_bytes)


def bound(result: dict[str, Any], max_bytes: int) -> tuple[dict[str, Any], bool]:
    """`result` cut to at most `max_bytes` of JSON: the biggest parts are shortened first, `problems` last."""
    if len(_encoder.encode(result)) <= max_bytes:
        return result, False
    out = dict(result)
    sizes = sorted(
        ((len(_encoder.encode(v)), k) for k, v in out.items() if k not in ("ok", "problems")), reverse=True
    )
    for _, key in sizes:
        value = out[key]
        # A list keeps its first items (checks put the most important first); anything else goes.
        while isinstance(value, list) and value and len(_encoder.encode(out)) > max_bytes:
            value = value[: len(value) // 2]
            out[key] = value
        if len(_encoder.encode(out)) <= max_bytes:
            break
        out[key] = f"<cut: more than {max_bytes} bytes in all>"
        if len(_encoder.encode(out)) <= max_bytes:
            break
    if len(_encoder.encode(out)) > max_bytes:
        out["problems"] = [p[:200] for p in out["problems"][:20]]
    out["truncated"] = True
    return out, True
