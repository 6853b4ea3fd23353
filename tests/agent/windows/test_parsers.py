"""The Windows readers' pure parts, on values recorded from Windows APIs (under Wine) and the registry.

These run on Linux: each parser takes what the API or the registry returned. What calls
Windows is exercised for real under Wine in tests/windows/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import struct

import pytest

from agent.protocol import Package, Printer
from agent.windows import disks, icmp, iphlp, power, registry, sessions, smbios, spooler

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
        await asyncio.sleep(0)  # one turn of the loop, no time: it runs what the thread handed over

    asyncio.run(scenario())
    assert seen == ["resume", "sleep", "resume", "shutdown"]


# GetSystemFirmwareTable('RSMB') under Wine 8 on the CI machine (no /sys/class/dmi there):
# types 0, 1, 3, 2, 32 and 127, every string field empty.
WINE_SMBIOS = bytes.fromhex(
    "000204007b0000000018000000000000000004000000000000000000ffffffff0000011b0100000000003d1219c7"
    "c4c5404aaa1f6d2a48adfda402000000000315020000020000000202020200000000000000030000020f030000"
    "00000000050002000a000000201404000000000000000000000000000000000000007f0405000000"
)


def _structure(kind: int, handle: int, body: bytes, *strings: str) -> bytes:
    """One SMBIOS structure as DSP0134 6.1.2 lays it out: header, formatted area, strings, NUL."""
    area = b"".join(s.encode() + b"\0" for s in strings) + b"\0" if strings else b"\0\0"
    return struct.pack("<BBH", kind, 4 + len(body), handle) + body + area


def _raw_smbios(*structures: bytes) -> bytes:
    table = b"".join(structures) + _structure(127, 0xFEFF, b"")
    return struct.pack("<BBBBI", 0, 3, 3, 0, len(table)) + table


# Built by the SMBIOS 3.3 specification (DSP0134) for a Dell Latitude 5420, not recorded from one.
LAPTOP_SMBIOS = _raw_smbios(
    # BIOS (type 0): vendor, version, segment F000, release date, ROM size, characteristics
    _structure(
        0,
        0,
        bytes([1, 2]) + b"\x00\xf0" + bytes([3, 0xFF]) + bytes(8) + b"\x03\x0d\x01\x11\xff\xff",
        "Dell Inc.",
        "1.17.0",
        "03/14/2023",
    ),
    # System (type 1): manufacturer, product, no version, serial, UUID, wake-up, SKU, family
    _structure(
        1,
        1,
        bytes([1, 2, 0, 3]) + bytes(range(16)) + bytes([6, 4, 5]),
        "Dell Inc.",
        "Latitude 5420",
        "8XK4T53",
        "0A1B",
        "Latitude",
    ),
    # Baseboard (type 2): manufacturer, product, version, serial, no asset tag, flags, chassis 0300h
    _structure(
        2,
        2,
        bytes([1, 2, 3, 4, 0, 1, 0]) + b"\x00\x03" + bytes([0x0A, 0]),
        "Dell Inc.",
        "0D7XN2",
        "A00",
        "/8XK4T53/CNCMK0012K00B3/",
    ),
    # Chassis (type 3): manufacturer, notebook, no version, serial, states, OEM, height, cords
    _structure(
        3, 3, bytes([1, 0x0A, 0, 2, 0, 3, 3, 3, 2]) + bytes(4) + bytes([0, 1, 0, 0]), "Dell Inc.", "8XK4T53"
    ),
)
# A self-built PC: the board maker filled in only the board's own serial number.
WHITEBOX_SMBIOS = _raw_smbios(
    _structure(
        1,
        1,
        bytes([1, 2, 3, 4]) + bytes(16) + bytes([6, 5, 5]),
        "System manufacturer",
        "System Product Name",
        "System Version",
        "System Serial Number",
        "To Be Filled By O.E.M.",
    ),
    _structure(
        3,
        3,
        bytes([1, 0x03, 0, 2, 0, 3, 3, 3, 2]) + bytes(4) + bytes([0, 1, 0, 0]),
        "Default string",
        "Default string",
    ),
    _structure(
        2,
        2,
        bytes([1, 2, 3, 4, 0, 1, 0]) + b"\x03\x00" + bytes([0x0A, 0]),
        "ASUSTeK COMPUTER INC.",
        "PRIME B550M-A",
        "Rev X.0x",
        "210486589100123",
    ),
)


def test_smbios_identity_of_a_laptop() -> None:
    structures = smbios.parse_raw(LAPTOP_SMBIOS)
    assert [s.type for s in structures] == [0, 1, 2, 3, 127]
    assert structures[0].string(0x08) == "03/14/2023"  # BIOS release date
    assert smbios.identity_of(structures) == smbios.Identity("Dell Inc.", "Latitude 5420", "8XK4T53")


def test_smbios_placeholders_give_way_to_the_board_serial() -> None:
    found = smbios.identity_of(smbios.parse_raw(WHITEBOX_SMBIOS))
    assert found == smbios.Identity("", "", "210486589100123")


def test_smbios_recorded_under_wine_has_no_strings() -> None:
    structures = smbios.parse_raw(WINE_SMBIOS)
    assert [s.type for s in structures] == [0, 1, 3, 2, 32, 127]
    assert smbios.identity_of(structures) == smbios.Identity()


def test_smbios_broken_tables_keep_what_is_whole() -> None:
    whole = smbios.parse_raw(LAPTOP_SMBIOS)
    cut = smbios.parse_raw(LAPTOP_SMBIOS[:-30])  # the chassis and the end marker cut off
    assert [s.type for s in cut] == [0, 1, 2] and cut == whole[:3]
    assert smbios.identity_of(cut).serial == "8XK4T53"
    assert smbios.parse_raw(b"") == [] and smbios.parse_raw(LAPTOP_SMBIOS[:6]) == []
    zero_length = _raw_smbios(struct.pack("<BBH", 1, 0, 0) + b"\0\0")
    assert smbios.parse_raw(zero_length) == []


# IOCTL_STORAGE_QUERY_PROPERTY and IOCTL_DISK_GET_DRIVE_GEOMETRY_EX on \\.\PHYSICALDRIVE0
# under Wine 8: a SCSI disk with no vendor or product, and Wine's made-up geometry.
WINE_DESCRIPTOR = bytes.fromhex(
    "28000000280000000700000000000000000000000000000000000000010000000000000000000000"
)
WINE_GEOMETRY = bytes.fromhex(
    "10270000000000000c000000ff0000003f000000000200000020a626130000000000000000000000"
)


def _descriptor(vendor: str, product: str, revision: str, removable: bool, bus: int) -> bytes:
    """A STORAGE_DEVICE_DESCRIPTOR laid out as winioctl.h declares it (built, not recorded)."""
    strings, offsets = b"", []
    fixed = 36 + 1  # the fixed part, then RawDeviceProperties[1]
    for text in (vendor, product, revision, "0025_3852_1140_2D0F."):
        offsets.append(fixed + len(strings) if text else 0)
        strings += text.encode() + b"\0" if text else b""
    head = struct.pack("<IIBBBBIIIIII", 40, fixed + len(strings), 0, 0, removable, 1, *offsets, bus, 0)
    return head + b"\0" + strings


@pytest.mark.parametrize(
    ("vendor", "product", "removable", "bus", "model"),
    [
        ("NVMe", "Samsung SSD 980 PRO 1TB", False, 0x11, "Samsung SSD 980 PRO 1TB"),
        ("", "ST1000DM010-2EP102", False, 0x0B, "ST1000DM010-2EP102"),
        ("KINGSTON", "KINGSTON SA400S37240G", False, 0x0B, "KINGSTON SA400S37240G"),
        ("SanDisk", "Ultra", True, 0x07, "SanDisk Ultra"),
    ],
)
def test_disk_descriptor_to_model(vendor: str, product: str, removable: bool, bus: int, model: str) -> None:
    descriptor = disks.parse_descriptor(_descriptor(vendor, product, "5B2QGXA7", removable, bus))
    assert descriptor is not None
    assert (descriptor.product, descriptor.removable, descriptor.bus_type) == (product, removable, bus)
    assert disks.model_of(descriptor) == model


def test_disk_recorded_under_wine() -> None:
    descriptor = disks.parse_descriptor(WINE_DESCRIPTOR)
    assert descriptor == disks.Descriptor("", "", "", removable=False, bus_type=1)
    assert disks.model_of(descriptor) == ""
    assert disks.parse_size(WINE_GEOMETRY) == 10_000 * 255 * 63 * 512  # Wine's geometry, whole
    assert disks.parse_descriptor(WINE_DESCRIPTOR[:20]) is None and disks.parse_size(b"") == 0
    # a terabyte NVMe disk: 1,000,204,886,016 bytes
    geometry = struct.pack("<qIIIIq", 121_601, 12, 255, 63, 512, 1_000_204_886_016)
    assert disks.parse_size(geometry) == 1_000_204_886_016


def _installed_at(when: str, state: int = 0x70) -> dict[str, object]:
    seconds = int(dt.datetime.fromisoformat(when).timestamp())
    filetime = seconds * 10_000_000 + registry.FILETIME_UNIX_EPOCH
    return {"CurrentState": state, "InstallTimeHigh": filetime >> 32, "InstallTimeLow": filetime & 0xFFFFFFFF}


def test_last_update_is_the_newest_installed_update_package() -> None:
    july = "2024-07-10T03:14:00+00:00"
    packages = [
        (
            "Package_for_KB5039212~31bf3856ad364e35~amd64~~22621.3737.1.7",
            _installed_at("2024-06-12T02:00:00+00:00"),
        ),
        ("Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.3880.1.6", _installed_at(july)),
        (
            "Package_for_ServicingStack_3870~31bf3856ad364e35~amd64~~22621.3870.1.1",
            _installed_at("2024-07-10T03:00:00+00:00", state=0x80),
        ),
        # superseded, a language pack installed later, a key without times: none counts
        (
            "Package_for_KB5040442~31bf3856ad364e35~amd64~~22621.3880.1.6",
            _installed_at("2024-08-01T00:00:00+00:00", state=0x50),
        ),
        (
            "Microsoft-Windows-Client-LanguagePack-Package~31bf3856ad364e35~amd64~de-DE~10.0.22621.1",
            _installed_at("2024-09-01T00:00:00+00:00"),
        ),
        ("Package_for_KB5012170~31bf3856ad364e35~amd64~~22621.382.1.1", {"CurrentState": 0x70}),
    ]
    assert registry.last_update_ns(packages) == int(dt.datetime.fromisoformat(july).timestamp()) * 10**9
    assert registry.last_update_ns([]) == 0


def test_icmp_hops_of_a_route() -> None:
    def reply(address: str, status: int, rtt_ms: int) -> bytes:
        return (
            bytes(int(p) for p in address.split("."))
            + struct.pack("<IIHH", status, rtt_ms, 16, 0)
            + bytes(24)
        )

    # the host itself answers the echo
    assert icmp.hop_of(1, reply("10.0.0.5", icmp.IP_SUCCESS, 3)) == ("10.0.0.5", icmp.IP_SUCCESS, 0.003)
    # a router on the way drops it: "TTL expired in transit" from the router, returned as 0 replies
    expired = reply("192.168.1.1", icmp.IP_TTL_EXPIRED_TRANSIT, 1)
    assert icmp.hop_of(0, expired) == ("192.168.1.1", icmp.IP_TTL_EXPIRED_TRANSIT, 0.001)
    assert icmp.hop_of(1, expired) == ("192.168.1.1", icmp.IP_TTL_EXPIRED_TRANSIT, 0.001)
    # a router that cannot deliver answers too (the route ends there)
    assert icmp.hop_of(1, reply("192.168.1.1", 11003, 2))[:2] == ("192.168.1.1", 11003)
    # silence: nothing written, or a time-out
    assert icmp.hop_of(0, bytes(40)) is None
    assert icmp.hop_of(0, reply("0.0.0.0", 11010, 0)) is None


# `netsh wlan show interfaces` laid out as Windows 11 23H2 prints it (written after its English
# output, not captured on this machine, which has no Windows): an unplugged USB adapter, then the laptop's own
NETSH_WLAN = """
There are 2 interfaces on the system:

    Name                   : Wi-Fi 2
    Description            : TP-Link Wireless USB Adapter
    GUID                   : 0d6e3b4a-1f2c-4e5d-8a9b-7c6d5e4f3a21
    Physical address       : 50:c7:bf:12:34:56
    Interface type         : Primary
    State                  : disconnected
    Radio status           : Hardware On
                             Software On

    Name                   : Wi-Fi
    Description            : Intel(R) Wi-Fi 6 AX201 160MHz
    GUID                   : 3f1a9c2e-7b1d-4c6e-9d8a-0b2c4e6f8a10
    Physical address       : 4c:79:6e:a1:b2:c3
    Interface type         : Primary
    State                  : connected
    SSID                   : Office-5G
    AP BSSID               : 9c:53:22:aa:bb:cc
    Band                   : 5 GHz
    Channel                : 44
    Network type           : Infrastructure
    Radio type             : 802.11ax
    Authentication         : WPA2-Enterprise
    Cipher                 : CCMP
    Connection mode        : Profile
    Profile                : Office-5G
    Receive rate (Mbps)    : 573.5
    Transmit rate (Mbps)   : 573.5
    Signal                 : 82%
    QoS MSCS Configured         : 0
    QoS Map Configured          : 0
    QoS Map Allowed by Policy   : 0

    Hosted network status  : Not available
"""


def test_netsh_wlan_interfaces() -> None:
    from agent.diagnostics.system import Wifi, parse_netsh_wlan

    assert parse_netsh_wlan(NETSH_WLAN) == [Wifi("Wi-Fi", signal_percent=82.0, ssid="Office-5G")]
    assert parse_netsh_wlan(NETSH_WLAN.replace("\n", "\r\n")) == parse_netsh_wlan(NETSH_WLAN)
    # Wine's netsh, or a PC without Wi-Fi: "The Wireless AutoConfig Service (wlansvc) is not running."
    assert parse_netsh_wlan("The Wireless AutoConfig Service (wlansvc) is not running.\n") == []
