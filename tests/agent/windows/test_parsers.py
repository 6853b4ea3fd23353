"""The Windows readers' pure parts, on values recorded from Windows APIs (under Wine) and the registry.

These run on Linux: each parser takes what the API or the registry returned. What calls
Windows is exercised for real under Wine in tests/windows/.
"""

from __future__ import annotations

import asyncio
import struct

import pytest

from agent.protocol import Package, Printer
from agent.windows import icmp, iphlp, power, registry, sessions, spooler

# GetIpForwardTable under Wine 8 on the CI machine (default via 192.0.2.1 dev eth0, two links).
WINE_ROUTES = bytes.fromhex(
    "03000000000000000000000000000000c0000201040000000400000003000000000000000000000000000000"
    "000000000000000000000000000000000ad50000fffffffc000000000ad500010600000003000000020000000000"
    "0000000000000000000000000000000000000000000000000000c0000200ffffff0000000000c000020204000000"
    "030000000200000000000000000000000000000000000000000000000000000000000000"
)


def _row(dest: str, mask: str, hop: str, if_index: int, kind: int, metric: int) -> bytes:
    def ip(text: str) -> bytes:
        return bytes(int(part) for part in text.split("."))

    return struct.pack(
        "<4s4sI4sIIIIIIIIII", ip(dest), ip(mask), 0, ip(hop), if_index, kind, 3, 0, 0, metric, 0, 0, 0, 0
    )


def test_route_table_recorded_under_wine() -> None:
    routes = iphlp.parse_forward_table(WINE_ROUTES)
    assert [(r.destination, r.mask, r.next_hop, r.kind) for r in routes] == [
        ("0.0.0.0", "0.0.0.0", "192.0.2.1", 4),
        ("10.213.0.0", "255.255.255.252", "10.213.0.1", 3),
        ("192.0.2.0", "255.255.255.0", "192.0.2.2", 3),
    ]
    assert iphlp.default_gateway(routes) == "192.0.2.1"


def test_default_gateway_is_the_cheapest_default_route() -> None:
    # A laptop on Ethernet and Wi-Fi at once: Windows prefers the lower metric (Ethernet 25).
    table = struct.pack("<I", 4) + b"".join(
        [
            _row("0.0.0.0", "0.0.0.0", "192.168.1.1", 12, 4, 35),
            _row("0.0.0.0", "0.0.0.0", "10.0.0.1", 7, 4, 25),
            _row("0.0.0.0", "0.0.0.0", "10.9.9.9", 8, 2, 1),  # invalid: ignored
            _row("10.0.0.0", "255.255.255.0", "10.0.0.42", 7, 3, 281),
        ]
    )
    assert iphlp.default_gateway(iphlp.parse_forward_table(table)) == "10.0.0.1"
    assert iphlp.default_gateway(iphlp.parse_forward_table(table[: 4 + 56])) == "192.168.1.1"  # cut short
    assert iphlp.default_gateway(iphlp.parse_forward_table(struct.pack("<I", 0))) is None
    assert iphlp.parse_forward_table(b"") == []


def test_dns_list_drops_blanks_and_repeats() -> None:
    assert iphlp.dns_list(["10.0.0.53", "", "10.0.0.53", "0.0.0.0", " 10.0.0.54"]) == [
        "10.0.0.53",
        "10.0.0.54",
    ]


def test_uninstall_entries_become_packages() -> None:
    keys = [
        {
            "DisplayName": "Mozilla Firefox (x64 en-US)",
            "DisplayVersion": "128.0.2",
            "InstallDate": "20240715",
        },
        {"DisplayName": "Microsoft Visual C++ 2015 Runtime", "SystemComponent": 1},
        {"DisplayName": "Security Update for Office", "ParentKeyName": "Office16.PROPLUS"},
        {"DisplayVersion": "1.0"},  # no name: a leftover key
        {"DisplayName": "7-Zip 23.01", "DisplayVersion": "23.01", "InstallDate": "not a date"},
        {
            "DisplayName": "Mozilla Firefox (x64 en-US)",
            "DisplayVersion": "115.0",
        },  # the 32-bit view's older copy
    ]
    assert registry.packages(iter(keys)) == [
        Package("7-Zip 23.01", "23.01", 0),
        Package("Mozilla Firefox (x64 en-US)", "128.0.2", 1_721_001_600 * 10**9),
    ]


def test_windows_version_from_current_version_key() -> None:
    win11 = {
        "ProductName": "Windows 10 Pro",
        "DisplayVersion": "23H2",
        "CurrentBuildNumber": "22631",
        "UBR": 3880,
    }
    info = registry.os_of(win11, "10.0.22631")
    assert (info.name, info.version, info.build, info.kernel) == (
        "Windows 11 Pro",
        "23H2",
        "22631.3880",
        "10.0.22631",
    )
    wine = {"ProductName": "Microsoft Windows 7", "CurrentVersion": "6.1", "CurrentBuildNumber": "7601"}
    assert (registry.os_of(wine).name, registry.os_of(wine).version, registry.os_of(wine).build) == (
        "Microsoft Windows 7",
        "6.1",
        "7601",
    )


def test_msi_properties_become_flag_overrides() -> None:
    values = {"Broker": "mqtts://broker:8883", "Site": "HQ", "AgentId": " ", "CaFile": 5, "Other": "x"}
    assert registry.deployment_of(values) == {"broker": "mqtts://broker:8883", "site": "HQ"}
    assert registry.name_of("ca_file") == "CaFile"


@pytest.mark.parametrize(
    ("port", "values", "host"),
    [
        ("IP_10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.6_1", None, "10.0.0.6"),
        ("Office-HP", {"HostName": "hp-m404.office.lan", "IPAddress": ""}, "hp-m404.office.lan"),
        ("Office-HP", {"HostName": "", "IPAddress": "10.0.0.7"}, "10.0.0.7"),
        ("USB001", None, ""),
        ("WSD-4f3c2e1a-8d2b-4c5e-9f1a-2b3c4d5e6f70", None, ""),
        ("PORTPROMPT:", None, ""),
        ("IP_999.1.1.1", None, ""),
    ],
)
def test_printer_port_to_address(port: str, values: dict[str, object] | None, host: str) -> None:
    assert spooler.host_of_port(port, values) == host


def test_printer_info_to_inventory_printer() -> None:
    info = {
        "pPrinterName": "Reception",
        "pPortName": "IP_10.0.0.5",
        "pDriverName": "HP Universal",
        "Status": 0x80,
    }
    assert spooler.printer_of(info, "Reception", None) == Printer(
        "Reception", "HP Universal", "IP_10.0.0.5", "10.0.0.5", True, "offline"
    )
    shared = {"pPrinterName": "\\\\printsrv\\floor2", "pPortName": "IP_10.0.0.9", "Status": 0}
    assert spooler.printer_of(shared, "", None).host == ""  # the server's queue, not a printer to poll
    assert spooler.state_of(0x8 | 0x400) == "paper_jam"
    assert spooler.job_state_of(0) == "queued" and spooler.job_state_of(0x10) == "printing"


def test_logged_on_users_from_sessions() -> None:
    rows = [
        (0, 4, ""),
        (3, 4, "OFFICE\\bob"),
        (1, 0, "OFFICE\\maria.k"),
        (2, 0, "OFFICE\\maria.k"),
        (5, 6, "x"),
    ]
    assert sessions.users_of(rows) == ["OFFICE\\maria.k", "OFFICE\\bob"]


def test_icmp_echo_reply() -> None:
    reply = bytes([10, 0, 0, 1]) + struct.pack("<IIHH", 0, 12, 16, 0) + bytes(24)
    assert icmp.parse_reply(reply) == ("10.0.0.1", icmp.IP_SUCCESS, 0.012)
    timeout = bytes(4) + struct.pack("<IIHH", 11010, 0, 0, 0)
    assert icmp.parse_reply(timeout)[1] == 11010 and icmp.STATUS_TEXT[11010] == "request timed out"


@pytest.mark.parametrize(
    ("control", "event_type", "event"),
    [
        (power.SERVICE_CONTROL_POWEREVENT, power.PBT_APMSUSPEND, "sleep"),
        (power.SERVICE_CONTROL_POWEREVENT, power.PBT_APMRESUMEAUTOMATIC, "resume"),
        (power.SERVICE_CONTROL_POWEREVENT, power.PBT_APMRESUMESUSPEND, "resume"),
        (power.SERVICE_CONTROL_POWEREVENT, power.PBT_APMPOWERSTATUSCHANGE, None),
        (power.SERVICE_CONTROL_POWEREVENT, power.PBT_POWERSETTINGCHANGE, None),
        (power.SERVICE_CONTROL_SHUTDOWN, 0, "shutdown"),
        (power.SERVICE_CONTROL_PRESHUTDOWN, 0, "shutdown"),
        (0x01, 0, None),  # SERVICE_CONTROL_STOP is a stop, not a power event
        (0x04, 0, None),  # SERVICE_CONTROL_INTERROGATE
    ],
)
def test_service_controls_to_power_events(control: int, event_type: int, event: str | None) -> None:
    assert power.event_of(control, event_type) == event


def test_power_relay_hands_each_change_to_the_loop_once() -> None:
    seen: list[str] = []

    async def scenario() -> None:
        relay = power.PowerRelay()
        assert relay.deliver("sleep") is False  # nobody listens yet
        relay.subscribe(seen.append)
        # the service manager's thread: sleep, both resumes Windows sends, preshutdown then shutdown
        events: list[power.PowerEvent] = ["resume", "sleep", "resume", "resume", "shutdown", "shutdown"]
        await asyncio.to_thread(lambda: [relay.deliver(e) for e in events])
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert seen == ["resume", "sleep", "resume", "shutdown"]
