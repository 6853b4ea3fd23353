"""`--device` URLs and the discovery parsers (pure, table-driven)."""

from __future__ import annotations

import pytest

from agent.discovery import host_of_printer_uri, hosts_from_lpstat, hosts_from_printers_conf
from agent.snmp.errors import DeviceUrlError
from agent.snmp.target import Auth, Target, parse_device_url


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("snmp://public@10.0.0.5", Target("10.0.0.5")),
        ("snmp://10.0.0.5:1161", Target("10.0.0.5", 1161)),
        ("snmp://s%40cret@printer.lan", Target("printer.lan", auth=Auth(community="s@cret"))),
        ("snmpv1://private@10.0.0.5", Target("10.0.0.5", auth=Auth(version="1", community="private"))),
        (
            "snmpv3://ops:authpass1:privpass1@10.0.0.1?auth=sha256&priv=aes256&context=c1",
            Target("10.0.0.1", auth=Auth(version="3", user="ops", auth_key="authpass1", priv_key="privpass1",
                                         auth_protocol="sha256", priv_protocol="aes256", context="c1")),
        ),
        ("snmpv3://ops@[fe80::1]:161", Target("fe80::1", auth=Auth(version="3", user="ops"))),
    ],
)  # fmt: skip
def test_parse_device_url(url: str, target: Target) -> None:
    assert parse_device_url(url) == target


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5",
        "snmp://",
        "snmp://a:b@10.0.0.5",
        "snmp://c@10.0.0.5:99999",
        "snmp://c@10.0.0.5/path",
        "snmpv3://10.0.0.5",
        "snmpv3://u:a:p@10.0.0.5?auth=rot13",
        "snmpv3://u@10.0.0.5?colour=red",
    ],
)
def test_parse_device_url_rejects(url: str) -> None:
    with pytest.raises(DeviceUrlError):
        parse_device_url(url)


def test_v3_security_level_follows_the_keys() -> None:
    assert parse_device_url("snmpv3://u@h").auth.level == "noAuthNoPriv"
    assert parse_device_url("snmpv3://u:a@h").auth.level == "authNoPriv"
    assert parse_device_url("snmpv3://u:a:p@h").auth.level == "authPriv"


LPSTAT = """\
device for Office_Laser: socket://10.1.2.30:9100
device for HP_Color: ipp://hp-color.office.lan/ipp/print
device for USB_Label: usb://Brother/QL-700?serial=000G1Z123
device for Local_PDF: cups-pdf:/
device for Loop: ipp://localhost:631/printers/x
device for Old: lpd://10.1.2.31/queue
device for Dup: socket://10.1.2.30
"""


def test_hosts_from_lpstat_keep_network_printers_once() -> None:
    assert hosts_from_lpstat(LPSTAT) == ["10.1.2.30", "hp-color.office.lan", "10.1.2.31"]


def test_hosts_from_printers_conf() -> None:
    conf = "<Printer a>\nDeviceURI socket://10.9.9.9:9100\n</Printer>\n<Printer b>\nDeviceURI usb://x\n</Printer>"
    assert hosts_from_printers_conf(conf) == ["10.9.9.9"]


def test_hplip_uri_carries_the_ip_in_the_query() -> None:
    assert host_of_printer_uri("hp:/net/HP_LaserJet?ip=10.0.0.7") == "10.0.0.7"
    assert host_of_printer_uri("ipp://127.0.0.1/printers/x") is None


def test_device_urls_become_targets_with_their_own_auth() -> None:
    import asyncio

    import msgspec

    from agent.sources.snmp import Discovery, Poller, Settings

    settings = Settings(
        device_urls=("snmp://c1@10.0.0.5", "snmpv3://u:a:p@10.0.0.6:1161"),
        discovery=Discovery(cups=False, windows_spooler=False, gateway=False),
    )
    targets = asyncio.run(Poller().targets(settings))
    assert [(t.host, t.port) for t in targets] == [("10.0.0.5", 161), ("10.0.0.6", 1161)]
    assert targets[0].auth.community == "c1"
    assert targets[1].auth.level == "authPriv"
    with pytest.raises(msgspec.ValidationError, match="scheme must be one of"):
        msgspec.convert({"device_urls": ["ftp://x"]}, Settings)
