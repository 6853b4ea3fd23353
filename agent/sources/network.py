"""This PC's view of the network: default gateway, DNS, TCP and HTTP targets, the internet.

Every check yields a Sample (ok 0/1 and latency) and a State whose text tells a helpdesk
person what went wrong ("DNS lookup of intranet.example timed out after 2 s"). A failure
is never an exception: the round goes on with the other checks.

The gateway is probed with TCP connects to ports 80, 443 and 53 rather than ICMP, which
needs privileges on most systems: an answer of any kind, a refusal included, proves the
router is there; silence on every port until the timeout means it is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

import msgspec

from agent import netinfo
from agent.protocol import Sample, Severity, State

DEFAULT_INTERNET_TARGETS = ("1.1.1.1:443", "8.8.8.8:53", "9.9.9.9:443")


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `[network]` table of agent.toml."""

    enabled: bool = True
    interval_seconds: float | None = None  # None: the agent's interval_seconds
    timeout_seconds: float = 2.0
    gateway: str = "auto"  # "auto" (from the routing table), "off", or an address
    gateway_ports: tuple[int, ...] = (80, 443, 53)
    dns_names: tuple[str, ...] = ("example.com",)
    tcp_targets: tuple[str, ...] = ()  # "host:port"
    http_targets: tuple[str, ...] = ()  # "http://..." or "https://..."
    internet_targets: tuple[str, ...] = DEFAULT_INTERNET_TARGETS  # "host:port"; one answer is enough

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be greater than 0")
        for target in (*self.tcp_targets, *self.internet_targets):
            split_target(target)
        for url in self.http_targets:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"http_targets: {url!r} must start with http:// or https://")


def split_target(target: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); ValueError naming the target otherwise."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"target {target!r} must be host:port with a port from 1 to 65535")
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check's result: whether it worked, how long it took, and why not."""

    ok: bool
    seconds: float
    reason: str = ""
    status_code: int = 0


async def collect(settings: Settings, now_ns: int) -> Sequence[Sample | State]:
    """Run every configured check concurrently; the round takes at most about one timeout."""
    timeout = settings.timeout_seconds
    gateway = _gateway_address(settings)
    checks: list[Awaitable[list[Sample | State]]] = []
    if gateway:
        checks.append(_gateway(gateway, settings.gateway_ports, timeout, now_ns))
    checks += [_dns(name, timeout, now_ns) for name in settings.dns_names]
    checks += [_tcp(target, timeout, now_ns) for target in settings.tcp_targets]
    checks += [_http(url, timeout, now_ns) for url in settings.http_targets]
    if settings.internet_targets:
        checks.append(_internet(settings.internet_targets, timeout, now_ns))
    out: list[Sample | State] = []
    for result in await asyncio.gather(*checks):
        out.extend(result)
    return out


def _gateway_address(settings: Settings) -> str | None:
    if settings.gateway == "off":
        return None
    if settings.gateway == "auto":
        return netinfo.default_gateway()
    return settings.gateway


async def _gateway(address: str, ports: Sequence[int], timeout: float, now_ns: int) -> list[Sample | State]:
    outcome = await _first_answer([tcp_answer(address, port, timeout) for port in ports])
    reason = "" if outcome.ok else f"gateway {address} does not answer (no reply within {timeout:g} s)"
    return _pair(
        "net_gateway",
        {"gateway": address},
        f"gateway:{address}",
        "gateway_reachable",
        outcome,
        reason,
        Severity.CRITICAL,
        now_ns,
    )


async def _dns(name: str, timeout: float, now_ns: int) -> list[Sample | State]:
    outcome = await timed(_resolve(name), timeout, f"DNS lookup of {name}")
    return _pair(
        "net_dns",
        {"name": name},
        f"dns:{name}",
        "dns_resolves",
        outcome,
        outcome.reason,
        Severity.CRITICAL,
        now_ns,
    )


async def _tcp(target: str, timeout: float, now_ns: int) -> list[Sample | State]:
    host, port = split_target(target)
    outcome = await timed(connect(host, port), timeout, f"TCP connection to {target}")
    return _pair(
        "net_tcp",
        {"target": target},
        f"tcp:{target}",
        "tcp_reachable",
        outcome,
        outcome.reason,
        Severity.WARNING,
        now_ns,
    )


async def _http(url: str, timeout: float, now_ns: int) -> list[Sample | State]:
    outcome = await timed(asyncio.to_thread(http_get, url, timeout), timeout + 0.5, f"HTTP check of {url}")
    items = _pair(
        "net_http", {"url": url}, f"http:{url}", "http_ok", outcome, outcome.reason, Severity.WARNING, now_ns
    )
    sample = items[0]
    assert isinstance(sample, Sample)
    items[0] = Sample(
        sample.measurement, {**sample.fields, "status_code": outcome.status_code}, sample.tags, sample.time_ns
    )
    return items


async def _internet(targets: Sequence[str], timeout: float, now_ns: int) -> list[Sample | State]:
    answers = await asyncio.gather(*(timed(connect(*split_target(t)), timeout, t) for t in targets))
    reachable = [a for a in answers if a.ok]
    ok = bool(reachable)
    seconds = min((a.seconds for a in reachable), default=0.0)
    reason = "" if ok else f"none of {len(targets)} internet targets answered ({', '.join(targets)})"
    return [
        Sample(
            "net_internet",
            {"reachable": int(ok), "targets_ok": len(reachable), "rtt_seconds": seconds},
            time_ns=now_ns,
        ),
        State(
            "internet",
            "internet_reachable",
            ok,
            Severity.INFO if ok else Severity.CRITICAL,
            reason,
            observed_ns=now_ns,
        ),
    ]


def _pair(
    measurement: str,
    tags: dict[str, str],
    subject: str,
    condition: str,
    outcome: Outcome,
    reason: str,
    severity: Severity,
    now_ns: int,
) -> list[Sample | State]:
    return [
        Sample(measurement, {"ok": int(outcome.ok), "rtt_seconds": outcome.seconds}, tags, now_ns),
        State(
            subject, condition, outcome.ok, Severity.INFO if outcome.ok else severity, reason, tags, now_ns
        ),
    ]


async def timed(work: Awaitable[int | None], timeout: float, what: str) -> Outcome:
    """Await `work` for at most `timeout`; any failure becomes an Outcome with a reason."""
    start = time.perf_counter()
    try:
        code = await asyncio.wait_for(work, timeout)
    except Exception as err:  # every failure becomes a reason, never a crash of the round
        return Outcome(False, time.perf_counter() - start, explain(err, what, timeout), _status_of(err))
    seconds = time.perf_counter() - start
    if code is not None and code >= 400:
        return Outcome(False, seconds, f"{what} answered HTTP {code}", code)
    return Outcome(True, seconds, status_code=code or 0)


def _status_of(err: BaseException) -> int:
    return err.code if isinstance(err, urllib.error.HTTPError) else 0


async def _first_answer(attempts: Sequence[Awaitable[float | None]]) -> Outcome:
    start = time.perf_counter()
    for next_done in asyncio.as_completed(attempts):
        seconds = await next_done
        if seconds is not None:
            return Outcome(True, seconds)
    return Outcome(False, time.perf_counter() - start)


async def tcp_answer(host: str, port: int, timeout: float) -> float | None:
    """Seconds until the host answered on `port` (a refusal is an answer), None on silence."""
    start = time.perf_counter()
    try:
        await asyncio.wait_for(connect(host, port), timeout)
    except ConnectionRefusedError:
        return time.perf_counter() - start
    except (OSError, TimeoutError):
        return None
    return time.perf_counter() - start


async def _resolve(name: str) -> None:
    infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, "no addresses")


async def connect(host: str, port: int) -> None:
    """Open and close a TCP connection (raises what the connect raised)."""
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def http_get(url: str, timeout: float) -> int:
    """GET `url` and return the HTTP status, 4xx and 5xx included."""
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "deskwatch-agent"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            code: int = response.status
            return code
    except urllib.error.HTTPError as err:
        err.close()  # it holds the open response; the status is all the check needs
        return err.code


def explain(err: BaseException, what: str, timeout: float) -> str:
    """A failure in words a helpdesk person understands."""
    if isinstance(err, urllib.error.HTTPError):
        return f"{what} answered HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return (
            explain(err.reason, what, timeout)
            if isinstance(err.reason, BaseException)
            else f"{what}: {err.reason}"
        )
    if isinstance(err, TimeoutError | socket.timeout):
        return f"{what} timed out after {timeout:g} s"
    if isinstance(err, socket.gaierror):
        if err.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            return f"{what} failed: the name does not exist"
        return f"{what} failed: {err.strerror or err}"
    if isinstance(err, ConnectionRefusedError):
        return f"{what} was refused: nothing listens there"
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"{what} failed: the server's certificate is not trusted ({err.verify_message})"
    if isinstance(err, ssl.SSLError):
        return f"{what} failed: TLS error ({err.reason})"
    if isinstance(err, OSError):
        return f"{what} failed: {err.strerror or err}"
    return f"{what} failed: {err!r}"
