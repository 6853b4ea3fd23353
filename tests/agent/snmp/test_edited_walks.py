"""Paths no recorded walk reaches, through real walks with a few records edited and served by snmpsim.

None of the recorded printers had an active alert or a cover table, and every recorded
device answers in order. Each walk here is a real one with the smallest edit that makes
the device say what a test needs: prtAlertTable and prtCoverTable rows (RFC 3805) added to
the Sharp, interfaces taken down on the RouterOS router, a record out of order, and a walk
cut off in the middle of ifTable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from agent import protocol
from agent.protocol import Sample, Severity, State
from agent.snmp.client import Client
from agent.snmp.observations import observe
from agent.snmp.report import DeviceReport
from agent.snmp.target import Auth, Target
from agent.snmp.values import parse_oid
from tests.support.snmpsim import SnmpSim, poll_walk, walk_paths

ALERT = "1.3.6.1.2.1.43.18.1.1"  # prtAlertEntry
COVER = "1.3.6.1.2.1.43.6.1.1"  # prtCoverEntry
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"  # ifDescr
IF_ADMIN = "1.3.6.1.2.1.2.2.1.7"  # ifAdminStatus
IF_OPER = "1.3.6.1.2.1.2.2.1.8"  # ifOperStatus


def alert_row(index: int, severity: int, training: int, group: int, group_index: int, location: int,
              code: int, description: str, ticks: int) -> dict[str, str]:  # fmt: skip
    """One prtAlertTable row of hrDevice 1 as snmprec records (prtAlertIndex, column 1, is not-accessible)."""
    return {
        f"{ALERT}.2.1.{index}": f"2|{severity}",  # prtAlertSeverityLevel
        f"{ALERT}.3.1.{index}": f"2|{training}",  # prtAlertTrainingLevel
        f"{ALERT}.4.1.{index}": f"2|{group}",  # prtAlertGroup
        f"{ALERT}.5.1.{index}": f"2|{group_index}",  # prtAlertGroupIndex
        f"{ALERT}.6.1.{index}": f"2|{location}",  # prtAlertLocation
        f"{ALERT}.7.1.{index}": f"2|{code}",  # prtAlertCode
        f"{ALERT}.8.1.{index}": f"4|{description}",  # prtAlertDescription
        f"{ALERT}.9.1.{index}": f"67|{ticks}",  # prtAlertTime (sysUpTime when it was added)
    }


# What the Sharp (serial 6509415X00, hrPrinterDetectedErrorState lowToner) would list with
# cyan and magenta low, its front cover open and a vendor-specific alert. Codes and enums
# are RFC 3805's: severity critical(3) warningUnaryChangeEvent(4) warningBinaryChangeEvent(5);
# training untrained(3) trained(4) noInterventionRequired(7); group generalPrinter(5)
# cover(6) markerSupplies(11); code coverOpen(3) powerUp(503) markerTonerAlmostEmpty(1104).
SHARP_ALERTS = {
    **alert_row(14, 5, 3, 11, 1, 0, 1104, "Cyan toner low", 81_200),
    **alert_row(15, 5, 3, 11, 2, 0, 1104, "Magenta toner low", 81_300),
    **alert_row(16, 3, 3, 6, 1, 2001, 3, "Close the front cover", 95_000),
    # Power-up is an event, not a condition: the printer says no one needs to act on it.
    **alert_row(17, 4, 7, 5, 1, -2, 503, "Power on", 100),
    # A vendor code (type 3 enum extension) with severity other(1).
    **alert_row(18, 1, 4, 5, 1, -2, 40123, "Hole punch box nearly full", 96_000),
}
SHARP_COVERS = {
    f"{COVER}.2.1.1": "4|Front Cover",  # prtCoverDescription
    f"{COVER}.3.1.1": "2|3",  # prtCoverStatus coverOpen
    f"{COVER}.2.1.2": "4|Right Side Cover",
    f"{COVER}.3.1.2": "2|4",  # coverClosed
    f"{COVER}.2.1.3": "4|Fuser Unit",
    f"{COVER}.3.1.3": "2|5",  # interlockOpen
    f"{COVER}.2.1.4": "4|Duplex Module",
    f"{COVER}.3.1.4": "2|6",  # interlockClosed
}
# RouterOS as recorded has wlan2, ether3, ether4 and wlan3 enabled and down, ether5
# disabled. The edit takes the WAN port to lowerLayerDown(7) and bridge-admin to dormant(5),
# and gives wlan3 an ifName of the longest size IF-MIB allows (DisplayString, 255).
LONG_NAME = "wlan3-" + "guest" * 49 + "x"
ROUTEROS_DOWN = {f"{IF_OPER}.3": "2|7", f"{IF_OPER}.12": "2|5", "1.3.6.1.2.1.31.1.1.1.1.8": f"4|{LONG_NAME}"}


@pytest.fixture(scope="module")
def sim() -> Iterator[SnmpSim]:
    walks = walk_paths()
    s = SnmpSim()
    s.add_walk(walks["sharp"], "sharp_alerts", replace={**SHARP_ALERTS, **SHARP_COVERS})
    s.add_walk(walks["routeros"], "routeros_down", replace=ROUTEROS_DOWN)
    # ifDescr.5 is followed by ifDescr.0: a GETNEXT of ifDescr.5 answers an OID that went back.
    s.add_walk(walks["routeros"], "routeros_backwards", misplaced={f"{IF_DESCR}.5": f"{IF_DESCR}.0|4|bogus"})
    # The agent's view ends at ifOperStatus.5: everything after it is endOfMibView.
    s.add_walk(walks["routeros"], "routeros_cut", end_after=f"{IF_OPER}.5")
    with s:
        yield s


poll_once = poll_walk


def states(report: DeviceReport, prefix: str) -> dict[str, State]:
    found = [o for o in observe(report, 7) if isinstance(o, State) and o.condition.startswith(prefix)]
    by_subject = {s.subject: s for s in found}
    assert len(by_subject) == len(found), f"two {prefix} states share a subject: {found}"
    return by_subject


def test_probe_lists_every_alert_row_with_its_names(sim: SnmpSim) -> None:
    report = poll_once(sim, "sharp_alerts")
    assert report.device == "6509415X00"
    alerts = {a.index: a for a in report.alerts}
    assert sorted(alerts) == [14, 15, 16, 17, 18]
    cyan = alerts[14]
    assert (cyan.severity, cyan.training_level, cyan.code) == (
        "warningBinaryChangeEvent", "untrained", "markerTonerAlmostEmpty",
    )  # fmt: skip
    assert (cyan.group, cyan.group_index, cyan.description) == ("markerSupplies", 1, "Cyan toner low")
    assert cyan.location == 0 and cyan.raised_at_uptime_s == 812.0
    assert (alerts[16].severity, alerts[16].code, alerts[16].group) == ("critical", "coverOpen", "cover")
    assert (alerts[17].code, alerts[17].training_level) == ("powerUp", "noInterventionRequired")
    assert alerts[18].code == "40123"  # a vendor code stays a number, not a guess


def test_each_alert_that_needs_someone_is_its_own_state(sim: SnmpSim) -> None:
    report = poll_once(sim, "sharp_alerts")
    found = states(report, "printer_alert_")
    assert {(s.subject, s.condition, s.severity) for s in found.values()} == {
        ("6509415X00/alert/marker_toner_almost_empty/marker_supplies/1",
         "printer_alert_marker_toner_almost_empty", Severity.WARNING),
        ("6509415X00/alert/marker_toner_almost_empty/marker_supplies/2",
         "printer_alert_marker_toner_almost_empty", Severity.WARNING),
        ("6509415X00/alert/cover_open/cover/1", "printer_alert_cover_open", Severity.CRITICAL),
        ("6509415X00/alert/40123/general_printer/1", "printer_alert_40123", Severity.INFO),
    }  # fmt: skip
    # powerUp (noInterventionRequired) is listed by the probe but is no problem to report.
    magenta = found["6509415X00/alert/marker_toner_almost_empty/marker_supplies/2"]
    assert not magenta.ok and magenta.text == "Magenta toner low"
    assert magenta.tags == {
        "device": "6509415X00", "alert_index": "15", "group": "markerSupplies", "group_index": "2",
        "code": "markerTonerAlmostEmpty",
    }  # fmt: skip
    printer = next(o for o in observe(report, 7) if isinstance(o, Sample) and o.measurement == "printer")
    assert printer.fields["alerts_active"] == 5


def test_open_covers_are_states_and_closed_ones_are_not(sim: SnmpSim) -> None:
    report = poll_once(sim, "sharp_alerts")
    assert [(c.index, c.description, c.status) for c in report.covers] == [
        (1, "Front Cover", "open"),
        (2, "Right Side Cover", "closed"),
        (3, "Fuser Unit", "interlockOpen"),
        (4, "Duplex Module", "interlockClosed"),
    ]
    found = states(report, "printer_cover_open")
    assert sorted(found) == ["6509415X00/cover/1", "6509415X00/cover/3"]
    assert all(s.severity is Severity.CRITICAL and not s.ok for s in found.values())
    assert found["6509415X00/cover/3"].tags == {"device": "6509415X00", "cover": "Fuser Unit"}
    assert found["6509415X00/cover/3"].text == "Fuser Unit is open"


def test_enabled_interfaces_that_are_down_are_states(sim: SnmpSim) -> None:
    report = poll_once(sim, "routeros_down")
    status = {i.name: (i.admin_status, i.oper_status) for i in report.interfaces}
    assert status["ether5"] == ("down", "down")  # disabled: not a problem
    assert status["WAN"] == ("up", "lowerLayerDown")
    assert status["bridge-admin"] == ("up", "dormant")  # waiting for an event: not a problem
    found = states(report, "interface_down")
    key = report.device
    down = ("wlan2", "WAN", "ether3", "ether4", LONG_NAME)
    assert sorted(found) == sorted(f"{key}/if/{n}"[:256] for n in down)  # cut to what a State may hold
    wan = found[f"{key}/if/WAN"]
    assert (wan.severity, wan.ok) == (Severity.WARNING, False)
    assert wan.text == "interface WAN is enabled but lowerLayerDown"
    assert wan.tags["if_index"] == "3" and wan.tags["if_name"] == "WAN"


@pytest.mark.parametrize("community", ["sharp_alerts", "routeros_down"])
def test_what_the_edited_devices_report_is_a_valid_batch(sim: SnmpSim, community: str) -> None:
    """The collector decodes with the protocol's limits; one oversized subject would cost the whole batch."""
    observations = observe(poll_once(sim, community), 7)
    batch = protocol.Batch(
        v=protocol.PROTOCOL_VERSION,
        agent_id="pc-1",
        seq=1,
        created_ns=7,
        samples=[o for o in observations if isinstance(o, Sample)],
        states=[o for o in observations if isinstance(o, State)],
    )
    assert protocol.decode(protocol.encode(batch), protocol.Batch) == batch


@pytest.mark.parametrize("version", ["1", "2c"])
def test_a_column_stops_at_an_oid_that_goes_back(sim: SnmpSim, version: str) -> None:
    async def walk() -> list[tuple[int, ...]]:
        client = Client()
        try:
            target = Target("127.0.0.1", sim.port, Auth(version=version, community="routeros_backwards"))
            rows = await client.walk(target, [parse_oid(IF_DESCR)])
            return [vb.oid for vb in rows[parse_oid(IF_DESCR)]]
        finally:
            client.close()

    started = time.monotonic()
    oids = asyncio.run(walk())
    assert oids == [parse_oid(f"{IF_DESCR}.{i}") for i in range(1, 6)]  # not .0, and not .6 after it
    assert time.monotonic() - started < 5


def test_a_device_that_goes_back_still_reports_its_other_columns(sim: SnmpSim) -> None:
    report = poll_once(sim, "routeros_backwards")
    assert report.reachable and len(report.interfaces) == 12
    # ifDescr stopped at .5; ifName (ifXTable) still names every interface.
    assert [i.descr is not None for i in report.interfaces] == [True] * 5 + [False] * 7
    assert all(i.name for i in report.interfaces)


@pytest.mark.parametrize("version", ["1", "2c"])
def test_a_walk_that_ends_mid_table_keeps_what_it_read(sim: SnmpSim, version: str) -> None:
    started = time.monotonic()
    report = poll_once(sim, "routeros_cut", version)
    assert time.monotonic() - started < 10
    assert report.reachable and report.kind == "network"
    assert [i.oper_status is not None for i in report.interfaces] == [True] * 5 + [False] * 7
    # Columns after ifOperStatus (ifInOctets, ifXTable) never answered at all.
    assert all(i.in_octets is None and i.alias is None for i in report.interfaces)
    assert [i.name for i in report.interfaces][:3] == ["wlan1", "wlan2", "WAN"]  # ifDescr, as ifName is gone
