"""Hostile input through the doors a user has: API filters, the lookup, CLI arguments.

Every attempt must be refused for a stated reason or be harmless data: each test asserts the
status or message of the refusal, no other rows than the filter names, no change to the
store, no command run. (Broker ACLs, TLS and passwords are tested in
tests/agent/test_broker_acl.py; oversized and malformed payloads in
tests/collector/test_faults.py; forged and replayed diagnostics in tests/diagnostics.)
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from collector.api import lookup as lookup_api
from collector.auth import Role
from collector.auth.tokens import TokenStore
from collector.auth.users import UserStore
from collector.db import make_engine
from collector.http import provide
from collector.inventory.lookup import Sources
from collector.inventory.store import InventoryStore
from tests.incidents.fleet import serve
from tests.incidents.test_api import build_app
from tests.incidents.test_notify import self_signed
from tests.support.agent_process import agent_env
from tests.support.collector_process import CollectorProcess
from tests.support.services import REPO, Mosquitto, VictoriaMetrics
from tests.support.waiting import wait_until

INJECTIONS = [
    "' OR '1'='1",
    "hq'; DROP TABLE incidents; --",
    '" OR ""="',
    "%' OR 1=1 --",
    "../../../../etc/passwd",
    "$(touch /tmp/deskwatch-pwned)",
    "`id`",
    "pc-1\x00admin",
    "<script>alert(1)</script>",
    "*",
    "%",
]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    app, store, roles = build_app(tmp_path)
    provide(app, Sources(InventoryStore(store.engine), store))
    app.include_router(lookup_api.router)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        yield client, f"Bearer {roles['admin']}"


# The longest value each incident filter takes: beyond it the answer is 422, below it a
# filter that matches nothing. Either way the value is data.
FILTER_LENGTH = {"site": 64, "device": 256, "agent_id": 64, "condition": 64, "category": 16}


@pytest.mark.parametrize("value", INJECTIONS)
def test_api_filters_are_data_never_code(api: tuple[httpx.Client, str], value: str) -> None:
    client, auth = api
    h = {"Authorization": auth}
    before = client.get("/api/v1/incidents", headers=h).json()["total"]
    assert before == 1
    for param, longest in FILTER_LENGTH.items():
        answer = client.get("/api/v1/incidents", params={param: value}, headers=h)
        if len(value) > longest:
            assert answer.status_code == 422, (param, value)
            assert "at most" in answer.text  # refused for its length, and says so
        else:
            assert answer.status_code == 200, (param, value, answer.text[:200])
            assert answer.json()["total"] == 0, f"{param}={value!r} matched rows it does not name"
    agents = client.get("/api/v1/agents", params={"site": value}, headers=h)
    assert agents.status_code == 200 and agents.json() == []
    articles = client.get("/api/v1/kb", params={"condition": value}, headers=h)
    assert articles.status_code == 200 and articles.json() == []
    found = client.get("/api/v1/lookup", params={"q": value}, headers=h)
    assert found.status_code == 200 and found.json()["result"] == "unknown", found.text
    assert client.get("/api/v1/incidents", headers=h).json()["total"] == before  # the store is intact
    assert not os.path.exists("/tmp/deskwatch-pwned")


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        ("1 OR 1=1", 422),
        ("1;DROP TABLE incidents", 422),
        ("-1", 422),
        ("0", 422),
        ("99999999999999999999999", 422),
        (str(2**62 + 1), 422),
        ("99", 404),  # a well-formed id that is not there
    ],
)
def test_path_parameters_reject_what_is_not_an_id(
    api: tuple[httpx.Client, str], bad: str, status: int
) -> None:
    client, auth = api
    for path in (f"/api/v1/incidents/{bad}", f"/api/v1/incidents/{bad}/timeline"):
        answer = client.get(path, headers={"Authorization": auth})
        assert answer.status_code == status, (path, answer.status_code, answer.text[:200])
    assert client.get("/api/v1/incidents", headers={"Authorization": auth}).json()["total"] == 1


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        env=agent_env(),
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_cli_arguments_never_reach_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    attempts = [
        (
            ("-m", "agent", "check", "--agent-id", f"$(touch {marker})"),
            2,
            "deskwatch-agent: --agent-id: Expected `str` matching regex",
        ),
        (
            ("-m", "agent", "probe", f"127.0.0.1;touch {marker}", "--timeout", "0.2", "--retries", "0"),
            None,  # probe: a host name that does not resolve, said so
            f"127.0.0.1;touch {marker} did not answer",
        ),
        (
            (
                "-m",
                "collector",
                "agents",
                "enroll",
                f"x`touch {marker}`",
                "--passwd-file",
                str(tmp_path / "p"),
            ),
            2,
            "may hold only letters, digits",
        ),
        (
            (
                "-m",
                "collector.helpdesk_cli",
                "--api",
                "http://127.0.0.1:9",
                "--token",
                "t",
                "incidents",
                "show",
                f"1;touch {marker}",
            ),
            2,
            "invalid int value: '1;touch",
        ),
    ]
    for argv, code, refusal in attempts:
        result = _run(*argv)
        assert result.returncode != 0 and (code is None or result.returncode == code), (argv, result.stderr)
        assert refusal in result.stderr, (argv, result.stderr[-500:])
        assert "Traceback" not in result.stderr, (argv, result.stderr[-500:])
    assert not marker.exists()
    assert not (tmp_path / "p").exists()  # enroll refused before it wrote anything


def test_site_with_shell_characters_is_just_text() -> None:
    """A site name is free text: accepted as data, and it ends up quoted in the batch."""
    result = _run("-m", "agent", "check", "--site", "hq; touch pwned")
    assert result.returncode == 0, result.stderr
    assert "site hq; touch pwned" in result.stdout
    assert not (REPO / "pwned").exists()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _send_headers(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.encode())
    return sock


def _answer(sock: socket.socket) -> str:
    """The status line the server sent, or "" if it sent none before closing."""
    received = b""
    with contextlib.suppress(OSError):
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n", 1)[0].decode(errors="replace")


@pytest.fixture
def collector(
    tmp_path: Path, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path / "collector", mosquitto.url, victoria_metrics.url, group="")
    process.start()
    yield process
    process.kill()


def test_a_100_mib_unauthenticated_body_is_refused_before_it_is_read(collector: CollectorProcess) -> None:
    """Declared or streamed, 100 MiB without a token: 413 at once, and the collector's memory stays."""
    path = "/api/v1/incidents/1/comments"
    before = _rss_bytes(collector.pid)
    # Declared: the answer comes before a byte of the body is sent.
    sock = _send_headers(
        collector.port,
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 2**20}\r\n\r\n",
    )
    declared = _answer(sock)
    sock.close()
    # Streamed without a length (chunked): cut off once past the bound, however much follows.
    sock = _send_headers(
        collector.port,
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"%x\r\n%s\r\n" % (2**20, b"a" * 2**20)
    sent = 0
    with contextlib.suppress(OSError):  # the collector closes the connection once it answered
        for _ in range(100):
            sock.sendall(chunk)
            sent += 1
    streamed = _answer(sock)
    sock.close()
    growth = _rss_bytes(collector.pid) - before
    print(
        f"\n100 MiB unauthenticated body: declared -> {declared!r}; streamed -> {streamed!r} after "
        f"{sent} MiB were accepted by the socket; collector RSS growth {growth / 2**20:.1f} MiB"
    )
    assert declared.startswith("HTTP/1.1 413 ")
    assert streamed.startswith("HTTP/1.1 413 ")
    assert growth < 20 * 2**20  # reading it all had cost ~450 MiB for 200 MiB
    assert collector.health()["mqtt_connected"] is True  # and it goes on serving
    token = _token(collector, "helpdesk")
    ok = httpx.post(
        f"{collector.url}{path}", json={"text": "x" * 100}, headers={"Authorization": f"Bearer {token}"}
    )
    assert ok.status_code == 404  # a normal body passes (there is no incident 1)


def _token(collector: CollectorProcess, role: str = "viewer") -> str:
    engine = make_engine(f"sqlite:///{collector.workdir / 'collector.db'}")
    try:
        return TokenStore(engine).create(role, f"{role}-test", 0)
    finally:
        engine.dispose()


def test_metrics_and_docs_are_served_on_the_internal_listener_only(collector: CollectorProcess) -> None:
    """With [http] internal_listen set, the API listener has no /metrics, /openapi.json or /docs
    for anyone, token or not; the internal one (loopback here) serves them without a token."""
    bearer = {"Authorization": f"Bearer {_token(collector)}"}
    for path in ("/metrics", "/openapi.json", "/docs", "/redoc"):
        for headers in ({}, bearer):
            refused = httpx.get(f"{collector.url}{path}", headers=headers)
            assert refused.status_code == 404, (path, headers)
            assert "deskwatch_agent" not in refused.text and "paths" not in refused.text
    assert "deskwatch_ingest_batches_total" in httpx.get(f"{collector.internal_url}/metrics").text
    assert "/api/v1/incidents" in httpx.get(f"{collector.internal_url}/openapi.json").json()["paths"]
    assert "swagger-ui" in httpx.get(f"{collector.internal_url}/docs").text
    assert httpx.get(f"{collector.internal_url}/api/v1/incidents").status_code == 404  # no API there
    assert httpx.get(f"{collector.url}/healthz").status_code == 200  # health stays public: ok/connected only


def test_without_an_internal_listener_metrics_need_an_api_token(
    tmp_path: Path, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    process = CollectorProcess(tmp_path / "c", mosquitto.url, victoria_metrics.url, group="")
    process.config_path.write_text(
        process.config_path.read_text().replace("internal_listen", "# internal_listen")
    )
    process.start()
    try:
        token = _token(process)
        for path in ("/metrics", "/openapi.json"):
            refused = httpx.get(f"{process.url}{path}")
            assert refused.status_code == 401 and refused.json() == {
                "detail": "a valid bearer token is required"
            }
            assert (
                httpx.get(f"{process.url}{path}", headers={"Authorization": "Bearer nope"}).status_code == 401
            )
        assert httpx.get(f"{process.url}/docs").status_code == 404  # a browser page cannot send the token
        scraped = httpx.get(f"{process.url}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200 and "deskwatch_ingest_batches_total" in scraped.text
        spec = httpx.get(f"{process.url}/openapi.json", headers={"Authorization": f"Bearer {token}"})
        assert "/api/v1/agents/{agent_id}/diagnostics" in spec.json()["paths"]
    finally:
        process.kill()


def test_the_api_speaks_tls_with_the_configured_certificate(
    tmp_path: Path, mosquitto: Mosquitto, victoria_metrics: VictoriaMetrics
) -> None:
    cert, key = self_signed(tmp_path)
    process = CollectorProcess(
        tmp_path / "c",
        mosquitto.url,
        victoria_metrics.url,
        group="",
        extra="",
    )
    process.config_path.write_text(
        process.config_path.read_text().replace(
            "[http]\n", f'[http]\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        )
    )
    process.proc = None
    try:
        _start_tls(process, cert)
        token = _token(process)
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as client:
            https = f"https://127.0.0.1:{process.port}"
            assert client.get(f"{https}/healthz").json()["mqtt_connected"] is True
            listed = client.get(f"{https}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
            assert listed.status_code == 200 and listed.json()["total"] == 0
            # the console on the same listener: its cookies are Secure over TLS
            session, login = _console_login(process, https, client)
            assert _flags(session) >= {"secure", "httponly", "samesite=lax", "path=/"}, session
            assert _flags(login) >= {"secure", "httponly", "samesite=strict"}, login
            assert client.get(f"{https}/").status_code == 200  # the browser sends it back over TLS
        with pytest.raises(httpx.HTTPError):  # plain HTTP gets no answer from the TLS listener
            httpx.get(f"http://127.0.0.1:{process.port}/healthz", timeout=3)
    finally:
        process.kill()


def test_the_session_cookie_is_secure_behind_a_tls_proxy_on_this_host(collector: CollectorProcess) -> None:
    """docs/console.md: a reverse proxy on the same host that terminates TLS passes
    X-Forwarded-Proto: https, and the console marks its cookies Secure; without it they are not."""
    proxied = {"X-Forwarded-Proto": "https"}
    with httpx.Client() as client:
        session, login = _console_login(collector, collector.url, client, headers=proxied)
        assert _flags(session) >= {"secure", "httponly", "samesite=lax", "path=/"}, session
        assert _flags(login) >= {"secure", "httponly", "samesite=strict"}, login
    with httpx.Client() as client:
        session, login = _console_login(collector, collector.url, client, name="plain")
        assert "secure" not in _flags(session) and "secure" not in _flags(login), session
        assert _flags(session) >= {"httponly", "samesite=lax"}


def _console_login(
    process: CollectorProcess,
    base: str,
    client: httpx.Client,
    headers: dict[str, str] | None = None,
    name: str = "maria",
) -> tuple[str, str]:
    """Make a console user, sign in at /login as a browser does; the Set-Cookie of the session
    (dw_session) and of the login form (dw_login). Cookies are sent back by hand: a Secure one
    set over plain HTTP (behind the proxy) would not be sent back by the client's cookie jar."""
    password = f"{name}-password-1"
    engine = make_engine(f"sqlite:///{process.workdir / 'collector.db'}")
    try:
        UserStore(engine).add(name, Role.HELPDESK, password, time.time_ns())
    finally:
        engine.dispose()
    form = client.get(f"{base}/login", headers=headers)
    assert form.status_code == 200, form.text
    login = next(c for c in form.headers.get_list("set-cookie") if c.startswith("dw_login="))
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    done = client.post(
        f"{base}/login",
        data={"username": name, "password": password, "csrf": csrf.group(1)},
        headers={**(headers or {}), "Cookie": login.split(";", 1)[0]},
    )
    assert done.status_code == 303, done.text
    session = next(c for c in done.headers.get_list("set-cookie") if c.startswith("dw_session="))
    return session, login


def _flags(cookie: str) -> set[str]:
    """A Set-Cookie header's attributes in lower case: `secure`, `httponly`, `samesite=lax`, `path=/`
    (the values of SameSite and Path kept, the others' dropped)."""
    flags = set()
    for part in cookie.lower().split(";")[1:]:
        key, _, value = part.strip().partition("=")
        flags.add(f"{key}={value}" if key in ("samesite", "path") else key)
    return flags


def _start_tls(process: CollectorProcess, cert: Path) -> None:
    """CollectorProcess.start() waits on plain /healthz; this waits on HTTPS."""
    process.spawn()
    context = ssl.create_default_context(cafile=str(cert))
    wait_until(
        lambda: httpx.get(f"https://127.0.0.1:{process.port}/healthz", verify=context).status_code,
        done=lambda status: status == 200,
        timeout=20,
        interval=0.2,
        what=lambda: f"/healthz over HTTPS: {process.log()[-2000:]}",
        ignore=(httpx.HTTPError,),
    )
