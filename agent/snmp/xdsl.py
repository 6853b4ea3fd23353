"""A DSL modem's line per ADSL-LINE-MIB (RFC 2662) and VDSL2-LINE-MIB (RFC 5650), in SI units (pure).

Which side a figure describes is the whole difficulty, so here is the rule each MIB states:

- RFC 2662 describes each end of the line by what that end *receives*: the ATU-R's
  (the modem's) noise margin and attenuation are the downstream ones, the ATU-C's (the
  exchange's) the upstream ones. Rates are what an end *transmits*: adslAtucChanCurrTxRate
  is the downstream sync rate, adslAturChanCurrTxRate the upstream one, and the ATU-C's
  attainable rate (at least its current transmit rate) is the downstream one.
- RFC 5650 names directions outright (xdsl2LineStatusAttainableRateDs, bands upstream(1)
  and downstream(2)); a bearer channel's rate is kept per termination unit, and the
  xTU-C's row is the downstream rate (the rate the exchange sends at), as for ADSL.

Channels (ADSL fast/interleaved paths, VDSL2 bearer channels) have ifIndexes of their
own. A modem has one line, so every channel belongs to it; where a device shows several
lines, a channel joins the line of the same ifIndex or stands as a line of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import msgspec

from agent.snmp.profile import Extraction, Row
from agent.snmp.values import Oid, Value

Standard = Literal["adsl", "vdsl2"]

# ADSL-LINE-MIB adslAtu[cr]CurrStatus and VDSL2-LINE-MIB Xdsl2LineStatus bits (bit 0 is noDefect).
_DEFECTS: Final = {
    "adsl": (
        None,
        "loss of framing",
        "loss of signal",
        "loss of power",
        "noise margin below its minimum",  # lossOfSignalQuality: margin < min margin, or BER > 1e-7
        "loss of link",
        "data init failure",
        "configuration init failure",
        "protocol init failure",
        "no peer present",
    ),
    "vdsl2": (None, "loss of framing", "loss of signal", "loss of power", "init failure"),
}
# Xdsl2Band: the whole-direction rows that hold the average margin (and, for ADSL2, attenuation).
_UPSTREAM, _DOWNSTREAM = 1, 2
_XDSL2_UPSTREAM_BANDS: Final = frozenset({3, 5, 7, 9, 11})  # us0..us4
_XDSL2_DOWNSTREAM_BANDS: Final = frozenset({4, 6, 8, 10})  # ds1..ds4
_XTUC, _XTUR = 1, 2  # Xdsl2Unit
# RFC 5650 special values: out of range to represent, and measurement unavailable.
_UNAVAILABLE: Final = frozenset({0x7FFFFFFF, 0x7FFFFFFE})


class DslLine(msgspec.Struct, frozen=True, kw_only=True):
    """One DSL line: sync and attainable rates, noise margin and attenuation per direction."""

    index: int
    standard: Standard
    downstream_rate_bps: int | None = None
    upstream_rate_bps: int | None = None
    downstream_previous_rate_bps: int | None = None  # the sync rate before the last rate change
    upstream_previous_rate_bps: int | None = None
    downstream_attainable_bps: int | None = None
    upstream_attainable_bps: int | None = None
    downstream_snr_margin_db: float | None = None
    upstream_snr_margin_db: float | None = None
    downstream_attenuation_db: float | None = None
    upstream_attenuation_db: float | None = None
    defects: list[str] = []  # what either end reports wrong, e.g. "modem: loss of signal"

    @property
    def degraded(self) -> list[str]:
        """Why the line is worse than it was, in words: a defect, or a sync rate that fell."""
        reasons = list(self.defects)
        for direction, now, before in (
            ("downstream", self.downstream_rate_bps, self.downstream_previous_rate_bps),
            ("upstream", self.upstream_rate_bps, self.upstream_previous_rate_bps),
        ):
            if now and before and now < before:
                reasons.append(f"{direction} sync rate fell from {before / 1e6:g} to {now / 1e6:g} Mbit/s")
        return reasons


def _int(row: Mapping[str, Value], key: str) -> int | None:
    v = row.get(key)
    return v if isinstance(v, int) and v not in _UNAVAILABLE else None


def _tenths(row: Mapping[str, Value], key: str) -> float | None:
    v = _int(row, key)
    return v / 10 if v is not None else None


def _defects(standard: Standard, end: str, row: Mapping[str, Value]) -> list[str]:
    bits = _int(row, "status") or 0
    names = _DEFECTS[standard]
    return [f"{end}: {names[n]}" for n in range(1, len(names)) if bits & (1 << n)]


def _sum(rows: list[Row], key: str) -> int | None:
    values = [v for r in rows if (v := _int(r, key)) is not None]
    return sum(values) if values else None


def _channels_by_line(lines: list[int], channels: Mapping[int, Row]) -> dict[int, list[Row]]:
    """Each channel's row under the line it belongs to (see the module docstring)."""
    grouped: dict[int, list[Row]] = {line: [] for line in lines}
    for index, row in sorted(channels.items()):
        line = lines[0] if len(lines) == 1 else index
        grouped.setdefault(line, []).append(row)
    return grouped


def _last(index: Oid) -> int:
    return index[-1] if index else 0


def _adsl(ex: Extraction) -> list[DslLine]:
    atuc = {_last(i): r for i, r in ex.table("adsl_atuc")}
    atur = {_last(i): r for i, r in ex.table("adsl_atur")}
    lines = sorted(set(atuc) | set(atur))
    down = _channels_by_line(lines, {_last(i): r for i, r in ex.table("adsl_atuc_channel")})
    up = _channels_by_line(lines, {_last(i): r for i, r in ex.table("adsl_atur_channel")})
    result = []
    for index in sorted(set(down) | set(up)):
        c, r = atuc.get(index, {}), atur.get(index, {})
        result.append(
            DslLine(
                index=index,
                standard="adsl",
                downstream_rate_bps=_sum(down.get(index, []), "rate"),
                upstream_rate_bps=_sum(up.get(index, []), "rate"),
                downstream_previous_rate_bps=_sum(down.get(index, []), "previous_rate"),
                upstream_previous_rate_bps=_sum(up.get(index, []), "previous_rate"),
                downstream_attainable_bps=_int(c, "attainable_rate"),
                upstream_attainable_bps=_int(r, "attainable_rate"),
                downstream_snr_margin_db=_tenths(r, "snr_margin"),
                upstream_snr_margin_db=_tenths(c, "snr_margin"),
                downstream_attenuation_db=_tenths(r, "attenuation"),
                upstream_attenuation_db=_tenths(c, "attenuation"),
                defects=_defects("adsl", "modem", r) + _defects("adsl", "exchange", c),
            )
        )
    return result


def _band_figure(bands: Mapping[int, Row], whole: int, parts: frozenset[int], key: str) -> float | None:
    """The whole-direction band's figure, else the mean of that direction's bands (VDSL2)."""
    value = _tenths(bands.get(whole, {}), key)
    if value is not None:
        return value
    values = [v for band, row in bands.items() if band in parts and (v := _tenths(row, key)) is not None]
    return round(sum(values) / len(values), 1) if values else None


def _vdsl2(ex: Extraction) -> list[DslLine]:
    lines_rows = {_last(i): r for i, r in ex.table("vdsl2_line")}
    bands: dict[int, dict[int, Row]] = {}
    for oid_index, row in ex.table("vdsl2_band"):
        if len(oid_index) >= 2:
            bands.setdefault(oid_index[-2], {})[oid_index[-1]] = row
    channels: dict[int, dict[int, Row]] = {}
    for oid_index, row in ex.table("vdsl2_channel"):
        if len(oid_index) >= 2:
            channels.setdefault(oid_index[-1], {})[oid_index[-2]] = row  # unit -> channel ifIndex -> row
    lines = sorted(lines_rows)
    down = _channels_by_line(lines, channels.get(_XTUC, {}))
    up = _channels_by_line(lines, channels.get(_XTUR, {}))
    result = []
    for index in sorted(set(lines) | set(down) | set(up)):
        row, band = lines_rows.get(index, {}), bands.get(index, {})
        result.append(
            DslLine(
                index=index,
                standard="vdsl2",
                downstream_rate_bps=_sum(down.get(index, []), "rate"),
                upstream_rate_bps=_sum(up.get(index, []), "rate"),
                downstream_previous_rate_bps=_sum(down.get(index, []), "previous_rate"),
                upstream_previous_rate_bps=_sum(up.get(index, []), "previous_rate"),
                downstream_attainable_bps=_int(row, "attainable_rate_ds"),
                upstream_attainable_bps=_int(row, "attainable_rate_us"),
                downstream_snr_margin_db=_band_figure(
                    band, _DOWNSTREAM, _XDSL2_DOWNSTREAM_BANDS, "snr_margin"
                ),
                upstream_snr_margin_db=_band_figure(band, _UPSTREAM, _XDSL2_UPSTREAM_BANDS, "snr_margin"),
                downstream_attenuation_db=_band_figure(
                    band, _DOWNSTREAM, _XDSL2_DOWNSTREAM_BANDS, "attenuation"
                ),
                upstream_attenuation_db=_band_figure(band, _UPSTREAM, _XDSL2_UPSTREAM_BANDS, "attenuation"),
                defects=_defects("vdsl2", "modem", {"status": row.get("status_xtur", 0)})
                + _defects("vdsl2", "exchange", {"status": row.get("status_xtuc", 0)}),
            )
        )
    return result


def lines(ex: Extraction) -> list[DslLine]:
    """Every DSL line the modem reports: VDSL2-LINE-MIB where it answers, else ADSL-LINE-MIB.

    A VDSL2-LINE-MIB agent covers ADSL2/2+ lines too, and some modems also keep the old
    ADSL-LINE-MIB with zeros in it; the newer MIB wins for a line both describe.
    """
    vdsl2 = _vdsl2(ex)
    seen = {line.index for line in vdsl2}
    return vdsl2 + [line for line in _adsl(ex) if line.index not in seen]
