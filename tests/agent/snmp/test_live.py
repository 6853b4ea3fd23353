"""The real client and source against snmpsim: v1/v2c/v3, dead devices, backoff, changing walks."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from agent.protocol import Sample, State
from agent.snmp.client import Client
from agent.snmp.observations import observe
from agent.snmp.poll import poll
from agent.snmp.profile import builtin_profiles, enterprise_names
from agent.snmp.target import Auth, Target
from agent.snmp.values import parse_oid
from agent.sources import snmp as source
from tests.support.snmpsim import SnmpSim, V3User, walk_paths

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A UDP port that receives SNMP requests and never answers (a device that hangs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def run_probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.probe", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_probe_cli_over_snmpv3_auth_priv(snmpsim: SnmpSim, v3_user: V3User) -> None:
    done = run_probe(
        f"127.0.0.1:{snmpsim.port}", "--v3-user", v3_user.name, "--auth-key", v3_user.auth_key,
        "--priv-key", v3_user.priv_key, "--auth-protocol", "sha", "--priv-protocol", "aes",
        "--context", "sharp", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["identity"]["serial"] == "6509415X00"
    assert len(report["supplies"]) == 14


def test_probe_cli_with_wrong_v3_key_is_unreachable(snmpsim: SnmpSim, v3_user: V3User) -> None:
    url = f"snmpv3://{v3_user.name}:wrongpass99:{v3_user.priv_key}@127.0.0.1:{snmpsim.port}?context=sharp"
    done = run_probe(url, "--timeout", "0.5", "--retries", "0")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1


def test_probe_cli_exit_codes_for_dead_device_and_bad_arguments(black_hole: int) -> None:
    started = time.monotonic()
    dead = run_probe(f"127.0.0.1:{black_hole}", "--timeout", "0.3", "--retries", "1", "--json")
    assert dead.returncode == 2
    assert json.loads(dead.stdout)["reachable"] is False
    assert "did not answer" in dead.stderr and len(dead.stderr.strip().splitlines()) == 1
    shown = run_probe(f"127.0.0.1:{black_hole}", "--timeout", "0.3", "--retries", "0")
    assert "not monitored by SNMP" in shown.stdout, shown.stdout
    assert time.monotonic() - started < 10
    for bad in (
        ["--bogus", "h"],
        ["h", "--timeout", "-1"],
        ["snmp://a:b@h"],
        ["h", "--v3-user", "u", "--snmp-version", "2c"],
    ):
        done = run_probe(*bad)
        assert done.returncode == 1, bad
        assert len(done.stderr.strip().splitlines()) == 1


def test_v1_reads_the_same_supplies_as_v2c(snmpsim: SnmpSim) -> None:
    async def both() -> tuple[list[object], list[object]]:
        client = Client()
        try:
            profiles, names = builtin_profiles(), enterprise_names()
            v1 = await poll(
                client,
                Target("127.0.0.1", snmpsim.port, Auth(version="1", community="dell-laser_s5830dn")),
                profiles,
                names,
            )
            v2 = await poll(
                client,
                Target("127.0.0.1", snmpsim.port, Auth(community="dell-laser_s5830dn")),
                profiles,
                names,
            )
            return list(v1.supplies), list(v2.supplies)
        finally:
            client.close()

    v1, v2 = asyncio.run(both())
    assert v1 == v2 and len(v1) == 4


def test_huge_tables_are_cut_at_max_rows(snmpsim: SnmpSim) -> None:
    async def walk() -> int:
        client = Client()
        try:
            target = Target("127.0.0.1", snmpsim.port, Auth(community="rutos-2xx"))
            rows = await client.walk(target, [parse_oid("1.3.6.1.2.1.2.2.1.2")], max_rows=3)
            return len(rows[parse_oid("1.3.6.1.2.1.2.2.1.2")])
        finally:
            client.close()

    assert asyncio.run(walk()) == 3


def test_dead_device_does_not_delay_the_others_and_backs_off(snmpsim: SnmpSim, black_hole: int) -> None:
    no_discovery = source.Discovery(cups=False, windows_spooler=False, gateway=False)
    settings = source.Settings(timeout_seconds=1.0, retries=1, interval_seconds=60, discovery=no_discovery)
    live = [
        Target("127.0.0.1", snmpsim.port, Auth(community=n), timeout_seconds=1.0) for n in ("brother", "swos")
    ]
    dead = Target("127.0.0.1", black_hole, Auth(community="x"), timeout_seconds=1.0, retries=1)

    async def rounds() -> tuple[list[object], float, list[object], float, list[object]]:
        poller = source.Poller()
        try:
            t0 = time.monotonic()
            first = await poller.poll_all(settings, [dead, *live], now_ns=0)
            t1 = time.monotonic()
            second = await poller.poll_all(settings, [dead, *live], now_ns=60 * 10**9)  # next interval
            third = await poller.poll_all(settings, [dead, *live], now_ns=61 * 10**9)  # still backing off
            t2 = time.monotonic()
            return first, t1 - t0, second, t2 - t1, third
        finally:
            poller.close()

    first, first_wall, second, _, third = asyncio.run(rounds())
    assert not second[0].reachable  # type: ignore[attr-defined]
    d, *ok = first
    assert not d.reachable and all(r.reachable for r in ok)  # type: ignore[attr-defined]
    # The live devices finished long before the dead one's two 1 s attempts ran out.
    assert all(r.poll_seconds < 0.8 for r in ok)  # type: ignore[attr-defined]
    assert 1.8 < first_wall < 5
    assert "backing off" in third[0].reason  # type: ignore[attr-defined]
    obs: list[Sample | State] = observe(third[0], 1)  # type: ignore[arg-type]
    reach = [o for o in obs if isinstance(o, State) and o.condition == "snmp_reachable"]
    assert reach and not reach[0].ok


def test_a_changed_walk_shows_the_new_toner_level(tmp_path: Path) -> None:
    """The fixture can serve an edited copy: here the drum of the Brother drops from 96 % to 25 %."""
    brother = walk_paths()["brother"]
    sim = SnmpSim()
    sim.add_walk(brother)
    sim.add_walk(brother, "brother_worn", replace={"1.3.6.1.2.1.43.11.1.1.9.1.2": "2|3000"})
    with sim:

        async def both() -> list[float | None]:
            client = Client()
            try:
                out = []
                for community in ("brother", "brother_worn"):
                    r = await poll(client, Target("127.0.0.1", sim.port, Auth(community=community)),
                                   builtin_profiles(), enterprise_names())  # fmt: skip
                    out.append(r.supplies[1].level_percent)
                return out
            finally:
                client.close()

        assert asyncio.run(both()) == [95.8, 25.0]


def test_collect_from_toml_settings(snmpsim: SnmpSim) -> None:
    """The [snmp] table as the agent config will hold it, decoded and collected once."""
    text = f"""
interval_seconds = 30
timeout_seconds = 1
[discovery]
cups = false
windows_spooler = false
gateway = false
[auth.office]
community = "sharp"
[[devices]]
host = "127.0.0.1"
port = {snmpsim.port}
auth = "office"
"""
    settings = msgspec.toml.decode(text, type=source.Settings)

    async def once() -> list[Sample | State]:
        try:
            return list(await source.collect(settings, now_ns=5))
        finally:
            source.poller().close()

    observations = asyncio.run(once())
    names = {o.measurement for o in observations if isinstance(o, Sample)}
    wanted = {"snmp_device", "printer_info", "printer", "printer_supply", "printer_tray", "snmp_interface"}
    assert wanted <= names
    toner = [s for s in observations if isinstance(s, State) and s.condition == "printer_toner_low"]
    assert toner and toner[0].subject == "6509415X00"


def test_settings_reject_unknown_auth_and_keys() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"no \[snmp\.auth\.nope\]"):
        msgspec.toml.decode(b'[[devices]]\nhost = "h"\nauth = "nope"', type=source.Settings)
    with pytest.raises(msgspec.ValidationError, match="colour"):
        msgspec.toml.decode(b"colour = 1", type=source.Settings)
