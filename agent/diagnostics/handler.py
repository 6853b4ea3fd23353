"""A command payload in, a CommandResult out: verify, validate, run within a time budget.

Order of the gates: decode, addressed to us, signed by our collector, fresh, nonce
unseen, within the rate, a free slot, a known check with valid parameters. The first
gate that fails decides the reply (`rejected` with the reason) and the log line, and
nothing of the command runs. A check that overruns its budget is cancelled and its
partial report goes back marked `timeout`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent import protocol
from agent.diagnostics import execute, registry, security
from agent.diagnostics.context import Context
from agent.diagnostics.params import Params
from agent.diagnostics.settings import Settings
from agent.protocol import NS, Command, CommandResult, ProtocolError

log = logging.getLogger(__name__)

# Time kept back from a command's expiry so the reply reaches the collector while it still waits.
REPLY_MARGIN_SECONDS = 0.3


class _Id(msgspec.Struct):
    id: str = ""


class CommandHandler:
    """Runs the commands of one agent; `handle()` is called on the agent's event loop."""

    def __init__(
        self,
        agent_id: str,
        key: Ed25519PublicKey | None,
        settings: Settings,
        context: Context,
        clock: Callable[[], int] = time.time_ns,
        started_ns: int | None = None,
        nonce_file: Path | None = None,
    ) -> None:
        """`started_ns`: when the agent started (commands issued before it are refused);
        `nonce_file`: where the nonces of unexpired commands are kept across restarts."""
        self.agent_id = agent_id
        self.key = key
        self.settings = settings
        self.context = context
        self.clock = clock
        self.started_ns = clock() if started_ns is None else started_ns
        self.nonce_file = nonce_file
        self.nonces = security.NonceCache(_load_nonces(nonce_file), self.clock())
        self.rate = security.RateLimiter(settings.per_minute, settings.burst, self.started_ns)
        self.running = 0
        self.rejected_total = 0
        self.executed_total = 0

    def _reply(
        self, command_id: str, status: str, check: str = "", error: str = "", **kw: object
    ) -> CommandResult:
        return CommandResult(
            v=protocol.PROTOCOL_VERSION,
            command_id=command_id[:64],
            agent_id=self.agent_id,
            status=status,  # type: ignore[arg-type]
            check=check,
            error=error[: protocol.MAX_TEXT_CHARS],
            **kw,  # type: ignore[arg-type]
        )

    def _reject(self, command_id: str, check: str, reason: str) -> CommandResult:
        self.rejected_total += 1
        log.warning("rejected command %s (%s): %s", command_id or "?", check or "?", reason)
        return self._reply(command_id, "rejected", check, reason)

    async def handle(self, payload: bytes) -> CommandResult:
        """Answer one payload from the `cmd` topic; never raises."""
        try:
            command = protocol.decode(payload, Command)
        except ProtocolError as err:
            return self._reject(_command_id(payload), "", f"malformed command: {err.reason}")
        gate = self._admit(command)
        if gate is not None:
            return self._reject(command.id, command.check, gate)
        found = registry.validate(command.check, command.params)
        if isinstance(found, str):
            return self._reject(command.id, command.check, found)
        check, params = found
        remaining = (command.expires_ns - self.clock()) / NS - REPLY_MARGIN_SECONDS
        budget = max(0.05, min(self.settings.max_seconds, remaining))
        self.running += 1
        self.executed_total += 1
        log.info("running %s (command %s) for at most %.1f s", command.check, command.id, budget)
        try:
            return await self._run(command, check, params, budget)
        finally:
            self.running -= 1

    def _admit(self, command: Command) -> str | None:
        """The reason this command may not run, or None; records its nonce once it is authentic."""
        if not self.settings.enabled:
            return "commands are switched off on this agent ([commands] enabled = false)"
        if command.agent_id != self.agent_id:
            return f"addressed to agent {command.agent_id}, this is {self.agent_id}"
        if self.key is None:
            return "this agent has no command_key: it cannot verify commands and runs none"
        problem = security.signature_problem(command, self.key)
        if problem:
            return problem
        now = self.clock()
        problem = security.time_problem(command, now, self.started_ns, self.settings)
        if problem:
            return problem
        if not self.nonces.add(command.nonce, command.expires_ns, now):
            return "replayed: this nonce was already used"
        problem = self._keep_nonces()
        if problem:
            return problem
        if not self.rate.allow(now):
            s = self.settings
            return f"rate limit: at most {s.per_minute:g} commands a minute (burst {s.burst})"
        if self.running >= self.settings.max_concurrent:
            return f"busy: {self.running} commands already running"
        return None

    def _keep_nonces(self) -> str | None:
        """Write the live nonces to `nonce_file` (fsynced, then renamed), or say why not.

        A command whose nonce could not be kept is refused: after a restart it could run again.
        """
        path = self.nonce_file
        if path is None:
            return None
        temporary = path.with_name(path.name + ".tmp")
        try:
            with open(temporary, "wb") as out:
                out.write(msgspec.json.encode(self.nonces.entries()))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except OSError as err:
            return f"cannot keep this command's nonce in {path} ({err.strerror}), so it could be replayed"
        return None

    async def _run(
        self, command: Command, check: registry.Check, params: Params, budget: float
    ) -> CommandResult:
        done = await execute.run_check(
            command.check, check, params, self.context, budget, self.settings.max_result_bytes
        )
        log.info("%s (command %s): %s in %.2f s", command.check, command.id, done.status, done.seconds)
        return self._reply(
            command.id,
            done.status,
            command.check,
            done.error,
            duration_seconds=round(done.seconds, 4),
            result=done.result,
        )


_nonces = msgspec.json.Decoder(list[tuple[str, int]])


def _load_nonces(path: Path | None) -> list[tuple[str, int]]:
    """The nonces kept before a restart; none if there is no file (a first start) or it is unreadable."""
    if path is None:
        return []
    try:
        return _nonces.decode(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, msgspec.DecodeError) as err:
        # Commands issued before this start are still refused by the time gate.
        log.warning("cannot read the command nonces in %s (%s); starting without them", path, err)
        return []


def _command_id(payload: bytes) -> str:
    """The id of a command that failed to decode, when there is one to quote back."""
    try:
        return msgspec.json.decode(payload, type=_Id).id[:64]
    except (msgspec.DecodeError, TypeError):
        return ""
