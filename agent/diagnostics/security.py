"""Is a command from our collector, fresh, not seen before, and within the rate? (pure)

Each function returns the reason a command must be refused, or None. Time comes in as
an argument, so the tests state it instead of patching clocks.

The signature covers every field but itself (`protocol.signing_bytes`), the agent id
included, so a command signed for one PC is refused by every other one. A nonce is
remembered until its command expires and commands may claim at most
`max_lifetime_seconds`, which bounds the memory the replay check needs. The handler keeps
the live nonces in a file too (`NonceCache.entries`, `NonceCache(entries, now)`), so a
command seen before a restart is still refused after it; a command issued before the
agent started (beyond the clock skew) is refused as well, even were that file lost.
"""

from __future__ import annotations

import base64
import binascii
import heapq
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.diagnostics.settings import Settings
from agent.protocol import NS, Command, signing_bytes


def load_public_key(text: str) -> Ed25519PublicKey:
    """The collector's public key from its base64 form (what `signing-key` prints); ValueError if not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("command_key is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"command_key must be a 32-byte Ed25519 public key, got {len(raw)} bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_problem(command: Command, key: Ed25519PublicKey) -> str | None:
    """Why the signature does not prove the collector sent exactly this command, or None."""
    if not command.signature:
        return "unsigned command"
    try:
        signature = base64.b64decode(command.signature, validate=True)
    except (binascii.Error, ValueError):
        return "signature is not base64"
    try:
        key.verify(signature, signing_bytes(command))
    except InvalidSignature:
        return "bad signature: not signed by this agent's collector, or altered on the way"
    return None


def time_problem(command: Command, now_ns: int, started_ns: int, settings: Settings) -> str | None:
    """Why the command is not valid at `now_ns` on an agent that started at `started_ns`, or None."""
    skew = int(settings.clock_skew_seconds * NS)
    if command.expires_ns <= now_ns:
        return f"expired {(now_ns - command.expires_ns) / NS:.1f} s ago"
    if command.issued_ns > now_ns + skew:
        return f"issued {(command.issued_ns - now_ns) / NS:.1f} s in the future (clock skew?)"
    if command.expires_ns - command.issued_ns > settings.max_lifetime_seconds * NS:
        return f"lifetime longer than the allowed {settings.max_lifetime_seconds:g} s"
    if command.issued_ns < started_ns - skew:
        return "issued before this agent started (a replay?)"
    return None


class NonceCache:
    """Nonces of commands that are not expired yet."""

    def __init__(self, entries: Iterable[tuple[str, int]] = (), now_ns: int = 0) -> None:
        """`entries`: (nonce, expires_ns) pairs remembered before a restart; expired ones are dropped."""
        self._expiry: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        for nonce, expires_ns in entries:
            if expires_ns > now_ns and nonce not in self._expiry:
                self._expiry[nonce] = expires_ns
                heapq.heappush(self._heap, (expires_ns, nonce))

    def entries(self) -> list[tuple[str, int]]:
        """The (nonce, expires_ns) pairs remembered now, for keeping across a restart."""
        return sorted(self._expiry.items())

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, nonce: str, expires_ns: int, now_ns: int) -> bool:
        """Remember `nonce`; False if it is already remembered (a replay)."""
        while self._heap and self._heap[0][0] <= now_ns:
            _, old = heapq.heappop(self._heap)
            self._expiry.pop(old, None)
        if nonce in self._expiry:
            return False
        self._expiry[nonce] = expires_ns
        heapq.heappush(self._heap, (expires_ns, nonce))
        return True


class RateLimiter:
    """A token bucket: `burst` commands at once, refilled at `per_minute`."""

    def __init__(self, per_minute: float, burst: int, now_ns: int) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self._tokens = float(burst)
        self._at = now_ns

    def allow(self, now_ns: int) -> bool:
        elapsed = max(0, now_ns - self._at) / NS
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.per_minute / 60)
        self._at = now_ns
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
