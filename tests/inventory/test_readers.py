"""The Linux inventory readers on a recorded tree, and `collect()` merging a fake package database."""

from __future__ import annotations

import time
from pathlib import Path

from agent import inventory, netinfo, protocol
from agent.inventory import packages, printers, system
from tests.inventory.fake_tree import PRINTERS_CONF, SERIAL, USER, dpkg_status, make_tree, write_packages


def test_dpkg_status_keeps_installed_packages_only() -> None:
    text = dpkg_status({"libreoffice-core": "4:7.4.7-1", "firefox-esr": "115.9.1esr-1"}, removed=("vlc",))
    found = packages.parse_dpkg_status(text, {"firefox-esr": 5})
    assert found == [
        protocol.Package("libreoffice-core", "4:7.4.7-1", 0),
        protocol.Package("firefox-esr", "115.9.1esr-1", 5),
    ]


def test_dpkg_multiarch_packages_are_qualified() -> None:
    text = dpkg_status({"libc6": "2.36-9"}) + "\n" + dpkg_status({"libc6": "2.36-9"}).replace("amd64", "i386")
    assert [p.name for p in packages.parse_dpkg_status(text)] == ["libc6:amd64", "libc6:i386"]


def test_rpm_query_output() -> None:
    text = "bash\t0:5.2.15-2.fc38\t1700000000\nkernel\t1:6.5-1\t1700000001\nbroken line\n"
    assert packages.parse_rpm_query(text) == [
        protocol.Package("bash", "5.2.15-2.fc38", 1_700_000_000 * 10**9),
        protocol.Package("kernel", "1:6.5-1", 1_700_000_001 * 10**9),
    ]


def test_system_readers_on_a_recorded_tree(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    hw = system.hardware(root)
    assert (hw.vendor, hw.model, hw.serial) == ("LENOVO", "ThinkCentre M720q", SERIAL)
    assert hw.cpu_model == "Intel(R) Core(TM) i5-8500T" and hw.memory_bytes > 0
    assert hw.disks == [protocol.Disk("nvme0n1", "SAMSUNG MZVLB256HAHQ", 500118192 * 512)]
    assert system.users(root) == [USER]
    assert system.os_info(root).version == "12" and system.os_info(root).kernel == "6.1.0-18-amd64"
    assert netinfo.dns_servers(root) == ["10.0.0.53", "10.0.0.54"]


def test_placeholder_serials_are_not_serials(tmp_path: Path) -> None:
    dmi = tmp_path / "sys/class/dmi/id"
    dmi.mkdir(parents=True)
    (dmi / "product_serial").write_text("To Be Filled By O.E.M.\n")
    (dmi / "board_serial").write_text("BRD-77\n")
    assert system.hardware(tmp_path).serial == "BRD-77"


def test_cups_printers_from_printers_conf_and_lpstat() -> None:
    conf = printers.parse_printers_conf(PRINTERS_CONF)
    assert [(p.name, p.host, p.default, p.state, p.driver[:2]) for p in conf] == [
        ("reception", "10.0.0.5", True, "idle", "HP"),
        ("label", "", False, "stopped", "Ze"),
    ]
    lp = printers.parse_lpstat(
        "device for office: ipp://10.1.1.7/ipp/print\ndevice for pdf: cups-pdf:/\n",
        "system default destination: office\n",
        "printer office is idle.  enabled since Mon\nprinter pdf disabled since Mon -\n",
    )
    assert [(p.name, p.host, p.default, p.state) for p in lp] == [
        ("office", "10.1.1.7", True, "idle"),
        ("pdf", "", False, "disabled"),
    ]


def test_collect_merges_the_real_and_a_fake_package_database(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "root")
    fake = tmp_path / "pkgs"
    write_packages(fake, {"zz-deskwatch-test-suite": "1.0-1"})
    settings = inventory.Settings(root=str(root), package_roots=["/", str(fake)])
    got = inventory.collect(settings, time.time_ns())
    names = {p.name for p in got.software}
    assert "zz-deskwatch-test-suite" in names
    if Path("/var/lib/dpkg/status").exists():  # the test machine's own packages come alongside
        assert "dpkg" in names and got.software_total == len(got.software) > 1
    assert got.users == [USER] and got.hardware.serial == SERIAL
    assert got.printers[0].name == "reception"
    assert protocol.decode(protocol.encode(_birth(got)), protocol.Presence).inventory == got


def _birth(inv: protocol.Inventory) -> protocol.Presence:
    return protocol.Presence(v=1, agent_id="pc-1", status="online", inventory=inv)
