"""`[snmp]` of agent.toml: devices, credentials, discovery, timeouts.

Kept apart from the SNMP source so that reading the configuration never loads pysnmp:
an agent with SNMP switched off does not pay for it in memory.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agent.snmp.target import Auth, parse_device_url


class Device(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One explicitly configured device: `[[snmp.devices]]`."""

    host: Annotated[str, msgspec.Meta(min_length=1)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 161
    auth: str = "default"  # a key of [snmp.auth]


class Discovery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[snmp.discovery]`: which devices to find on our own, and with which credentials."""

    cups: bool = True
    windows_spooler: bool = True
    gateway: bool = True
    # "" : the default gateway of the routing table; or the address to ask (a router that is
    # not this PC's default route, or a test's loopback)
    gateway_address: str = ""
    auth: str = "default"
    refresh_seconds: Annotated[float, msgspec.Meta(gt=0)] = 600


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[snmp]` in agent.toml."""

    enabled: bool = True
    interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 1
    max_repetitions: Annotated[int, msgspec.Meta(ge=1, le=100)] = 25
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 32
    backoff_max_seconds: Annotated[float, msgspec.Meta(ge=0)] = 900
    devices: list[Device] = []
    # `--device URL` flags (snmp://COMMUNITY@HOST[:PORT], snmpv3://...), see docs/snmp.md
    device_urls: tuple[str, ...] = ()
    auth: dict[str, Auth] = msgspec.field(default_factory=lambda: {"default": Auth()})
    discovery: Discovery = Discovery()

    def __post_init__(self) -> None:
        for url in self.device_urls:
            parse_device_url(url)  # DeviceUrlError (a ValueError) names what is wrong
        for i, device in enumerate(self.devices):
            if device.auth not in self.auth:
                raise ValueError(f"devices[{i}].auth: no [snmp.auth.{device.auth}] defined")
        if (self.discovery.cups or self.discovery.windows_spooler or self.discovery.gateway) and (
            self.discovery.auth not in self.auth
        ):
            raise ValueError(f"discovery.auth: no [snmp.auth.{self.discovery.auth}] defined")
