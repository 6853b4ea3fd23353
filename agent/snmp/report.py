"""The normalized view of one device (what `probe --json` prints), built from an Extraction (pure).

This is where the standard tables of profile.py get their RFC meaning: `supplies.level`
is prtMarkerSuppliesLevel with its RFC 3805 special values, `hr_printer.errors` is the
hrPrinterDetectedErrorState bit string, `interfaces.in_octets64` wins over the 32-bit one,
the entity row that describes the device is the chassis. DSL lines are xdsl.py's. What a
vendor profile adds is data: identity slots, columns joined to a standard table (carried
as `extra` fields and tags), figures for a standard supply, and samples of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

import msgspec

from agent.snmp.profile import Extraction, Kind, Row
from agent.snmp.values import Oid, Value, format_oid, parse_oid
from agent.snmp.xdsl import DslLine, lines

LevelState = Literal["known", "other", "unknown", "some_remaining"]

# RFC 3805 special values of prtMarkerSuppliesLevel / prtInputCurrentLevel / ...MaxCapacity.
_SPECIAL_LEVELS: Final[dict[int, LevelState]] = {-1: "other", -2: "unknown", -3: "some_remaining"}

# hrPrinterDetectedErrorState (RFC 2790 + RFC 3805 additions), bit 0 = MSB of the first octet.
ERROR_BITS: Final = (
    "low_paper",
    "no_paper",
    "low_toner",
    "no_toner",
    "door_open",
    "jammed",
    "offline",
    "service_requested",
    "input_tray_missing",
    "output_tray_missing",
    "marker_supply_missing",
    "output_near_full",
    "output_full",
    "input_tray_empty",
    "overdue_maintenance",
)

# prtInputStatus, PrtSubUnitStatusTC: the low three bits say how available the unit is.
_AVAILABILITY: Final = {
    0: "idle",
    2: "standby",
    4: "active",
    6: "busy",
    1: "on_request",
    3: "broken",
    5: "unknown",
}

_HR_DEVICE_PRINTER: Final = parse_oid("1.3.6.1.2.1.25.3.1.5")  # hrDevicePrinter
_HR_STORAGE_RAM: Final = parse_oid("1.3.6.1.2.1.25.2.1.2")  # hrStorageRam
_ENTERPRISES: Final = parse_oid("1.3.6.1.4.1")
# The columns of each standard table this module gives meaning to; a vendor profile's
# other columns in these tables travel as extra fields and tags of the table's samples.
_KNOWN_COLUMNS: Final = {
    "supplies": frozenset(
        {"colorant_index", "class", "kind", "description", "unit", "capacity", "level"}
    ),
    "trays": frozenset({"unit", "capacity", "level", "status", "media", "name", "description"}),
    "interfaces": frozenset(
        {
            "descr", "type", "speed", "mac", "admin_status", "oper_status", "in_octets32", "in_discards",
            "in_errors", "out_octets32", "out_discards", "out_errors", "name", "in_octets64",
            "out_octets64", "high_speed", "alias",
        }
    ),
}  # fmt: skip


class _Doc(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Identity(_Doc, frozen=True, kw_only=True):
    """Who the device is."""

    sys_descr: str | None = None
    sys_object_id: str | None = None
    sys_name: str | None = None
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    uptime_s: float | None = None


class Supply(_Doc, frozen=True, kw_only=True):
    """A marker supply (toner, drum, ink, waste container...); level and capacity are raw."""

    index: int
    description: str | None = None
    kind: str | None = None
    color: str | None = None
    unit: str | None = None
    supply_class: str | None = None  # "consumed" or "filled" (a waste container fills up)
    level: int | None = None
    capacity: int | None = None
    level_percent: float | None = None
    level_state: LevelState = "unknown"
    percent_from_vendor: bool = False  # level_percent is the vendor MIB's, the standard one had none
    extra: dict[str, int | float] = {}  # numeric columns a vendor profile added to this row
    extra_tags: dict[str, str] = {}


class Tray(_Doc, frozen=True, kw_only=True):
    """A paper input tray."""

    index: int
    name: str | None = None
    media: str | None = None
    unit: str | None = None
    capacity: int | None = None
    level: int | None = None
    level_percent: float | None = None
    level_state: LevelState = "unknown"
    status: str | None = None
    alert: Literal["none", "non_critical", "critical"] = "none"
    offline: bool = False
    extra: dict[str, int | float] = {}
    extra_tags: dict[str, str] = {}


class Cover(_Doc, frozen=True, kw_only=True):
    """A cover or door and whether it is open."""

    index: int
    description: str | None = None
    status: str | None = None


class Alert(_Doc, frozen=True, kw_only=True):
    """An active entry of prtAlertTable."""

    index: int
    severity: str | None = None
    training_level: str | None = None  # who can clear it; "noInterventionRequired" for mere events
    group: str | None = None
    group_index: int | None = None
    location: int | None = None
    code: str | None = None
    description: str | None = None
    raised_at_uptime_s: float | None = None  # sysUpTime when the printer added the alert


class Interface(_Doc, frozen=True, kw_only=True):
    """One IF-MIB interface; octets are the 64-bit counters when the device has them."""

    index: int
    name: str | None = None
    descr: str | None = None
    alias: str | None = None
    type: str | None = None
    admin_status: str | None = None
    oper_status: str | None = None
    speed_bps: int | None = None
    mac: str | None = None
    in_octets: int | None = None
    out_octets: int | None = None
    in_errors: int | None = None
    out_errors: int | None = None
    in_discards: int | None = None
    out_discards: int | None = None
    counter_bits: int = 64
    extra: dict[str, int | float] = {}
    extra_tags: dict[str, str] = {}


class Measurement(_Doc, frozen=True, kw_only=True):
    """A sample a profile declared (vendor counters, DOCSIS channels...): sent as it is."""

    measurement: str
    tags: dict[str, str] = {}
    fields: dict[str, int | float] = {}
    sources: dict[str, str] = {}  # field -> the OID instance it was read from


class Resources(_Doc, frozen=True, kw_only=True):
    """CPU and memory from HOST-RESOURCES-MIB."""

    cpu_percent: float | None = None
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None


class DeviceReport(_Doc, frozen=True, kw_only=True):
    """Everything known about one device after one poll: the `probe --json` document."""

    address: str
    reachable: bool
    kind: Kind = "other"
    device: str = ""  # the device key: serial, else MAC of the first interface, else address
    identity: Identity = Identity()
    supplies: list[Supply] = []
    trays: list[Tray] = []
    covers: list[Cover] = []
    alerts: list[Alert] = []
    errors: list[str] = []
    status: str = "unknown"
    counters: dict[str, int | None] = {}
    interfaces: list[Interface] = []
    dsl: list[DslLine] = []
    measurements: list[Measurement] = []
    resources: Resources | None = None
    profiles: list[str] = []
    poll_seconds: float | None = None
    reason: str = ""  # why the device is unreachable


def _int(row: Mapping[str, Value], key: str) -> int | None:
    v = row.get(key)
    return v if isinstance(v, int) else None


def _str(row: Mapping[str, Value], key: str) -> str | None:
    v = row.get(key)
    return v if isinstance(v, str) and v else None


def _extras(ex: Extraction, table: str, row: Row) -> tuple[dict[str, int | float], dict[str, str]]:
    """The columns a vendor profile added to a standard table's row: numbers as fields, as_tag as tags."""
    declared = ex.extra_columns.get(table)
    if not declared:
        return {}, {}
    known = _KNOWN_COLUMNS.get(table, frozenset())
    fields: dict[str, int | float] = {}
    tags: dict[str, str] = {}
    for name, as_tag in declared.items():
        value = row.get(name)
        if name in known or value is None:
            continue
        if as_tag:
            tags[name] = str(value)
        elif isinstance(value, int | float):
            fields[name] = value
    return fields, tags


def level_percent(level: int | None, capacity: int | None) -> tuple[float | None, LevelState]:
    """Percent remaining (or filled) and what the raw level says; special values are states."""
    if level is None:
        return None, "unknown"
    if level < 0:
        return None, _SPECIAL_LEVELS.get(level, "unknown")
    if capacity is None or capacity <= 0:
        return None, "known"  # a number of units, but of an unknown whole
    return round(min(level / capacity, 1.0) * 100, 1), "known"


def _last(index: Oid) -> int:
    return index[-1] if index else 0


_COLORS: Final = (
    "black",
    "cyan",
    "magenta",
    "yellow",
    "light cyan",
    "light magenta",
    "photo black",
    "matte black",
    "gray",
    "grey",
    "red",
    "green",
    "blue",
)


def _color(row: Row, colorants: Mapping[int, str], description: str | None) -> str | None:
    colorant = _int(row, "colorant_index")
    if colorant and colorant in colorants:
        return colorants[colorant].lower()
    # Many printers leave the colorant index 0; the description still says "Cyan Toner".
    text = (description or "").lower()
    for color in sorted(_COLORS, key=len, reverse=True):
        if re.search(rf"\b{color}\b", text):
            return "gray" if color == "grey" else color
    return None


def _supplies(ex: Extraction) -> list[Supply]:
    colorants = {_last(i): v for i, row in ex.table("colorants") if (v := _str(row, "value"))}
    result = []
    for index, row in ex.table("supplies"):
        level, capacity = _int(row, "level"), _int(row, "capacity")
        if level is None and capacity is None and "description" not in row:
            continue
        percent, state = level_percent(level, capacity)
        description = _str(row, "description")
        kind, color = _str(row, "kind"), _color(row, colorants, description)
        from_vendor = False
        if percent is None:
            # RFC 3805 gave no percentage (-3 "some left", unknown capacity): a vendor's
            # own figure for a supply of this kind and colour is the better answer.
            figure = _supply_figure(ex, kind, color)
            if figure is not None:
                percent, from_vendor = round(min(max(figure, 0.0), 100.0), 1), True
        extra, extra_tags = _extras(ex, "supplies", row)
        result.append(
            Supply(
                index=_last(index),
                description=description,
                kind=kind,
                color=color,
                unit=_str(row, "unit"),
                supply_class=_str(row, "class"),
                level=level,
                capacity=capacity,
                level_percent=percent,
                level_state=state,
                percent_from_vendor=from_vendor,
                extra=extra,
                extra_tags=extra_tags,
            )
        )
    return result


# prtMarkerSuppliesType values that a vendor's "toner" figure also describes.
_SUPPLY_KINDS: Final = {"toner": ("toner", "tonerCartridge"), "ink": ("ink", "inkCartridge"), "opc": ("opc",)}


def _supply_figure(ex: Extraction, kind: str | None, color: str | None) -> float | None:
    for figure in ex.supply_figures:
        if kind in _SUPPLY_KINDS.get(figure.kind, (figure.kind,)) and (
            not figure.color or figure.color == color
        ):
            return float(figure.value)
    return None


def _trays(ex: Extraction) -> list[Tray]:
    result = []
    for index, row in ex.table("trays"):
        level, capacity = _int(row, "level"), _int(row, "capacity")
        percent, state = level_percent(level, capacity)
        status = _int(row, "status")
        alert: Literal["none", "non_critical", "critical"] = "none"
        if status is not None and status & 16:
            alert = "critical"
        elif status is not None and status & 8:
            alert = "non_critical"
        extra, extra_tags = _extras(ex, "trays", row)
        result.append(
            Tray(
                index=_last(index),
                name=_str(row, "name") or _str(row, "description"),
                media=_str(row, "media"),
                unit=_str(row, "unit"),
                capacity=capacity,
                level=level,
                level_percent=percent,
                level_state=state,
                status=_AVAILABILITY.get(status & 7) if status is not None and status >= 0 else None,
                alert=alert,
                offline=bool(status is not None and status >= 0 and status & 32),
                extra=extra,
                extra_tags=extra_tags,
            )
        )
    return result


def _counters(ex: Extraction) -> dict[str, int | None]:
    markers = ex.table("markers")
    first = markers[0][1] if markers else {}
    return {
        "pages_total": _int(first, "life_count"),  # prtMarkerLifeCount of the first marker
        "pages_since_power_on": _int(first, "power_on_count"),
    }


def _interfaces(ex: Extraction) -> list[Interface]:
    result = []
    for index, row in ex.table("interfaces"):
        high = _int(row, "high_speed")
        speed = _int(row, "speed")
        in64, out64 = _int(row, "in_octets64"), _int(row, "out_octets64")
        use64 = in64 is not None or out64 is not None
        extra, extra_tags = _extras(ex, "interfaces", row)
        result.append(
            Interface(
                index=_last(index),
                name=_str(row, "name") or _str(row, "descr"),
                descr=_str(row, "descr"),
                alias=_str(row, "alias"),
                type=_str(row, "type"),
                admin_status=_str(row, "admin_status"),
                oper_status=_str(row, "oper_status"),
                # ifSpeed saturates at 4294967295; ifHighSpeed (Mbit/s) is the real figure then.
                speed_bps=high * 1_000_000 if high else speed,
                mac=_str(row, "mac"),
                in_octets=in64 if use64 else _int(row, "in_octets32"),
                out_octets=out64 if use64 else _int(row, "out_octets32"),
                in_errors=_int(row, "in_errors"),
                out_errors=_int(row, "out_errors"),
                in_discards=_int(row, "in_discards"),
                out_discards=_int(row, "out_discards"),
                counter_bits=64 if use64 else 32,
                extra=extra,
                extra_tags=extra_tags,
            )
        )
    return result


def _resources(ex: Extraction) -> Resources | None:
    loads = [v for _, row in ex.table("processors") if (v := _int(row, "load")) is not None]
    total: int | None = None
    used: int | None = None
    for _, row in ex.table("storage"):
        if row.get("type") == format_oid(_HR_STORAGE_RAM):
            unit, size, use = _int(row, "unit"), _int(row, "size"), _int(row, "used")
            if unit and size is not None and use is not None:
                total = (total or 0) + unit * size
                used = (used or 0) + unit * use
    if not loads and total is None:
        return None
    return Resources(
        cpu_percent=round(sum(loads) / len(loads), 1) if loads else None,
        memory_total_bytes=total,
        memory_used_bytes=used,
    )


def _errors(ex: Extraction) -> list[str]:
    bits = 0
    for _, row in ex.table("hr_printer"):
        value = _int(row, "errors")
        bits |= value or 0
    return [name for n, name in enumerate(ERROR_BITS) if bits & (1 << n)]


def _vendor(ex: Extraction, vendor_names: Mapping[int, str], profile_vendor: str | None) -> str | None:
    manufacturer = _str(ex.scalars, "manufacturer")  # a rebadged device's own brand (UTAX, Savin...)
    if manufacturer or profile_vendor:
        return manufacturer or profile_vendor
    oid = ex.scalars.get("sys_object_id")
    if isinstance(oid, str):
        parts = parse_oid(oid)
        if parts[: len(_ENTERPRISES)] == _ENTERPRISES and len(parts) > len(_ENTERPRISES):
            return vendor_names.get(parts[len(_ENTERPRISES)])
    return None


def _chassis(ex: Extraction) -> Row:
    """The ENTITY-MIB row that is the device itself (RFC 6933): the chassis, else the one top row.

    Other rows are its parts (modules, ports, a USB controller with a serial of its own),
    whose serial must never become the device's.
    """
    rows = ex.table("entity")
    for wanted in ("chassis", "stack"):
        for _, row in rows:
            if row.get("class") == wanted:
                return row
    tops = [row for _, row in rows if row.get("contained_in") == 0]
    if len(tops) == 1:
        return tops[0]
    return rows[0][1] if len(rows) == 1 else {}


# Serials printers and routers report when they have none: "XXXXXXXX", "0000", "Unknown".
_NO_SERIAL: Final = re.compile(
    r"^(x+|0+|-+|\?+|n/?a|none|unknown|not available|serial ?number)$", re.IGNORECASE
)


def _serial(*candidates: str | None) -> str | None:
    for candidate in candidates:
        if candidate and not _NO_SERIAL.match(candidate.strip()):
            return candidate.strip()
    return None


def _model(ex: Extraction, chassis: Row) -> str | None:
    model = ex.scalars.get("model")
    if isinstance(model, str) and model:
        return model
    for _, row in ex.table("hr_device"):
        if row.get("type") == format_oid(_HR_DEVICE_PRINTER) and (descr := _str(row, "descr")):
            return descr
    return _str(chassis, "model")


def device_key(report: DeviceReport) -> str:
    """Serial if known, else the MAC of the first interface that has one, else the address."""
    if report.identity.serial:
        return report.identity.serial
    for interface in sorted(report.interfaces, key=lambda i: i.index):
        if interface.mac:
            return interface.mac
    return report.address


def build_report(
    address: str,
    ex: Extraction,
    *,
    profiles: list[str],
    vendor_names: Mapping[int, str],
    profile_vendor: str | None = None,
    profile_kind: Kind | None = None,
    poll_seconds: float | None = None,
) -> DeviceReport:
    """Normalize what the profiles extracted from one reachable device.

    `profile_kind` is what a vendor profile that answered says the device is (firewall,
    wireless); a Printer-MIB that answers makes a printer whatever the profile says.
    """
    supplies, trays = _supplies(ex), _trays(ex)
    interfaces = _interfaces(ex)
    hr_printer = ex.table("hr_printer")
    is_printer = bool(supplies or trays or ex.table("general") or hr_printer or ex.table("markers"))
    kind: Kind = "printer" if is_printer else profile_kind or ("network" if interfaces else "other")
    chassis = _chassis(ex)
    # prtGeneralSerialNumber is the serial on the printer's label; a vendor MIB's serial
    # comes next (Kyocera has only that), then the ENTITY-MIB chassis (routers, firewalls).
    serial = _serial(
        *(_str(row, "serial") for _, row in ex.table("general")),
        _str(ex.scalars, "serial"),
        _str(chassis, "serial"),
    )
    uptime = ex.scalars.get("sys_uptime")
    identity = Identity(
        sys_descr=_str(ex.scalars, "sys_descr"),
        sys_object_id=_str(ex.scalars, "sys_object_id"),
        sys_name=_str(ex.scalars, "sys_name"),
        vendor=_vendor(ex, vendor_names, profile_vendor),
        model=_model(ex, chassis),
        serial=serial,
        # the running software before the boot code: a switch's entPhysicalFirmwareRev is its
        # boot ROM, entPhysicalSoftwareRev the release the helpdesk compares with advisories
        firmware=_str(ex.scalars, "firmware") or _str(chassis, "software") or _str(chassis, "firmware"),
        uptime_s=uptime / 100 if isinstance(uptime, int) else None,  # sysUpTime is in hundredths of a second
    )
    status = _str(hr_printer[0][1], "status") if hr_printer else None
    report = DeviceReport(
        address=address,
        reachable=True,
        kind=kind,
        identity=identity,
        supplies=supplies,
        trays=trays,
        covers=[
            Cover(index=_last(i), description=_str(r, "description"), status=_str(r, "status"))
            for i, r in ex.table("covers")
        ],
        alerts=[
            Alert(
                index=_last(i),
                severity=_str(r, "severity"),
                training_level=_str(r, "training_level"),
                group=_str(r, "group"),
                group_index=_int(r, "group_index"),
                location=_int(r, "location"),
                code=_str(r, "code"),
                description=_str(r, "description"),
                raised_at_uptime_s=time / 100 if (time := _int(r, "time")) is not None else None,
            )
            for i, r in ex.table("alerts")
        ],
        errors=_errors(ex) if is_printer else [],
        status=status if status in ("idle", "printing", "warmup", "other") else "unknown",
        counters=_counters(ex) if is_printer else {},
        interfaces=interfaces,
        dsl=lines(ex),
        measurements=[
            Measurement(measurement=m.measurement, tags=dict(m.tags), fields=m.fields, sources=m.sources)
            for m in ex.measured
        ],
        resources=_resources(ex),
        profiles=profiles,
        poll_seconds=poll_seconds,
    )
    return msgspec.structs.replace(report, device=device_key(report))


def unreachable_report(
    address: str, reason: str, device: str = "", poll_seconds: float | None = None
) -> DeviceReport:
    """The report of a device that did not answer; `device` is its key from an earlier poll, if any."""
    return DeviceReport(
        address=address, reachable=False, device=device or address, reason=reason, poll_seconds=poll_seconds
    )
