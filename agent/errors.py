"""Errors of the agent.

    AgentError                 root: anything the agent reports to a person and stops on
    ├── ConfigError            agent.toml or a flag has a bad value: names file, key, allowed values
    ├── SpoolError             the on-disk spool cannot be opened or written
    │   └── BatchNotSpooled    one batch could not be stored, and the number it used up
    ├── SnmpError              agent/snmp/errors.py: a device or a profile (its own tree there)
    ├── CheckFailed            agent/diagnostics/report.py: a diagnostic check could not run at all
    └── _UsageError            agent/probe.py: `deskwatch-agent probe` called with bad arguments

Problems with what the agent watches (a dead printer, a failed DNS lookup) are not
errors: they travel as States in a batch. `agent.protocol.ProtocolError` (a message that
breaks the wire contract, with its `code`) stands apart on purpose: the contract is the one
module the collector shares, and it imports nothing else of the agent.
"""

from __future__ import annotations


class AgentError(Exception):
    """Root of the agent's own errors."""


class ConfigError(AgentError):
    """A configuration value is wrong; the message names where and what is allowed."""


class SpoolError(AgentError):
    """The spool file cannot be used."""


class BatchNotSpooled(SpoolError):
    """A batch the spool could not store (disk full, I/O error).

    Its sequence number `seq` is used up all the same (None if the failure came before the
    number was drawn), so the agent can still publish the batch under that number straight
    to a connected broker instead of losing the round.
    """

    def __init__(self, message: str, seq: int | None) -> None:
        super().__init__(message)
        self.seq = seq
