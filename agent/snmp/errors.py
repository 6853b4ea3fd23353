"""Errors of the SNMP layer.

SnmpError                 an AgentError; everything below is caught at the edge of a poll
├── DeviceUnreachable     no answer within timeout and retries, or a transport error
├── DeviceError           the device answered with an SNMP error (authorization, tooBig...)
├── ProfileError          a profile file is invalid: names the file, the key and the value
└── DeviceUrlError        a `--device` URL or device entry cannot be parsed
"""

from __future__ import annotations

from agent.errors import AgentError


class SnmpError(AgentError):
    """Root of all SNMP errors."""


class DeviceUnreachable(SnmpError):
    """The device did not answer (timeout after retries) or could not be addressed."""


class DeviceError(SnmpError):
    """The device answered, but with an SNMP error status."""


class ProfileError(SnmpError):
    """A profile file does not validate; the message names the file and the key."""


class DeviceUrlError(SnmpError, ValueError):
    """A device URL that does not follow snmp://COMMUNITY@HOST[:PORT] or the v3 form."""
