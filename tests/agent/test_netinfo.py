"""The host network readers the inventory and the diagnostics share: resolved's stub, MAC spelling."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from agent import netinfo
from agent.diagnostics import system as diagnostics
from agent.diagnostics.context import Context
from agent.diagnostics.params import Params
from agent.diagnostics.report import Report
from agent.inventory import system as inventory

MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def _tree(tmp_path: Path, resolv: str, upstream: str | None) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/resolv.conf").write_text(resolv)
    if upstream is not None:
        (tmp_path / "run/systemd/resolve").mkdir(parents=True)
        (tmp_path / "run/systemd/resolve/resolv.conf").write_text(upstream)
    return tmp_path


STUB = "# This is /run/systemd/resolve/stub-resolv.conf\nnameserver 127.0.0.53\noptions edns0 trust-ad\n"


@pytest.mark.parametrize(
    ("resolv", "upstream", "servers"),
    [
        # behind systemd-resolved's stub: the servers it forwards to, not the stub
        (STUB, "nameserver 10.0.0.53\nnameserver 10.0.0.54\n", ["10.0.0.53", "10.0.0.54"]),
        # the stub and its file, but resolved has no upstream: no DNS server at all
        (STUB, "# no servers\n", []),
        # the stub without resolved's own file: the stub is all there is to say
        (STUB, None, ["127.0.0.53"]),
        # a plain resolv.conf, a server named twice
        ("nameserver 10.0.0.1\nnameserver 10.0.0.1\n#nameserver 9.9.9.9\n", None, ["10.0.0.1"]),
        # resolved's file is only read behind the stub
        ("nameserver 10.0.0.1\n", "nameserver 10.9.9.9\n", ["10.0.0.1"]),
        # a fixed server beside the stub stays, once
        (
            STUB + "nameserver 10.0.0.1\n",
            "nameserver 10.0.0.1\nnameserver 10.0.0.2\n",
            ["10.0.0.1", "10.0.0.2"],
        ),
        ("", None, []),
    ],
)
def test_dns_servers_look_behind_the_resolved_stub(
    tmp_path: Path, resolv: str, upstream: str | None, servers: list[str]
) -> None:
    root = _tree(tmp_path, resolv, upstream)
    assert netinfo.dns_servers(root) == servers
    assert inventory.network(root).dns_servers == servers  # the inventory reads the same


@pytest.mark.parametrize(
    ("reported", "mac"),
    [
        ("AA-BB-CC-00-11-22", "aa:bb:cc:00:11:22"),  # Windows
        ("aa:bb:cc:00:11:22", "aa:bb:cc:00:11:22"),  # Linux
        ("AA:BB:CC:00:11:22", "aa:bb:cc:00:11:22"),
        ("00:00:00:00:00:00", ""),  # loopback
        ("00-00-00-00-00-00", ""),
        ("", ""),
    ],
)
def test_macs_are_lower_case_and_colon_separated(reported: str, mac: str) -> None:
    assert netinfo.mac_address(reported) == mac


def test_inventory_and_diagnostics_report_the_same_interfaces_and_servers() -> None:
    links = netinfo.links()
    assert links and all(link.mac == "" or MAC.match(link.mac) for link in links), links
    report = Report()
    asyncio.run(diagnostics.network_config(Params(), Context(), report))
    found, _ = report.finish(64 * 1024)
    assert found["dns_servers"] == netinfo.dns_servers()
    checked = {i["name"]: i.get("mac", "") for i in found["interfaces"]}  # "" is left out
    assert checked == {link.name: link.mac for link in links}
    listed = {i.name: i.mac for i in inventory.network(Path("/")).interfaces}
    assert listed and all(checked[name] == mac for name, mac in listed.items())
