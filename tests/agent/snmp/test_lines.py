"""Modem lines (ADSL, VDSL2, DOCSIS 3.0/3.1) through real walks with records edited, served by snmpsim.

The recorded Teldat VDSL2 router has its line down (every ADSL-LINE-MIB figure 0) and no
recorded walk has VDSL2-LINE-MIB or DOCSIS tables, so the line figures a synced modem
reports are written into real walks here, record by record, with the MIB's own units.
The values are chosen so that each direction is told apart: a test passes only if every
figure lands on the side RFC 2662 / RFC 5650 say it describes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.protocol import Sample, Severity, State
from agent.snmp.observations import observe
from tests.support.snmpsim import SnmpSim, poll_walk, walk_paths

ADSL = "1.3.6.1.2.1.10.94.1.1"  # adslMibObjects
# Line 17 is the Teldat's ADSL line (ifType adsl), 18 and 19 its fast and interleaved channels.
ADSL_SYNCED = {
    f"{ADSL}.2.1.4.17": "2|95",  # adslAtucCurrSnrMgn: 9.5 dB, what the exchange receives (upstream)
    f"{ADSL}.2.1.5.17": "66|210",  # adslAtucCurrAtn: 21.0 dB upstream
    f"{ADSL}.2.1.8.17": "66|18500000",  # adslAtucCurrAttainableRate: the exchange's, downstream
    f"{ADSL}.3.1.4.17": "2|62",  # adslAturCurrSnrMgn: 6.2 dB, what the modem receives (downstream)
    f"{ADSL}.3.1.5.17": "66|380",  # adslAturCurrAtn: 38.0 dB downstream
    f"{ADSL}.3.1.6.17": "4x|08",  # adslAturCurrStatus: lossOfSignalQuality (bit 4)
    f"{ADSL}.3.1.8.17": "66|1100000",  # adslAturCurrAttainableRate: the modem's, upstream
    f"{ADSL}.4.1.2.19": "66|16000000",  # adslAtucChanCurrTxRate, interleaved: downstream sync
    f"{ADSL}.4.1.3.19": "66|17500000",  # adslAtucChanPrevTxRate: before the last rate change
    f"{ADSL}.5.1.2.19": "66|1000000",  # adslAturChanCurrTxRate, interleaved: upstream sync
    f"{ADSL}.5.1.3.19": "66|1000000",
}
XDSL2 = "1.3.6.1.2.1.10.251.1"  # xdsl2Objects
UNAVAILABLE = "66|2147483646"  # RFC 5650: the measurement is unavailable
VDSL2_SYNCED = {
    f"{XDSL2}.1.1.1.18.17": "4x|80",  # xdsl2LineStatusXtur: noDefect
    f"{XDSL2}.1.1.1.19.17": "4x|80",  # xdsl2LineStatusXtuc: noDefect
    f"{XDSL2}.1.1.1.20.17": "66|52000000",  # xdsl2LineStatusAttainableRateDs
    f"{XDSL2}.1.1.1.21.17": "66|11000000",  # xdsl2LineStatusAttainableRateUs
    # xdsl2LineBandTable, index line.band: upstream(1)/downstream(2) hold the average margin,
    # the VDSL2 bands us0(3) ds1(4) us1(5) ds2(6) the attenuation.
    f"{XDSL2}.1.2.1.4.17.1": "2|71",
    f"{XDSL2}.1.2.1.4.17.2": "2|98",
    f"{XDSL2}.1.2.1.2.17.1": UNAVAILABLE,
    f"{XDSL2}.1.2.1.2.17.2": UNAVAILABLE,
    f"{XDSL2}.1.2.1.2.17.3": "66|50",
    f"{XDSL2}.1.2.1.2.17.4": "66|120",
    f"{XDSL2}.1.2.1.2.17.5": "66|180",
    f"{XDSL2}.1.2.1.2.17.6": "66|250",
    # xdsl2ChannelStatusTable, index channel.unit: xtuc(1) sends downstream, xtur(2) upstream.
    f"{XDSL2}.2.2.1.2.19.1": "66|50000000",
    f"{XDSL2}.2.2.1.2.19.2": "66|10000000",
    f"{XDSL2}.2.2.1.3.19.1": "66|50000000",
    f"{XDSL2}.2.2.1.3.19.2": "66|10000000",
}
DOCS_IF = "1.3.6.1.2.1.10.127.1"
DOCS_IF3 = "1.3.6.1.4.1.4491.2.1.20.1"
DOCS_IF31 = "1.3.6.1.4.1.4491.2.1.28.1"
DOCS_PNM = "1.3.6.1.4.1.4491.2.1.27.1"
# A DOCSIS 3.1 cable modem: SC-QAM downstream 3, SC-QAM upstream 4, OFDM 48, OFDMA 49.
DOCSIS = {
    f"{DOCS_IF}.1.1.1.2.3": "2|602000000",  # docsIfDownChannelFrequency
    f"{DOCS_IF}.1.1.1.6.3": "2|35",  # docsIfDownChannelPower: 3.5 dBmV
    f"{DOCS_IF}.1.4.1.2.3": "65|1000",  # docsIfSigQUnerroreds (32-bit, wrapped)
    f"{DOCS_IF}.1.4.1.5.3": "2|402",  # docsIfSigQSignalNoise: 40.2 dB
    f"{DOCS_IF}.1.4.1.8.3": "70|123456789012",  # docsIfSigQExtUnerroreds (64-bit wins)
    f"{DOCS_IF}.1.4.1.9.3": "70|1234",  # docsIfSigQExtCorrecteds
    f"{DOCS_IF}.1.4.1.10.3": "70|12",  # docsIfSigQExtUncorrectables
    f"{DOCS_IF3}.24.1.1.3": "2|398",  # docsIf3SignalQualityExtRxMER: 39.8 dB
    f"{DOCS_IF}.1.2.1.2.4": "2|36000000",  # docsIfUpChannelFrequency
    f"{DOCS_IF3}.2.1.1.4": "2|455",  # docsIf3CmStatusUsTxPower: 45.5 dBmV
    f"{DOCS_IF3}.2.1.2.4": "65|3",  # docsIf3CmStatusUsT3Timeouts
    f"{DOCS_IF31}.9.1.10.48": "66|690000000",  # docsIf31CmDsOfdmChanPlcFreq
    f"{DOCS_PNM}.2.5.1.3.48": "66|4012",  # docsPnmCmDsOfdmRxMerMean: 40.12 dB
    f"{DOCS_IF31}.11.1.2.48.0": "66|693000000",  # docsIf31CmDsOfdmChannelPowerCenterFrequency, band 0
    f"{DOCS_IF31}.11.1.3.48.0": "2|-12",  # docsIf31CmDsOfdmChannelPowerRxPower: -1.2 dBmV
    f"{DOCS_IF31}.10.1.3.48.1": "70|5000000",  # docsIf31CmDsOfdmProfileStatsTotalCodewords, profile 1
    f"{DOCS_IF31}.10.1.5.48.1": "70|7",  # ...UncorrectableCodewords
    f"{DOCS_IF31}.13.1.2.49": "66|37000000",  # docsIf31CmUsOfdmaChanSubcarrierZeroFreq
    f"{DOCS_IF31}.13.1.10.49": "66|180",  # docsIf31CmUsOfdmaChanTxPower: 45.0 dBmV in quarter dBmV
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SnmpSim]:
    walks = walk_paths()
    s = SnmpSim()
    s.add_walk(walks["teldat_teldatvdsl2"], "adsl_synced", replace=ADSL_SYNCED)
    s.add_walk(walks["teldat_teldatvdsl2"], "vdsl2_synced", replace=VDSL2_SYNCED)
    s.add_walk(walks["draytek"], "cable_modem", replace=DOCSIS)
    with s:
        yield s


poll_once = poll_walk


def test_the_recorded_teldat_line_is_down_and_reads_as_zeros(sim: SnmpSim) -> None:
    report = poll_once(sim, "adsl_synced")
    assert [line.index for line in report.dsl] == [17]  # channels 18 and 19 belong to line 17


def test_adsl_figures_land_on_the_side_rfc_2662_says(sim: SnmpSim) -> None:
    (line,) = poll_once(sim, "adsl_synced").dsl
    assert (line.standard, line.index) == ("adsl", 17)
    assert (line.downstream_rate_bps, line.upstream_rate_bps) == (16_000_000, 1_000_000)
    assert (line.downstream_attainable_bps, line.upstream_attainable_bps) == (18_500_000, 1_100_000)
    assert (line.downstream_snr_margin_db, line.upstream_snr_margin_db) == (6.2, 9.5)
    assert (line.downstream_attenuation_db, line.upstream_attenuation_db) == (38.0, 21.0)


def test_a_line_below_its_minimum_margin_or_slower_than_before_is_degraded(sim: SnmpSim) -> None:
    report = poll_once(sim, "adsl_synced")
    found = [o for o in observe(report, 5) if isinstance(o, State) and o.condition == "modem_line_degraded"]
    assert len(found) == 1
    state = found[0]
    assert (state.subject, state.ok, state.severity) == (f"{report.device}/line/17", False, Severity.WARNING)
    assert state.text == (
        "modem: noise margin below its minimum; downstream sync rate fell from 17.5 to 16 Mbit/s"
    )
    assert state.tags == {"device": report.device, "line": "17", "standard": "adsl"}


def test_vdsl2_wins_over_the_zeros_of_adsl_and_reads_bands_by_direction(sim: SnmpSim) -> None:
    report = poll_once(sim, "vdsl2_synced")
    (line,) = report.dsl
    assert (line.standard, line.index) == ("vdsl2", 17)
    assert (line.downstream_rate_bps, line.upstream_rate_bps) == (50_000_000, 10_000_000)
    assert (line.downstream_attainable_bps, line.upstream_attainable_bps) == (52_000_000, 11_000_000)
    assert (line.downstream_snr_margin_db, line.upstream_snr_margin_db) == (9.8, 7.1)
    # The whole-direction rows are unavailable: the mean of ds1, ds2 and of us0, us1.
    assert (line.downstream_attenuation_db, line.upstream_attenuation_db) == (18.5, 11.5)
    assert line.degraded == []
    dsl = [o for o in observe(report, 5) if isinstance(o, Sample) and o.measurement == "snmp_dsl"]
    assert dsl[0].fields["downstream_rate_bps"] == 50_000_000
    assert not [
        o for o in observe(report, 5) if isinstance(o, State) and o.condition == "modem_line_degraded"
    ]


def test_docsis_channels_are_samples_with_si_units(sim: SnmpSim) -> None:
    report = poll_once(sim, "cable_modem")
    docsis = {
        tuple(sorted((k, v) for k, v in o.tags.items() if k != "device")): o.fields
        for o in observe(report, 5)
        if isinstance(o, Sample) and o.measurement == "snmp_docsis"
    }
    assert docsis[(("channel", "3"), ("direction", "downstream"))] == {
        "frequency_hz": 602_000_000,
        "power_dbmv": 3.5,
        "snr_db": 40.2,
        "mer_db": 39.8,
        "unerrored_codewords_total": 123_456_789_012,
        "corrected_codewords_total": 1234,
        "uncorrectable_codewords_total": 12,
    }
    assert docsis[(("channel", "4"), ("direction", "upstream"))] == {
        "frequency_hz": 36_000_000,
        "power_dbmv": 45.5,
        "t3_timeouts_total": 3,
    }
    ofdm = (("channel", "48"), ("direction", "downstream"), ("modulation", "ofdm"))
    assert docsis[ofdm] == {"frequency_hz": 690_000_000, "mer_db": 40.12}
    assert docsis[(("band", "0"), *ofdm)] == {"frequency_hz": 693_000_000, "power_dbmv": -1.2}
    assert docsis[(ofdm[0], ofdm[1], ofdm[2], ("profile", "1"))] == {
        "codewords_total": 5_000_000,
        "uncorrectable_codewords_total": 7,
    }
    assert docsis[(("channel", "49"), ("direction", "upstream"), ("modulation", "ofdma"))] == {
        "frequency_hz": 37_000_000,
        "power_dbmv": 45.0,
    }
