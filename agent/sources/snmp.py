"""Printers and network devices polled over SNMP, with per-device timeouts and backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from agent import discovery, netinfo
from agent.protocol import Sample, State
from agent.snmp.client import Client
from agent.snmp.observations import observe
from agent.snmp.poll import poll
from agent.snmp.profile import Profile, builtin_profiles, enterprise_names
from agent.snmp.report import DeviceReport, unreachable_report
from agent.snmp.settings import Device, Discovery, Settings
from agent.snmp.target import Target, parse_device_url

log = logging.getLogger(__name__)


def default_gateway() -> str | None:
    """The default gateway, where discovery looks for the office's modem or router."""
    return netinfo.default_gateway()


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
    # address -> how this PC knows the device: "config" (named in agent.toml or --device),
    # "gateway" or "printer" (found by discovery). The collector opens "unreachable" for a
    # discovered device only once it has answered: most office routers have SNMP off.
    sources: dict[str, str] = field(default_factory=dict)
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
            gateway = (lambda: d.gateway_address) if d.gateway_address else self.gateway
            self._discovered = await asyncio.to_thread(
                discovery.discover,
                cups=d.cups,
                windows_spooler=d.windows_spooler,
                gateway=gateway if d.gateway else None,
            )
            self._discovered_at = time.monotonic()
        from_flags = {
            (t.host, t.port): msgspec.structs.replace(
                t,
                timeout_seconds=settings.timeout_seconds,
                retries=settings.retries,
                max_repetitions=settings.max_repetitions,
            )
            for t in map(parse_device_url, settings.device_urls)
        }
        wanted = [(dev.host, dev.port, dev.auth) for dev in settings.devices]
        wanted += [(host, 161, d.auth) for host, _ in self._discovered]
        targets: dict[tuple[str, int], Target] = dict(from_flags)
        self.sources = {t.address: "config" for t in from_flags.values()}
        self.sources.update(
            (Target(host=dev.host, port=dev.port).address, "config") for dev in settings.devices
        )
        for host, role in self._discovered:
            self.sources.setdefault(host, role)
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
    return [obs for report in reports for obs in observe(report, now_ns, p.sources.get(report.address, ""))]


__all__ = ["Device", "Discovery", "Settings", "collect", "poller"]
