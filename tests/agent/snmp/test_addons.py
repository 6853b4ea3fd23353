"""Vendor add-ons whose objects no recording we can ship holds, through real walks with records edited.

The recordings in ../shared/data/snmp cover Brother, Canon, Dell, Epson, Konica Minolta,
Sharp and Xerox printers and a few routers, but none holds Brother's maintenance block or
Epson's counters, and there is no HP, Kyocera, Ricoh, Lexmark, OKI or Toshiba printer, nor
a Sophos, SonicWall, pfSense, TP-Link, Cisco small-business or ZyWALL device. Each case here
takes a real walk, gives it the vendor's sysObjectID (and sysDescr, for rebrands) and adds
the vendor's objects with the types and units of the vendor's MIB. Where a real device's
answers were published (the Kyocera CS 4053ci and Epson AM-C550 counters, the Sophos and
SonicWall figures), the values typed in are that device's, and the case names the source;
the others are written for the test. These tests prove that each add-on is gated, decoded
and sent as its file says; test_walks.py and test_vendor_walks.py hold what whole
recordings of the vendors' devices say.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest

from agent import protocol
from agent.protocol import Sample, State
from agent.snmp.observations import observe
from agent.snmp.report import DeviceReport
from tests.support.snmpsim import SnmpSim, poll_walk, walk_paths

SYS_DESCR, SYS_OBJECT_ID = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0"
PRT_SERIAL = "1.3.6.1.2.1.43.5.1.1.17.1"  # prtGeneralSerialNumber: emptied where the vendor MIB must answer
BR = "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5"  # Brother printerinfomation


def records(*pairs: tuple[str, int]) -> str:
    """A Brother block: code, 0x01, length 4, big-endian value per record, then the 0xFF end."""
    return "4x|" + "".join(f"{code}0104{value:08x}" for code, value in pairs) + "ff"


@dataclass
class Case:
    walk: str
    edits: dict[str, str]
    identity: dict[str, str | None] = field(default_factory=dict)  # DeviceReport.identity fields, and kind
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, float]] = field(default_factory=dict)
    supplies: dict[int, tuple[float | None, bool]] = field(
        default_factory=dict
    )  # index -> (percent, from vendor)
    absent: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # samples the walk must not give


def counter(name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("printer_counter", (("counter", name),))


CASES: dict[str, Case] = {
    # The recorded Brother (black toner -3, drum 11501/12000) with its vendor blocks added.
    "brother": Case(
        "brother",
        {
            f"{BR}.8.0": records(("6f", 6400), ("41", 9000), ("69", 8000), ("6a", 8500)),
            f"{BR}.10.0": records(("00", 1611), ("01", 709), ("02", 902)),
        },
        identity={"serial": "000A5J431816", "model": "MFC-L2710DW", "vendor": "Brother"},
        samples={
            counter("pages"): {"value_total": 1611},
            counter("pages_mono"): {"value_total": 709},
            counter("pages_color"): {"value_total": 902},
            (
                "printer_supply",
                (
                    ("kind", "transferUnit"),
                    ("percent_source", "vendor"),
                    ("supply", "Belt Unit"),
                    ("supply_class", "consumed"),
                ),
            ): {"level_percent": 80.0},
        },
        # Toner: the Printer-MIB says only "some left", Brother says 64 %; the drum's standard level stays.
        supplies={1: (64.0, True), 2: (95.8, False)},
    ),
    # A UTAX (Kyocera-built) MFP: the serial only in Kyocera's MIB.
    # The counters of a real Copystar CS 4053ci (a TASKalfa 4053ci), as recorded in
    # mstrhakr/printmaster's agent/scanner/testdata/kyocera_cs4053_snmp.json (MIT, commit
    # 53d932f4f5cab37c76899137a94d89cb561c0a75), typed into the Dell walk with Kyocera's
    # sysObjectID. They add up on the device: print + copy + fax = the engine total, the
    # mono and full-colour rows = print and copy. Its 42.2.1.1.1 table counts pages per paper
    # size (column 2 the size, 6 all, 7 black and white, 8 full colour): size #1 (A3) shows 0
    # colour pages though the device made 39,717 (38,487 of them on Letter, #9), so it is
    # no colour total; and it has no 42.2.2.1.1.3 column at all (only colour-mode names).
    "kyocera": Case(
        "dell-laser_s5830dn",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.1347.41",
            SYS_DESCR: "4|KYOCERA Document Solutions Printing System",
            PRT_SERIAL: "4|RH28Y00024",
            "1.3.6.1.4.1.1347.43.5.1.1.1.1": "4|CS 4053ci",
            "1.3.6.1.4.1.1347.43.5.1.1.28.1": "4|RH28Y00024",
            "1.3.6.1.4.1.1347.43.5.4.1.5.1.1": "4|2V8_S000.002.801",
            "1.3.6.1.4.1.1347.43.10.1.1.12.1.1": "2|76064",
            "1.3.6.1.4.1.1347.42.2.1.1.1.2.1.1": "4|A3",
            "1.3.6.1.4.1.1347.42.2.1.1.1.6.1.1": "2|0",
            "1.3.6.1.4.1.1347.42.2.1.1.1.7.1.1": "2|0",
            "1.3.6.1.4.1.1347.42.2.1.1.1.8.1.1": "2|0",
            "1.3.6.1.4.1.1347.42.2.1.1.1.2.1.9": "4|Letter",
            "1.3.6.1.4.1.1347.42.2.1.1.1.6.1.9": "2|72237",
            "1.3.6.1.4.1.1347.42.2.1.1.1.7.1.9": "2|33750",
            "1.3.6.1.4.1.1347.42.2.1.1.1.8.1.9": "2|38487",
            "1.3.6.1.4.1.1347.42.2.2.1.1.2.1.1": "4|Monochrome",
            "1.3.6.1.4.1.1347.42.2.2.1.1.2.1.2": "4|Mono Color",
            "1.3.6.1.4.1.1347.42.2.2.1.1.2.1.3": "4|Full Color",
            "1.3.6.1.4.1.1347.42.3.1.1.1.1.1": "2|40600",
            "1.3.6.1.4.1.1347.42.3.1.1.1.1.2": "2|32971",
            "1.3.6.1.4.1.1347.42.3.1.1.1.1.3": "2|0",
            "1.3.6.1.4.1.1347.42.3.1.1.1.1.4": "2|2493",
            "1.3.6.1.4.1.1347.42.3.1.2.1.1.1.1": "2|14730",
            "1.3.6.1.4.1.1347.42.3.1.2.1.1.1.2": "2|0",
            "1.3.6.1.4.1.1347.42.3.1.2.1.1.1.3": "2|25870",
            "1.3.6.1.4.1.1347.42.3.1.2.1.1.2.1": "2|19124",
            "1.3.6.1.4.1.1347.42.3.1.2.1.1.2.3": "2|13847",
            "1.3.6.1.4.1.1347.42.3.1.2.1.1.4.1": "2|2493",
            "1.3.6.1.4.1.1347.46.10.1.1.5.3": "2|230478",
        },
        identity={
            "serial": "RH28Y00024",
            "model": "CS 4053ci",
            "vendor": "Kyocera",
            "firmware": "2V8_S000.002.801",
        },
        samples={
            counter("pages"): {"value_total": 76064},
            counter("print"): {"value_total": 40600},
            counter("print_mono"): {"value_total": 14730},
            counter("print_color"): {"value_total": 25870},
            counter("copy"): {"value_total": 32971},
            counter("copy_mono"): {"value_total": 19124},
            counter("copy_color"): {"value_total": 13847},
            counter("fax"): {"value_total": 2493},
            counter("scan"): {"value_total": 230478},
        },
        absent=(counter("pages_color"), counter("pages_mono")),
    ),
    # A UTAX badge on a Kyocera-built printer: its sysDescr names it, Kyocera's MIB the rest.
    "kyocera_utax": Case(
        "dell-laser_s5830dn",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.1347.41",
            SYS_DESCR: "4|UTAX 3505ci",
            PRT_SERIAL: "4|",
            "1.3.6.1.4.1.1347.43.5.1.1.1.1": "4|3505ci",
            "1.3.6.1.4.1.1347.43.5.1.1.28.1": "4|LVX4Z00017",
        },
        identity={"serial": "LVX4Z00017", "model": "3505ci", "vendor": "UTAX"},
    ),
    # The counters and supplies table of a real Epson AM-C550 as recorded by
    # mstrhakr/printmaster (logs_review/parse_debug_172_52_105_91.json, MIT, commit
    # 948666c16b2f3e3a18c0e2f671f472b06030f1cc), typed into the recorded WF-C5790BA, which has
    # no Epson subtree. The owner read the same figures off the printer's web page (39,797
    # black and white, 41,766 colour; prtMarkerLifeCount 81,563). Epson's table lists the
    # maintenance box, which the Printer-MIB does not: 40 % left.
    "epson": Case(
        "epson",
        {
            PRT_SERIAL: "4|VPA9200014",
            "1.3.6.1.4.1.1248.1.2.2.1.1.1.2.1": "4|AM-C550",
            "1.3.6.1.4.1.1248.1.2.2.1.1.1.5.1": "4|VPA9200014",
            "1.3.6.1.4.1.1248.1.2.2.27.1.1.3.1.1": "65|39797",
            "1.3.6.1.4.1.1248.1.2.2.27.1.1.4.1.1": "65|41766",
            "1.3.6.1.4.1.1248.1.2.2.27.6.1.4.1.1.1": "65|49053",
            "1.3.6.1.4.1.1248.1.2.2.27.6.1.4.1.1.2": "65|32474",
            "1.3.6.1.4.1.1248.1.2.2.27.6.1.4.1.1.3": "65|0",
            "1.3.6.1.4.1.1248.1.2.2.27.6.1.4.1.1.4": "65|36",
            "1.3.6.1.4.1.1248.1.2.2.27.6.1.5.1.1.1": "65|39434",
            "1.3.6.1.4.1.1248.1.2.2.27.6.1.5.1.1.2": "65|2313",
            "1.3.6.1.4.1.1248.1.2.2.27.6.1.5.1.1.3": "65|0",
            "1.3.6.1.4.1.1248.1.2.2.27.6.1.5.1.1.4": "65|19",
            **{
                f"1.3.6.1.4.1.1248.1.2.2.28.1.1.2.1.{i}": f"2|{v}"
                for i, v in enumerate((67, 59, 60, 70, 40), 1)
            },
            **{f"1.3.6.1.4.1.1248.1.2.2.28.1.1.21.1.{i}": f"2|{v}" for i, v in enumerate((6, 6, 6, 6, 8), 1)},
            "1.3.6.1.4.1.1248.1.2.2.28.1.1.5.1.1": "4|Black Ink Cartridge T08M1",
            "1.3.6.1.4.1.1248.1.2.2.28.1.1.5.1.2": "4|Cyan Ink Cartridge T08M2",
            "1.3.6.1.4.1.1248.1.2.2.28.1.1.5.1.3": "4|Magenta Ink Cartridge T08M3",
            "1.3.6.1.4.1.1248.1.2.2.28.1.1.5.1.4": "4|Yellow Ink Cartridge T08M4",
            "1.3.6.1.4.1.1248.1.2.2.28.1.1.5.1.5": "4|Maintenance Cartridge C9372",
        },
        identity={"serial": "VPA9200014", "model": "AM-C550", "vendor": "Epson"},
        samples={
            counter("pages_mono"): {"value_total": 39797},
            counter("pages_color"): {"value_total": 41766},
            counter("print"): {"value_total": 49053},
            counter("print_color"): {"value_total": 39434},
            counter("copy"): {"value_total": 32474},
            counter("copy_color"): {"value_total": 2313},
            (
                "printer_supply_vendor",
                (("kind", "wasteInk"), ("supply", "Maintenance Cartridge C9372"), ("vendor_index", "1.5")),
            ): {"level_percent": 40},
            (
                "printer_supply_vendor",
                (("kind", "inkCartridge"), ("supply", "Cyan Ink Cartridge T08M2"), ("vendor_index", "1.2")),
            ): {"level_percent": 59},
        },
    ),
    # A Savin (Ricoh-built) on the Brother walk, whose black toner says -3: Ricoh's toner level answers.
    "ricoh": Case(
        "brother",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.367.1.1",
            SYS_DESCR: "4|SAVIN MP C3004 1.23 / RICOH Network Printer C model",
            "1.3.6.1.4.1.367.3.2.1.2.1.4.0": "4|E155M330012",
            "1.3.6.1.4.1.367.3.2.1.2.24.1.1.5.1": "2|70",
            "1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.1": "2|10",
            "1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.1": "2|54321",
            "1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.2": "2|201",
            "1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.2": "2|20000",
            "1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.3": "2|999",  # a type code the file does not name
            "1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.3": "2|5",
        },
        identity={"vendor": "SAVIN", "serial": "E155M330012"},
        samples={
            counter("pages"): {"value_total": 54321},
            counter("copy_mono"): {"value_total": 20000},
            counter("999"): {"value_total": 5},
        },
        supplies={1: (70.0, True)},
    ),
    "lexmark": Case(
        "dell-laser_s5830dn",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.641.1.5.7",
            PRT_SERIAL: "4|",
            "1.3.6.1.4.1.641.2.1.2.1.2.1": "4|Lexmark MS621",
            "1.3.6.1.4.1.641.2.1.2.1.6.1": "4|50161YHLL1BC",
            "1.3.6.1.4.1.641.6.4.2.1.1.2.1": "2|16",
            "1.3.6.1.4.1.641.6.4.2.1.1.4.1": "65|1200",
            "1.3.6.1.4.1.641.6.4.2.1.1.2.2": "2|17",
            "1.3.6.1.4.1.641.6.4.2.1.1.4.2": "65|1180",
            "1.3.6.1.4.1.641.6.4.1.1.1.2.1": "2|97",
            "1.3.6.1.4.1.641.6.4.1.1.1.4.1": "65|3",
            "1.3.6.1.4.1.641.6.4.4.1.1.5.1": "4|Black Cartridge",
            "1.3.6.1.4.1.641.6.4.4.1.1.6.1": "4|CAM0912345",
            "1.3.6.1.4.1.641.6.4.4.1.1.7.1": "4|56F2000",
            "1.3.6.1.4.1.641.6.4.4.1.1.10.1": "4x|07e8030e0a1e0000",  # DateAndTime 2024-03-14 10:30:00
            "1.3.6.1.4.1.641.6.4.4.1.1.11.1": "65|1000",
            "1.3.6.1.4.1.641.6.4.4.1.1.14.1": "2|6000",
            "1.3.6.1.4.1.641.6.4.4.1.1.16.1": "65|4200",
        },
        identity={"serial": "50161YHLL1BC", "model": "Lexmark MS621", "vendor": "Lexmark"},
        samples={
            counter("print"): {"value_total": 1200},
            counter("print_mono"): {"value_total": 1180},
            counter("jams"): {"value_total": 3},
            (
                "printer_supply_vendor",
                (
                    ("part_number", "56F2000"),
                    ("supply", "Black Cartridge"),
                    ("supply_serial", "CAM0912345"),
                    ("vendor_index", "1"),
                ),
            ): {
                "installed_unix_seconds": 1710412200,
                "pages_at_install": 1000,
                "capacity": 6000,
                "level": 4200,
            },
        },
    ),
    # HP's PML strings may carry a type and length octet in front.
    "hp": Case(
        "dell-laser_s5830dn",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.11.2.3.9.1",
            PRT_SERIAL: "4|",
            "1.3.6.1.4.1.11.2.3.9.1.1.7.0": "4|MFG:HP;MDL:HP LaserJet Pro M404dn;CLS:PRINTER;",
            "1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.3.0": "4x|010a50484242423132333435",
            "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.5.0": "65|15000",
            "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.22.0": "65|4000",
        },
        identity={"serial": "PHBBB12345", "model": "HP LaserJet Pro M404dn", "vendor": "HP"},
        samples={counter("pages"): {"value_total": 15000}, counter("duplex"): {"value_total": 4000}},
    ),
    "oki": Case(
        "dell-laser_s5830dn",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.2001.1.1.1.297",
            PRT_SERIAL: "4|",
            "1.3.6.1.4.1.2001.1.1.1.1.11.1.10.25.0": "4|C532",
            "1.3.6.1.4.1.2001.1.1.1.1.11.1.10.45.0": "4|AK12345678",
        },
        identity={"serial": "AK12345678", "model": "C532", "vendor": "OKI"},
    ),
    # The TEC MIB (bcp*) is the TEC label printers' (LibreNMS records a B-EV4 with sysObjectID
    # 1129.1.2.1; a B-850-R answers bcpDeviceModel, glpi-agent issue #1044); no recording shows
    # an e-STUDIO (branch 1129.2.3) answering it.
    "toshiba": Case(
        "dell-laser_s5830dn",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.1129.1.2.1",
            PRT_SERIAL: "4|",
            "1.3.6.1.4.1.1129.1.2.1.1.1.1.1.0": "4|CNCJ12345",
            "1.3.6.1.4.1.1129.1.2.1.1.1.2.1.0": "4|B-EX4T1-GS12",
        },
        identity={"serial": "CNCJ12345", "model": "B-EX4T1-GS12", "vendor": "Toshiba"},
    ),
    # The recorded Xerox and Canon with their vendors' counters added.
    "xerox": Case(
        "xerox",
        {
            "1.3.6.1.4.1.253.8.53.3.2.1.3.1": "4|3XB123456",
            "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33": "65|70211",
            "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34": "65|120844",
        },
        identity={"serial": "3XB123456", "model": "AltaLink C8045"},
        samples={
            counter("print_color"): {"value_total": 70211},
            counter("print_mono"): {"value_total": 120844},
        },
    ),
    "canon": Case(
        "canonprinter_tm",
        {"1.3.6.1.4.1.1602.1.2.1.4.0": "4|2LK01234", "1.3.6.1.4.1.1602.1.11.1.3.1.4.301": "65|21588"},
        identity={"serial": "2LK01234", "model": "TM-5300"},
        samples={counter("print"): {"value_total": 21588}},
    ),
    "konica": Case(
        "konica",
        {
            "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0": "65|80312",
            "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.3.0": "65|21002",
        },
        identity={"model": "Develop ineo+ 280"},
        samples={counter("pages"): {"value_total": 80312}, counter("duplex"): {"value_total": 21002}},
    ),
    # An OKI MC780 (a Toshiba-built A3 MFP) answers Toshiba's sysObjectID with OKI's print
    # server in sysDescr, as a user's debug output showed (fusioninventory-agent issue 664):
    # the OKI add-on takes it, not Toshiba's, and the model comes from "Attached to".
    "oki_on_toshiba_oid": Case(
        "dell-laser_s5830dn",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.1129.2.3.48.3",
            SYS_DESCR: "4|OKI OkiLAN 7400g Rev.01.00 10/100/1000BASE Ethernet Print Server: "
            "Attached to MC780 Rev.01.00: Oki Data Corporation.",
        },
        identity={"model": "MC780", "vendor": "OKI"},
    ),
    # Routers and firewalls, on the recorded DrayTek. The Sophos figures are a real
    # appliance's, as in Centreon's anonymised test walk (centreon/centreon-plugins,
    # tests/network/cyberoam/snmp/slim_sophos.snmpwalk, Apache-2.0, commit 900717092fee):
    # sfosLiveUsersCount Gauge32 38, sfosMemoryPercentUsage Gauge32 58; that walk has no
    # identity group, so model, firmware and serial here are written in.
    "sophos": Case(
        "draytek",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.2604.5",
            "1.3.6.1.4.1.2604.5.1.1.2.0": "4|XGS 2100",
            "1.3.6.1.4.1.2604.5.1.1.3.0": "4|SFOS 20.0.1 MR-1-Build342",
            "1.3.6.1.4.1.2604.5.1.1.4.0": "4|X21001ABCDEF12",
            "1.3.6.1.4.1.2604.5.1.2.6.0": "66|38",
            "1.3.6.1.4.1.2604.5.1.2.5.2.0": "66|58",
        },
        identity={"kind": "firewall", "serial": "X21001ABCDEF12", "model": "XGS 2100", "vendor": "Sophos"},
        samples={("snmp_firewall", ()): {"users": 38, "memory_used_percent": 58}},
    ),
    # A SonicWall of the SNWL era answers its figures as Counter32, as a user's snmpget showed
    # (librenms/librenms issue 1686): CPU 1, RAM 11 %, 96,000 connections at most, 1,127 now.
    "sonicwall": Case(
        "draytek",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.8741.1",
            "1.3.6.1.4.1.8741.2.1.1.1.0": "4|TZ 370",
            "1.3.6.1.4.1.8741.2.1.1.2.0": "4|2CB8ED123456",
            "1.3.6.1.4.1.8741.2.1.1.3.0": "4|SonicOS 7.0.1-5035",
            "1.3.6.1.4.1.8741.1.3.1.1.0": "65|96000",
            "1.3.6.1.4.1.8741.1.3.1.2.0": "65|1127",
            "1.3.6.1.4.1.8741.1.3.1.3.0": "65|1",
            "1.3.6.1.4.1.8741.1.3.1.4.0": "65|11",
        },
        identity={"kind": "firewall", "serial": "2CB8ED123456", "model": "TZ 370", "vendor": "SonicWall"},
        samples={
            ("snmp_firewall", ()): {
                "sessions": 1127,
                "sessions_max": 96000,
                "cpu_percent": 1,
                "memory_used_percent": 11,
            }
        },
    ),
    "pfsense": Case(
        "draytek",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.12325.1.1.2.1.1",
            SYS_DESCR: "4|pfSense fw.office.lan 2.7.2-RELEASE FreeBSD 14.0-CURRENT amd64",
            "1.3.6.1.4.1.12325.1.200.1.3.1.0": "66|812",
        },
        identity={"kind": "firewall", "vendor": "pfSense", "firmware": "2.7.2-RELEASE"},
        samples={("snmp_firewall", ()): {"sessions": 812}},
    ),
    # Another FreeBSD box with bsnmpd is no firewall, and is not read as one.
    "freebsd": Case(
        "draytek",
        {SYS_OBJECT_ID: "6|1.3.6.1.4.1.12325.1.1.2.1.1", SYS_DESCR: "4|fileserver 14.0-RELEASE FreeBSD"},
        identity={"kind": "network"},
    ),
    "tplink": Case(
        "draytek",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.11863.1.1.3",
            "1.3.6.1.4.1.11863.6.1.1.5.0": "4|T2600G-28TS 3.0",
            "1.3.6.1.4.1.11863.6.1.1.6.0": "4|3.0.0 Build 20200429 Rel.37263",
            "1.3.6.1.4.1.11863.6.1.1.8.0": "4|2154012000789",
        },
        identity={"serial": "2154012000789", "model": "T2600G-28TS 3.0", "vendor": "TP-Link"},
    ),
    # Older TP-Link firmware keeps tpSysInfoUpTime where newer keeps the serial: not a serial.
    "tplink_old": Case(
        "draytek",
        {SYS_OBJECT_ID: "6|1.3.6.1.4.1.11863.1.1.3", "1.3.6.1.4.1.11863.6.1.1.8.0": "67|123456"},
        identity={"serial": None},
    ),
    "ciscosb": Case(
        "draytek",
        {
            SYS_OBJECT_ID: "6|1.3.6.1.4.1.9.6.1.95.10.5",
            "1.3.6.1.4.1.9.6.1.101.53.14.1.5.1": "4|PSZ21011ABC",
            "1.3.6.1.4.1.9.6.1.101.53.14.1.11.1": "4|SG350-10",
            "1.3.6.1.4.1.9.6.1.101.53.14.1.2.1": "4|2.5.0.83",
        },
        identity={"serial": "PSZ21011ABC", "model": "SG350-10", "firmware": "2.5.0.83", "vendor": "Cisco"},
    ),
    "zywall": Case(
        "draytek",
        {SYS_OBJECT_ID: "6|1.3.6.1.4.1.890.1.6.22", "1.3.6.1.4.1.890.1.6.22.1.1.0": "2|12"},
        identity={"kind": "firewall", "vendor": "Zyxel"},
        samples={("snmp_firewall", ()): {"cpu_percent": 12}},
    ),
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SnmpSim]:
    walks = walk_paths()
    s = SnmpSim()
    for name, case in CASES.items():
        s.add_walk(walks[case.walk], f"addon_{name}", replace=case.edits)
    with s:
        yield s


poll_once = poll_walk


def _samples(report: DeviceReport) -> Mapping[tuple[str, tuple[tuple[str, str], ...]], dict[str, float]]:
    return {
        (o.measurement, tuple(sorted((k, v) for k, v in o.tags.items() if k != "device"))): dict(o.fields)
        for o in observe(report, 3)
        if isinstance(o, Sample)
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_vendor_addon_reads_what_its_file_declares(sim: SnmpSim, name: str) -> None:
    case = CASES[name]
    report = poll_once(sim, f"addon_{name}")
    assert report.reachable
    identity = {
        "kind": report.kind,
        **{k: getattr(report.identity, k) for k in ("serial", "model", "firmware", "vendor")},
    }
    assert {k: identity[k] for k in case.identity} == case.identity
    if case.identity.get("serial"):
        assert report.device == case.identity["serial"]  # the serial is the device key
    samples = _samples(report)
    for key, fields in case.samples.items():
        assert key in samples, f"{key} not among {sorted(samples)}"
        assert {f: samples[key].get(f) for f in fields} == fields
    assert not set(case.absent) & set(samples), "a figure the device does not give"
    supplies = {s.index: (s.level_percent, s.percent_from_vendor) for s in report.supplies}
    assert {i: supplies.get(i) for i in case.supplies} == case.supplies


def test_a_vendor_figure_is_tagged_as_the_vendors(sim: SnmpSim) -> None:
    toner = _samples(poll_once(sim, "addon_brother"))
    found = [tags for (m, tags) in toner if m == "printer_supply" and ("supply_index", "1") in tags]
    assert found and ("percent_source", "vendor") in found[0]


def test_other_devices_are_not_walked_for_an_addon(sim: SnmpSim) -> None:
    """A Dell printer gets no Kyocera, Ricoh or HP objects asked: the add-ons are gated by sysObjectID."""
    report = poll_once(sim, "addon_kyocera")
    assert "kyocera" in report.profiles and not {"ricoh", "hp", "lexmark", "dell"} & set(report.profiles)


def test_what_the_addons_send_is_a_valid_batch(sim: SnmpSim) -> None:
    observations = [o for name in sorted(CASES) for o in observe(poll_once(sim, f"addon_{name}"), 3)]
    batch = protocol.Batch(
        v=protocol.PROTOCOL_VERSION,
        agent_id="pc-1",
        seq=1,
        created_ns=3,
        samples=[o for o in observations if isinstance(o, Sample)],
        states=[o for o in observations if isinstance(o, State)],
    )
    assert protocol.decode(protocol.encode(batch), protocol.Batch) == batch


def test_an_oki_on_toshibas_oid_is_not_taken_for_a_toshiba(sim: SnmpSim) -> None:
    report = poll_once(sim, "addon_oki_on_toshiba_oid")
    assert "oki" in report.profiles and "toshiba" not in report.profiles
