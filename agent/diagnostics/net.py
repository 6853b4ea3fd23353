"""Network checks: ping, dns, tcp, http, route.

The probes themselves (TCP connect, HTTP GET, timing, the reasons in words) are the
network source's, so a check and the periodic source never disagree on what "DNS
fails" means.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import select
import shutil
import socket
import struct
import sys
import time
from typing import Annotated, Literal

import msgspec

from agent.diagnostics.context import Context
from agent.diagnostics.params import Host, Params, Port, Seconds, Url
from agent.diagnostics.report import CheckFailed, Report
from agent.sources import network
from agent.sources.network import explain


class _Out(msgspec.Struct, frozen=True, omit_defaults=True):
    pass


# -- ping ------------------------------------------------------------------------------


class PingParams(Params, frozen=True):
    host: Host
    count: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    interval_seconds: Annotated[float, msgspec.Meta(ge=0.1, le=5)] = 0.5
    timeout_seconds: Seconds = 2.0
    method: Literal["auto", "icmp", "tcp"] = "auto"
    port: Port = 443  # the TCP fallback's port; a refusal counts as an answer


class Attempt(_Out, frozen=True):
    seq: int
    rtt_seconds: float | None = None  # None: no answer within the timeout


async def ping(p: PingParams, ctx: Context, report: Report) -> None:
    """ICMP echo where this process may send it, else TCP connects: does the host answer, how fast."""
    address = await _address(p.host, p.timeout_seconds)
    if sys.platform == "win32" and p.method != "tcp" and ":" not in address:
        await _windows_ping(p, address, report)
        return
    sock = _icmp_socket() if p.method != "tcp" else None
    if sock is None and p.method == "icmp":
        raise CheckFailed("ICMP is not allowed for this process (no raw or ping socket); use method=tcp")
    method = "icmp" if sock is not None else "tcp"
    report.set("host", p.host)
    report.set("address", address)
    report.set("method", method if method == "icmp" else f"tcp/{p.port}")
    attempts: list[Attempt] = []
    ident = random.randrange(1, 0xFFFF)
    try:
        for seq in range(p.count):
            if seq:
                await asyncio.sleep(p.interval_seconds)
            if sock is not None:
                rtt = await _echo(sock, address, ident, seq, p.timeout_seconds)
            else:
                rtt = await network.tcp_answer(address, p.port, p.timeout_seconds)
            attempts.append(Attempt(seq, rtt))
            report.set("attempts", attempts)
            _ping_stats(report, attempts)
    finally:
        if sock is not None:
            sock.close()
    _ping_problems(p, report, attempts, method)


async def _windows_ping(p: PingParams, address: str, report: Report) -> None:
    """Ping through the ICMP API (IcmpSendEcho), which any Windows user may call."""
    from agent.windows import icmp

    report.set("host", p.host)
    report.set("address", address)
    report.set("method", "icmp")
    report.set("api", "IcmpSendEcho")  # not a socket: what any Windows user may send
    attempts: list[Attempt] = []
    for seq in range(p.count):
        if seq:
            await asyncio.sleep(p.interval_seconds)
        rtt = await asyncio.to_thread(icmp.echo, address, p.timeout_seconds)
        attempts.append(Attempt(seq, rtt))
        report.set("attempts", attempts)
        _ping_stats(report, attempts)
    _ping_problems(p, report, attempts, "icmp")


def _ping_problems(p: PingParams, report: Report, attempts: list[Attempt], method: str) -> None:
    received = [a for a in attempts if a.rtt_seconds is not None]
    if not received:
        report.problem(
            f"{p.host} does not answer ({method}, {len(attempts)} tries of {p.timeout_seconds:g} s)"
        )
    elif len(received) < len(attempts):
        report.problem(f"{p.host}: {len(attempts) - len(received)} of {len(attempts)} pings lost")


def _ping_stats(report: Report, attempts: list[Attempt]) -> None:
    rtts = [a.rtt_seconds for a in attempts if a.rtt_seconds is not None]
    report.set("sent", len(attempts))
    report.set("received", len(rtts))
    report.set("loss_percent", round(100 * (len(attempts) - len(rtts)) / len(attempts), 1))
    if rtts:
        report.set("rtt_min_seconds", min(rtts))
        report.set("rtt_avg_seconds", sum(rtts) / len(rtts))
        report.set("rtt_max_seconds", max(rtts))


async def _address(host: str, timeout: float) -> str:
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host.strip("[]"), None, type=socket.SOCK_STREAM), timeout
        )
    except Exception as err:
        raise CheckFailed(explain(err, f"resolving {host}", timeout)) from None
    v4 = [i for i in infos if i[0] == socket.AF_INET]
    return str((v4 or infos)[0][4][0])


def _icmp_socket() -> socket.socket | None:
    """A raw ICMP socket (administrators), else a Linux ping socket (ping_group_range), else None."""
    for kind in (socket.SOCK_RAW, socket.SOCK_DGRAM):
        try:
            sock = socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
        except OSError:
            continue
        sock.setblocking(False)
        return sock
    return None


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    checksum: int = ~total & 0xFFFF
    return checksum


async def _echo(sock: socket.socket, address: str, ident: int, seq: int, timeout: float) -> float | None:
    if ":" in address:
        return None  # ICMPv6 is not spoken here; the IPv4 address was preferred
    payload = b"deskwatch" + struct.pack("!d", time.time())
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)  # type 8: echo request
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    await loop.sock_sendto(sock, packet, (address, 0))
    deadline = start + timeout
    while (left := deadline - time.perf_counter()) > 0:
        try:
            data, _ = await asyncio.wait_for(loop.sock_recvfrom(sock, 2048), left)
        except TimeoutError:
            return None
        if sock.type == socket.SOCK_RAW:
            data = data[(data[0] & 0x0F) * 4 :]  # a raw socket hands over the IP header too
        if len(data) < 8:
            continue
        kind, _, _, r_ident, r_seq = struct.unpack("!BBHHH", data[:8])
        # A raw socket sees every ICMP packet, our own requests on loopback included; the
        # kernel rewrites the identifier of a ping socket, so only the sequence is ours there.
        if kind == 0 and r_seq == seq and (sock.type != socket.SOCK_RAW or r_ident == ident):
            return time.perf_counter() - start
    return None


# -- dns -------------------------------------------------------------------------------


class DnsParams(Params, frozen=True):
    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}\Z")]
    server: Host | None = None  # default: the PC's own resolver
    server_port: Port = 53
    type: Literal["A", "AAAA"] = "A"
    timeout_seconds: Seconds = 2.0


async def dns(p: DnsParams, ctx: Context, report: Report) -> None:
    """Resolve a name with the PC's resolver or one named server; the addresses and how long it took."""
    report.set("name", p.name)
    report.set("server", p.server or "system")
    what = f"DNS lookup of {p.name}" + (f" at {p.server}" if p.server else "")
    start = time.perf_counter()
    try:
        if p.server:
            addresses = await asyncio.wait_for(
                _query(p.name, p.type, p.server, p.server_port, p.timeout_seconds), p.timeout_seconds
            )
        else:
            family = socket.AF_INET6 if p.type == "AAAA" else socket.AF_INET
            infos = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(p.name, None, family=family, type=socket.SOCK_STREAM),
                p.timeout_seconds,
            )
            addresses = sorted({str(i[4][0]) for i in infos})
    except Exception as err:
        report.set("seconds", time.perf_counter() - start)
        report.problem(explain(err, what, p.timeout_seconds))
        return
    report.set("seconds", time.perf_counter() - start)
    report.set("addresses", addresses)
    if not addresses:
        report.problem(f"{what}: no {p.type} records")


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def _query(name: str, rtype: str, server: str, port: int, timeout: float) -> list[str]:
    """One DNS question over UDP (RFC 1035) to `server`; the addresses, or socket.gaierror/OSError."""
    qtype = 28 if rtype == "AAAA" else 1
    query_id = random.randrange(0, 0x10000)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", qtype, 1)
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        _DnsProtocol, remote_addr=(server.strip("[]"), port)
    )
    try:
        transport.sendto(packet)
        data = await asyncio.wait_for(proto.answer, timeout)
    finally:
        transport.close()
    return parse_answer(data, query_id, qtype)


def parse_answer(data: bytes, query_id: int, qtype: int) -> list[str]:
    """The A/AAAA addresses in a DNS response; socket.gaierror for NXDOMAIN or a server failure."""
    if len(data) < 12:
        raise OSError("DNS server sent a truncated answer")
    rid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", data[:12])
    if rid != query_id:
        raise OSError("DNS server answered another question")
    rcode = flags & 0x0F
    if rcode == 3:  # NXDOMAIN
        raise socket.gaierror(socket.EAI_NONAME, "no such name")
    if rcode:
        raise OSError(f"DNS server answered with error code {rcode}")
    offset = 12
    for _ in range(qd):
        offset = _skip_name(data, offset) + 4
    out: list[str] = []
    for _ in range(an):
        offset = _skip_name(data, offset)
        rtype, _, _, length = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10
        rdata = data[offset : offset + length]
        offset += length
        if rtype == qtype == 1 and length == 4:
            out.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == qtype == 28 and length == 16:
            out.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return out


def _skip_name(data: bytes, offset: int) -> int:
    while offset < len(data):
        length = data[offset]
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        if length == 0:
            return offset + 1
        offset += length + 1
    raise OSError("DNS server sent a malformed answer")


# -- tcp and http ----------------------------------------------------------------------


class TcpParams(Params, frozen=True):
    host: Host
    port: Port
    timeout_seconds: Seconds = 2.0


async def tcp(p: TcpParams, ctx: Context, report: Report) -> None:
    """Can this PC open a TCP connection to host:port, and how long does it take."""
    target = f"{p.host}:{p.port}"
    outcome = await network.timed(
        network.connect(p.host.strip("[]"), p.port), p.timeout_seconds, f"TCP connection to {target}"
    )
    report.set("target", target)
    report.set("reachable", outcome.ok)
    report.set("seconds", outcome.seconds)
    if not outcome.ok:
        report.problem(outcome.reason)


class HttpParams(Params, frozen=True):
    url: Url
    timeout_seconds: Seconds = 5.0


async def http(p: HttpParams, ctx: Context, report: Report) -> None:
    """GET a URL: the status code and how long it took (a 4xx/5xx or no answer is a problem)."""
    outcome = await network.timed(
        asyncio.to_thread(network.http_get, p.url, p.timeout_seconds),
        p.timeout_seconds + 0.5,
        f"HTTP check of {p.url}",
    )
    report.set("url", p.url)
    report.set("status_code", outcome.status_code)
    report.set("seconds", outcome.seconds)
    if not outcome.ok:
        report.problem(outcome.reason)


# -- route -----------------------------------------------------------------------------


class RouteParams(Params, frozen=True):
    host: Host
    max_hops: Annotated[int, msgspec.Meta(ge=1, le=30)] = 15
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=5)] = 1.0  # per hop


class Hop(_Out, frozen=True):
    ttl: int
    address: str = ""  # "" when the hop did not answer
    rtt_seconds: float | None = None


async def route(p: RouteParams, ctx: Context, report: Report) -> None:
    """The path to a host, hop by hop: the ICMP API (Windows), traceroute/tracepath, else UDP probes."""
    address = await _address(p.host, 2.0)
    report.set("host", p.host)
    report.set("address", address)
    hops: list[Hop] = []
    report.set("hops", hops)
    tool = _route_tool(p, address)
    if sys.platform == "win32" and ":" not in address:
        # tracert's own method, without tracert.exe and its translated output
        report.set("method", "icmp")
        report.set("api", "IcmpSendEcho")
        await _windows_route(p, address, hops)
    elif tool is not None:
        report.set("method", os.path.basename(tool[0]))
        await _run_tool(tool, hops, p.timeout_seconds * p.max_hops + 5)
    elif sys.platform.startswith("linux") and ":" not in address:
        report.set("method", "udp")
        for ttl in range(1, p.max_hops + 1):
            hop, reached = await asyncio.to_thread(_udp_hop, address, ttl, p.timeout_seconds)
            hops.append(hop)
            if reached:
                break
    elif sys.platform == "win32":
        raise CheckFailed("route to an IPv6 address: not available on Windows without tracert.exe")
    else:
        raise CheckFailed("no traceroute tool on this PC (traceroute, tracepath or tracert)")
    if not any(h.address == address for h in hops):
        last = next((h.address for h in reversed(hops) if h.address), "")
        report.problem(
            f"route to {p.host} ends after {len(hops)} hops" + (f" at {last}" if last else " with no answer")
        )


async def _windows_route(p: RouteParams, address: str, hops: list[Hop]) -> None:
    """One echo a hop with TTL 1, 2, ... through the ICMP API, until the host itself answers."""
    from agent.windows import icmp

    for ttl in range(1, p.max_hops + 1):
        answer = await asyncio.to_thread(icmp.send_echo, address, p.timeout_seconds, ttl)
        if answer is None:
            hops.append(Hop(ttl))
            continue
        responder, status, seconds = answer
        hops.append(Hop(ttl, responder, seconds))
        if responder == address or status in icmp.UNREACHABLE:
            break


def _route_tool(p: RouteParams, address: str) -> list[str] | None:
    if sys.platform == "win32":
        tracert = shutil.which("tracert")
        wait_ms = str(int(p.timeout_seconds * 1000))
        return [tracert, "-d", "-h", str(p.max_hops), "-w", wait_ms, address] if tracert else None
    traceroute = shutil.which("traceroute")
    if traceroute:
        wait = f"{p.timeout_seconds:g}"
        return [traceroute, "-n", "-q", "1", "-w", wait, "-m", str(p.max_hops), address]
    tracepath = shutil.which("tracepath")
    return [tracepath, "-n", "-m", str(p.max_hops), address] if tracepath else None


_HOP_LINE = re.compile(r"^\s*(\d+)[?:]?\s+(.*)$")
_ADDRESS = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:]+)")
_RTT = re.compile(r"(<?\d+(?:\.\d+)?)\s*ms")


def parse_hop(line: str) -> Hop | None:
    """One hop from a line of traceroute, tracepath or tracert output; None for other lines."""
    found = _HOP_LINE.match(line)
    if not found or not found.group(2).strip():
        return None
    rest = found.group(2)
    address = _ADDRESS.search(rest)
    rtt = _RTT.search(rest)
    seconds = float(rtt.group(1).lstrip("<")) / 1000 if rtt else None
    return Hop(int(found.group(1)), address.group(1) if address else "", seconds)


async def _run_tool(argv: list[str], hops: list[Hop], limit: float) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(limit):
            async for raw in proc.stdout:
                hop = parse_hop(raw.decode(errors="replace"))
                # tracepath prints a hop once per probe; keep the first answer of each
                if hop is not None and (not hops or hops[-1].ttl != hop.ttl):
                    hops.append(hop)
            await proc.wait()
    finally:
        if proc.returncode is None:  # cancelled at the deadline: the tool must not outlive the check
            proc.kill()
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()


_IP_RECVERR = 11  # linux/in.h; not exported by Python's socket module
_SO_EE_ORIGIN_ICMP = 2


def _udp_hop(address: str, ttl: int, timeout: float) -> tuple[Hop, bool]:
    """Send one UDP probe with `ttl`; who sent the ICMP error back, and whether it was the host itself.

    The kernel queues the ICMP error (time exceeded from a router, port unreachable
    from the host) on the socket's error queue, which any user may read: tracepath's method.
    """
    if sys.platform != "linux":
        raise OSError("UDP probes with IP_RECVERR are Linux's")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
        sock.connect((address, 33434 + ttl))
        start = time.perf_counter()
        with contextlib.suppress(OSError):
            sock.send(b"deskwatch route probe")
        poller = select.poll()
        poller.register(sock, select.POLLERR)
        if not poller.poll(timeout * 1000):
            return Hop(ttl), False
        seconds = time.perf_counter() - start
        try:
            _, ancillary, _, _ = sock.recvmsg(512, 512, socket.MSG_ERRQUEUE)
        except OSError:
            return Hop(ttl), False
    for level, kind, data in ancillary:
        if level != socket.IPPROTO_IP or kind != _IP_RECVERR or len(data) < 24:
            continue
        _, origin, icmp_type, _, _, _, _ = struct.unpack("=IBBBBII", data[:16])
        offender = socket.inet_ntoa(data[20:24])  # sockaddr_in after sock_extended_err
        if origin != _SO_EE_ORIGIN_ICMP:
            return Hop(ttl, address, seconds), True  # a local error: the host is this PC
        return Hop(ttl, offender, seconds), icmp_type == 3  # 3: destination unreachable
    return Hop(ttl), False
