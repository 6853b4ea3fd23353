"""Printers and network devices polled over SNMP, with per-device timeouts and backoff."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec

from agent import discovery
from agent.protocol import Sample, State
from agent.snmp.client import Client
from agent.snmp.observations import observe
from agent.snmp.poll import poll
from agent.snmp.profile import Profile, builtin_profiles, enterprise_names
from agent.snmp.report import DeviceReport, unreachable_report
from agent.snmp.target import Auth, Target, parse_device_url

log = logging.getLogger(__name__)


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
    auth: str = "default"
    refresh_seconds: Annotated[float, msgspec.Meta(gt=0)] = 600


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`[snmp]` in agent.toml."""

    interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 1
    max_repetitions: Annotated[int, msgspec.Meta(ge=1, le=100)] = 25
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 32
    backoff_max_seconds: Annotated[float, msgspec.Meta(ge=0)] = 900
    devices: list[Device] = []
    auth: dict[str, Auth] = msgspec.field(default_factory=lambda: {"default": Auth()})
    discovery: Discovery = Discovery()

    def __post_init__(self) -> None:
        for i, device in enumerate(self.devices):
            if device.auth not in self.auth:
                raise ValueError(f"devices[{i}].auth: no [snmp.auth.{device.auth}] defined")
        if (self.discovery.cups or self.discovery.windows_spooler or self.discovery.gateway) and (
            self.discovery.auth not in self.auth
        ):
            raise ValueError(f"discovery.auth: no [snmp.auth.{self.discovery.auth}] defined")


def with_device_urls(settings: Settings, urls: Sequence[str]) -> Settings:
    """`settings` plus the devices of repeatable `--device URL` flags (DeviceUrlError if one is bad)."""
    auth = dict(settings.auth)
    devices = list(settings.devices)
    for n, url in enumerate(urls, 1):
        target = parse_device_url(url)
        auth[f"device_url_{n}"] = target.auth
        devices.append(Device(host=target.host, port=target.port, auth=f"device_url_{n}"))
    return msgspec.structs.replace(settings, auth=auth, devices=devices)


def default_gateway() -> str | None:
    """The default gateway from agent.netinfo, once that module exists; else None."""
    try:
        netinfo: Any = importlib.import_module("agent.netinfo")
    except ImportError:
        return None
    address: str | None = netinfo.default_gateway()
    return address


@dataclass
class _Health:
    failures: int = 0
    retry_at_ns: int = 0
    key: str = ""
    last: DeviceReport | None = None


@dataclass
class Poller:
    """Polls a set of targets concurrently and remembers, per device, its key and its failures."""

    gateway: Callable[[], str | None] = default_gateway
    profiles: list[Profile] = field(default_factory=builtin_profiles)
    vendor_names: dict[int, int | str] = field(default_factory=lambda: dict(enterprise_names()))
    health: dict[str, _Health] = field(default_factory=dict)
    _client: Client | None = None
    _discovered: list[tuple[str, str]] = field(default_factory=list)
    _discovered_at: float = float("-inf")

    def close(self) -> None:
        """Release the SNMP socket."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def targets(self, settings: Settings) -> list[Target]:
        """Configured devices plus discovered ones (refreshed every discovery.refresh_seconds)."""
        d = settings.discovery
        if (
            d.cups or d.windows_spooler or d.gateway
        ) and time.monotonic() - self._discovered_at > d.refresh_seconds:
            self._discovered = await asyncio.to_thread(
                discovery.discover,
                cups=d.cups,
                windows_spooler=d.windows_spooler,
                gateway=self.gateway if d.gateway else None,
            )
            self._discovered_at = time.monotonic()
        wanted = [(dev.host, dev.port, dev.auth) for dev in settings.devices]
        wanted += [(host, 161, d.auth) for host, _ in self._discovered]
        targets: dict[tuple[str, int], Target] = {}
        for host, port, auth in wanted:
            targets.setdefault(
                (host, port),
                Target(
                    host=host,
                    port=port,
                    auth=settings.auth[auth].resolved(),
                    timeout_seconds=settings.timeout_seconds,
                    retries=settings.retries,
                    max_repetitions=settings.max_repetitions,
                ),
            )
        return list(targets.values())

    async def poll_all(
        self, settings: Settings, targets: Sequence[Target], now_ns: int
    ) -> list[DeviceReport]:
        """One report per target; a device in backoff is reported unreachable without being asked."""
        if self._client is None:
            self._client = Client()
        client = self._client
        limit = asyncio.Semaphore(settings.concurrency)
        names = {k: v for k, v in self.vendor_names.items() if isinstance(v, str)}

        async def one(target: Target) -> DeviceReport:
            health = self.health.setdefault(target.address, _Health())
            if health.failures and now_ns < health.retry_at_ns:
                return unreachable_report(
                    target.address, f"backing off after {health.failures} failed polls", health.key
                )
            async with limit:
                report = await poll(client, target, self.profiles, names, known_key=health.key)
            self._account(settings, target, health, report, now_ns)
            return report

        return list(await asyncio.gather(*(one(t) for t in targets)))

    @staticmethod
    def _account(
        settings: Settings, target: Target, health: _Health, report: DeviceReport, now_ns: int
    ) -> None:
        if report.reachable:
            if health.failures:
                log.info("%s answers SNMP again", target.address)
            health.failures, health.key = 0, report.device
        else:
            if not health.failures:
                log.warning("%s does not answer SNMP: %s", target.address, report.reason)
            health.failures += 1
            # Exponential backoff from the second failure on: 1, 2, 4... intervals, capped.
            delay = min(settings.interval_seconds * 2 ** (health.failures - 1), settings.backoff_max_seconds)
            health.retry_at_ns = now_ns + int(delay * 1e9) if health.failures > 1 else 0
        health.last = report


_poller: Poller | None = None


def poller() -> Poller:
    """The process-wide poller (one SNMP engine, per-device health kept between rounds)."""
    global _poller
    if _poller is None:
        _poller = Poller()
    return _poller


async def collect(settings: Settings, now_ns: int) -> Sequence[Sample | State]:
    """Poll every configured and discovered device once."""
    p = poller()
    reports = await p.poll_all(settings, await p.targets(settings), now_ns)
    return [obs for report in reports for obs in observe(report, now_ns)]
