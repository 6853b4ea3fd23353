"""Pure parts of diagnostics, table-driven: the security gates, the size bound, the OS output parsers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.config import load
from agent.diagnostics import net, registry, security, system
from agent.diagnostics.report import Report, bound
from agent.diagnostics.settings import Settings
from agent.errors import ConfigError
from tests.support.agent_process import run_cli
from tests.support.commands import make_command, public_key_text, sign

S = 1_000_000_000
T0 = 1_800_000_000 * S
SETTINGS = Settings(max_lifetime_seconds=300, clock_skew_seconds=30)


@pytest.mark.parametrize(
    ("issued", "expires", "now", "started", "reason"),
    [
        (T0, T0 + 10 * S, T0 + S, T0 - 60 * S, None),
        (T0, T0 + 10 * S, T0 + 11 * S, T0 - 60 * S, "expired 1.0 s ago"),
        (T0 + 60 * S, T0 + 70 * S, T0, T0 - 60 * S, "in the future"),
        (T0, T0 + 600 * S, T0 + S, T0 - 60 * S, "lifetime longer"),
        (T0 - 100 * S, T0 + 100 * S, T0, T0, "before this agent started"),
        (T0 - 10 * S, T0 + 100 * S, T0, T0, None),  # within the clock skew
    ],
)
def test_time_gate(issued: int, expires: int, now: int, started: int, reason: str | None) -> None:
    command = make_command("pc-1", "memory", issued_ns=issued, expires_ns=expires)
    problem = security.time_problem(command, now, started, SETTINGS)
    assert (problem is None) if reason is None else (reason in (problem or ""))


def test_signature_gate() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    public = security.load_public_key(public_key_text(key))
    command = make_command("pc-1", "memory")
    assert security.signature_problem(sign(command, key), public) is None
    assert "bad signature" in (security.signature_problem(sign(command, other), public) or "")
    assert security.signature_problem(command, public) == "unsigned command"
    moved = msgspec.structs.replace(sign(command, key), agent_id="pc-2")  # replayed at another PC
    assert "bad signature" in (security.signature_problem(moved, public) or "")


@pytest.mark.parametrize("text", ["", "not base64!", "AAAA"])
def test_bad_public_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="command_key"):
        security.load_public_key(text)


def test_nonce_cache_forgets_only_expired_nonces() -> None:
    cache = security.NonceCache()
    assert cache.add("a", T0 + 10 * S, T0)
    assert not cache.add("a", T0 + 10 * S, T0 + S)
    assert cache.add("b", T0 + 20 * S, T0 + 11 * S)
    assert len(cache) == 1  # "a" expired and was dropped


def test_nonce_cache_carries_live_nonces_across_a_restart() -> None:
    before = security.NonceCache()
    assert before.add("a", T0 + 10 * S, T0) and before.add("b", T0 + 60 * S, T0)
    after = security.NonceCache(before.entries(), now_ns=T0 + 20 * S)  # "a" expired meanwhile
    assert after.entries() == [("b", T0 + 60 * S)]
    assert not after.add("b", T0 + 60 * S, T0 + 21 * S)
    assert after.add("a", T0 + 80 * S, T0 + 21 * S)


def test_rate_limiter_allows_burst_then_refills() -> None:
    limiter = security.RateLimiter(per_minute=60, burst=3, now_ns=T0)
    assert [limiter.allow(T0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow(T0 + S)  # one a second comes back
    assert not limiter.allow(T0 + S)


def test_bound_keeps_problems_and_cuts_biggest_part() -> None:
    report = Report()
    report.problem("disk / is 97 % full")
    report.set("processes", [{"name": "x" * 100, "pid": i} for i in range(2000)])
    report.set("gateway", "10.0.0.1")
    result, cut = report.finish(8 * 1024)
    assert cut and result["truncated"] and result["problems"] == ["disk / is 97 % full"]
    assert result["gateway"] == "10.0.0.1" and 0 < len(result["processes"]) < 2000
    assert len(msgspec.json.encode(result)) <= 8 * 1024


def test_bound_leaves_small_results_alone() -> None:
    assert bound({"ok": True, "problems": []}, 1024) == ({"ok": True, "problems": []}, False)


@pytest.mark.parametrize(
    ("check", "params", "reason"),
    [
        ("ping", {"host": "--help"}, "at `$.host`"),
        ("ping", {"host": "10.0.0.1", "count": 1000}, "at `$.count`"),
        ("dns", {"name": "a b"}, "at `$.name`"),
        ("services", {"names": "cups;reboot"}, "at `$.names`"),
        ("http", {"url": "http://x", "headers": "y"}, "unknown field `headers`"),
        ("exec", {}, "unknown check 'exec'"),
    ],
)
def test_params_are_validated_against_the_schema(check: str, params: dict[str, object], reason: str) -> None:
    found = registry.validate(check, params)  # type: ignore[arg-type]
    assert isinstance(found, str) and reason in found


@pytest.mark.parametrize(
    ("line", "hop"),
    [
        (" 1  192.168.1.1  0.512 ms", net.Hop(1, "192.168.1.1", 0.000512)),
        (" 2  *", net.Hop(2)),
        (" 1?: [LOCALHOST]                      pmtu 65535", None),  # tracepath's header has no address
        ("  3     1 ms    <1 ms     2 ms  10.0.0.1", net.Hop(3, "10.0.0.1", 0.001)),  # tracert
        ("traceroute to 10.0.0.9 (10.0.0.9), 15 hops max", None),
    ],
)
def test_parse_hop(line: str, hop: net.Hop | None) -> None:
    parsed = net.parse_hop(line)
    if hop is None:
        assert parsed is None or not parsed.address
    else:
        assert parsed == hop


def test_parse_lpstat() -> None:
    now = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
    when = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC).astimezone().strftime("%a %b %d %H:%M:%S %Y")
    jobs = system.parse_lpstat_jobs(f"Office-Laser-42  alice  10240  {when}\n", now)
    assert jobs == [system.Job("Office-Laser-42", "Office-Laser", "alice", 10240, 1800.0)]
    printers = system.parse_lpstat_printers(
        "printer Office-Laser is idle.  enabled since Mon Nov 23 09:00:00 2026\n"
        "printer Label disabled since Mon Nov 23 08:00:00 2026 -\n\tPaused by admin\n"
    )
    assert printers == [
        system.QueuePrinter("Office-Laser", "idle"),
        system.QueuePrinter("Label", "disabled", "Paused by admin"),
    ]


def test_parse_systemctl_show() -> None:
    text = (
        "Id=cups.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\n"
        "Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n\n"
        "Id=ssh.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\n"
    )
    states = [s.state for s in system.parse_systemctl_show(text, ["cups", "nope", "ssh"])]
    assert states == ["running", "not_found", "failed"]


def test_parse_dns_answer_and_nxdomain() -> None:
    header = bytes.fromhex("123481800001000100000000")
    question = b"\x07printer\x00\x00\x01\x00\x01"
    answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x07"
    assert net.parse_answer(header + question + answer, 0x1234, 1) == ["10.0.0.7"]
    with pytest.raises(OSError, match="no such name"):
        net.parse_answer(bytes.fromhex("123481830001000000000000") + question, 0x1234, 1)


def test_parse_wifi() -> None:
    wireless = (
        "Inter-| sta-|   Quality        |   Discarded packets\n"
        " face | tus | link level noise |  nwid  crypt   frag\n"
        "wlan0: 0000   40.  -70.  -256        0      0      0\n"
    )
    assert system.parse_proc_wireless(wireless) == [system.Wifi("wlan0", signal_dbm=-70.0)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("command_key = 'abc'", "at `$.command_key`"),
        ("[commands]\nper_minute = 0", "at `$.commands.per_minute`"),
        ("[commands]\nshell = true", "unknown field `shell`"),
    ],
)
def test_bad_command_settings_stop_the_agent(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(path)


def test_command_key_flag_is_checked_and_shown() -> None:
    key = public_key_text(Ed25519PrivateKey.generate())
    good = run_cli("check", "--command-key", key)
    assert good.returncode == 0 and f"signed with key {key[:12]}" in good.stdout
    bad = run_cli("check", "--command-key", "nope")
    assert bad.returncode == 2 and "--command-key" in bad.stderr


# Every string parameter with a pattern, and a value it accepts.
GOOD_VALUES = {
    ("ping", "host"): "printer-2.example.lan",
    ("dns", "name"): "intranet.example.lan",
    ("dns", "server"): "10.0.0.53",
    ("tcp", "host"): "10.0.0.5",
    ("http", "url"): "http://intranet.example.lan/health",
    ("route", "host"): "10.0.0.1",
    ("printer", "host"): "10.0.0.7",
    ("printer", "auth"): "default",
    ("services", "names"): "cups,sshd",
    ("triage", "printer"): "10.0.0.7",
    ("triage", "dns_server"): "10.0.0.53",
}
# What each check needs besides the parameter under test.
REQUIRED: dict[str, dict[str, str | int]] = {
    "services": {"names": "cups"},
    "dns": {"name": "intranet"},
    "printer": {"host": "10.0.0.7"},
    "tcp": {"host": "10.0.0.5", "port": 443},
}


def _patterned(kind: msgspec.inspect.Type) -> bool:
    if isinstance(kind, msgspec.inspect.UnionType):
        return any(_patterned(member) for member in kind.types)
    return isinstance(kind, msgspec.inspect.StrType) and kind.pattern is not None


def test_the_table_names_every_patterned_parameter() -> None:
    patterned = {
        (name, field.name)
        for name, check in registry.CHECKS.items()
        for field in msgspec.inspect.type_info(check.params).fields  # type: ignore[attr-defined]
        if _patterned(field.type)
    }
    assert patterned == set(GOOD_VALUES)


@pytest.mark.parametrize(("check", "param"), sorted(GOOD_VALUES))
def test_a_trailing_newline_is_refused(check: str, param: str) -> None:
    """msgspec's patterns run re.search, where `$` also matches before a final newline."""
    good = GOOD_VALUES[check, param]
    required = REQUIRED.get(check, {})
    assert not isinstance(registry.validate(check, {**required, param: good}), str)
    for bad in (good + "\n", good + "\r\n", "\n" + good):
        refused = registry.validate(check, {**required, param: bad})
        assert isinstance(refused, str) and "invalid parameters" in refused, (check, param, bad)
