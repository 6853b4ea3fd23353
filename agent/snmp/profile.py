"""Device profiles: what to read, what it means and what to send (data files), and extract() (pure).

A profile file (`profiles/*.toml`) lists scalars and tables by numeric OID. Each value has
a `name` and a `type`, one of the named transforms of values.py (`int`, `text`,
`prt_level` for Printer-MIB special levels, `bits` for error bitmaps, `date_and_time`,
`hex_text`, `label`, `brother_record`...), optionally an `enum`, a `pattern`, a `scale`
and a `unit`. What a value becomes is said in the file too:

- a scalar named after an identity slot (`serial`, `model`, `firmware`, `manufacturer`,
  IDENTITY) says who the device is;
- a table named after a standard table (STANDARD_TABLES: `supplies`, `interfaces`...)
  adds columns to the rows report.py reads with RFC semantics, joined by OID index;
  columns report.py does not know travel as extra fields (or tags, `as_tag`) of that
  table's samples;
- a table or scalar with a `measurement` is sent as it is: each row one sample, numeric
  columns its fields, `as_tag` columns, `index_tags` (the OID index) and `tags` its tags;
- a scalar with `supply = { kind, color }` is a vendor's figure (`level_percent`) for the
  standard supply of that kind and colour (Brother's real toner percentage where the
  Printer-MIB says only "some left").

So a vendor add-on is one TOML file and no Python. Profiles are validated on load; an
error is one line naming the file and the key.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Final, Literal

import msgspec

from agent.snmp.errors import ProfileError
from agent.snmp.values import (
    KEYED_TYPES,
    NUMERIC_TYPES,
    VALUE_TYPES,
    Oid,
    Value,
    VarBind,
    decode,
    format_oid,
    parse_oid,
)

# What a device is. A printer is recognized by the Printer-MIB itself; "firewall" and
# "wireless" come from a vendor profile that says so (`kind`) and whose objects answered.
Kind = Literal["printer", "network", "firewall", "wireless", "other"]
# Which devices a profile is written for, for the coverage table in docs/snmp.md.
Family = Literal["any", "printer", "network", "modem"]

OidText = Annotated[str, msgspec.Meta(pattern=r"^\.?[0-9]+(\.[0-9]+)+\Z")]
# Names become measurement, field and tag names on the wire (agent/protocol.py: at most 64).
Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z_][a-z0-9_]*\Z", max_length=64)]
TagName = Annotated[str, msgspec.Meta(pattern=r"^([a-z_][a-z0-9_]*)?\Z", max_length=64)]

# Scalars that name who the device is; report.py builds Identity from them.
IDENTITY: Final = frozenset(
    {"sys_descr", "sys_object_id", "sys_uptime", "sys_name", "serial", "model", "firmware", "manufacturer"}
)
# Identity slots whose value is a name or number printed on a label: a control character
# or line break in one says the record is damaged (HP's model-name folded in two by the
# recording of an M130nw), and such a value does not replace a clean one read before it.
_LABELS: Final = frozenset({"serial", "model", "firmware", "manufacturer"})
_DAMAGED: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Tables report.py gives RFC meaning to; a profile may add columns to them but not send them itself.
STANDARD_TABLES: Final = frozenset(
    {
        "general",
        "supplies",
        "colorants",
        "trays",
        "covers",
        "alerts",
        "markers",
        "hr_printer",
        "hr_device",
        "entity",
        "interfaces",
        "processors",
        "storage",
        "adsl_line",
        "adsl_atuc",
        "adsl_atur",
        "adsl_atuc_channel",
        "adsl_atur_channel",
        "vdsl2_line",
        "vdsl2_band",
        "vdsl2_channel",
    }
)
# Tag names every sample already has; a profile may not set them.
RESERVED_TAGS: Final = frozenset({"device", "agent_id", "site"})


class SupplyRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which standard supply a vendor figure belongs to: prtMarkerSuppliesType and colour."""

    kind: str
    color: str = ""


class Column(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One scalar (full instance OID) or one table column (column OID, rows below it)."""

    oid: OidText
    name: Name
    type: str = "int"
    enum: str = ""
    # A regular expression with one group: the value is the group's text (e.g. a serial
    # printed inside sysDescr, "S/N: 12345"); no match is no value.
    pattern: str = ""
    key: str = ""  # the record a keyed type (brother_record) picks, e.g. "6f"
    scale: float = 1.0  # a number is multiplied by it: 0.1 for tenths of a dB
    unit: str = ""  # what the number counts, for the coverage table
    as_tag: bool = False  # in a table: the value is a tag of the row's sample, not a field
    # Scalars only: send the value as field `name` of a sample of `measurement` with `tags`...
    measurement: Name | Literal[""] = ""
    tags: dict[Name, str] = {}
    # ...or give it to the standard supply of this kind and colour (name = level_percent).
    supply: SupplyRef | None = None

    @property
    def oid_tuple(self) -> Oid:
        return parse_oid(self.oid)


class Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Columns that share an index; a standard `name`, or a `measurement` of its own."""

    name: Name
    columns: list[Column]
    measurement: Name | Literal[""] = ""
    # Tag names for the components of the OID index, from the left; "" skips one, the
    # last name takes whatever components remain (joined with dots).
    index_tags: list[TagName] = []
    tags: dict[Name, str] = {}


class Match(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When a profile applies: any sysObjectID prefix matches, and sysDescr matches `sys_descr` if given.

    `sys_descr` is for devices that hide behind a generic sysObjectID (a Teltonika RUT2xx
    says it is Net-SNMP on Linux); a regular expression searched in sysDescr.
    """

    sys_object_id: list[OidText] = []
    sys_descr: str = ""

    def applies(self, sys_object_id: Oid | None, sys_descr: str | None) -> bool:
        """True if a device with this sysObjectID and sysDescr is one this match is for."""
        if self.sys_object_id and (
            sys_object_id is None
            or not any(sys_object_id[: len(p)] == p for p in map(parse_oid, self.sys_object_id))
        ):
            return False
        return not self.sys_descr or bool(re.search(self.sys_descr, sys_descr or ""))


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One profile file."""

    name: Name
    description: str = ""
    vendor: str = ""
    family: Family = "any"
    # Any of these matches (a table, or a list of tables for devices known by several signs).
    match: Match | list[Match] = Match()
    # The device's kind when this profile matched and any of its objects answered (a
    # FortiGate is a firewall; a Ubiquiti device is a wireless AP only if the UniFi AP MIB answers).
    kind: Kind | None = None
    scalars: list[Column] = []
    tables: list[Table] = []
    enums: dict[Name, dict[str, str]] = {}

    @property
    def matches_any(self) -> list[Match]:
        """The match alternatives as a list."""
        return self.match if isinstance(self.match, list) else [self.match]

    @property
    def generic(self) -> bool:
        """True for a profile that applies to every device (no match given)."""
        return all(not m.sys_object_id and not m.sys_descr for m in self.matches_any)

    def matches(self, sys_object_id: str | None, sys_descr: str | None = None) -> bool:
        """True if this profile applies to a device with this sysObjectID (and sysDescr)."""
        if self.generic:
            return True
        oid = parse_oid(sys_object_id) if sys_object_id else None
        return any(m.applies(oid, sys_descr) for m in self.matches_any)


def load_profile(source: str, text: str) -> Profile:
    """Decode and validate one profile; `source` (a file name) is named in every error."""
    try:
        profile = msgspec.toml.decode(text.encode(), type=Profile)
    except msgspec.DecodeError as err:
        raise ProfileError(f"{source}: {err}") from None
    problem = _problem(profile)
    if problem:
        raise ProfileError(f"{source}: {problem}")
    return profile


def _problem(profile: Profile) -> str | None:
    """The first thing wrong with a decoded profile, as `key: what`, or None."""
    for i, match in enumerate(profile.matches_any):
        try:
            re.compile(match.sys_descr)
        except re.error as err:
            return (
                f"match[{i}].sys_descr: {err}"
                if isinstance(profile.match, list)
                else f"match.sys_descr: {err}"
            )
    for enum_name, mapping in profile.enums.items():
        bad = [k for k in mapping if not k.lstrip("-").isdigit()]
        if bad:
            return f"enums.{enum_name}: keys must be integers, got {bad[0]!r}"
    for i, scalar in enumerate(profile.scalars):
        where = f"scalars[{i}]"
        problem = _column_problem(profile, where, scalar) or _scalar_problem(where, scalar)
        if problem:
            return problem
    for t, table in enumerate(profile.tables):
        problem = _table_problem(profile, f"tables[{t}]", table)
        if problem:
            return problem
    return None


def _column_problem(profile: Profile, where: str, column: Column) -> str | None:
    if column.type not in VALUE_TYPES:
        return f"{where}.type: {column.type!r} is not one of {', '.join(VALUE_TYPES)}"
    if column.enum and column.enum not in profile.enums:
        return f"{where}.enum: no [enums.{column.enum}] in this file"
    if column.pattern:
        try:
            groups = re.compile(column.pattern).groups
        except re.error as err:
            return f"{where}.pattern: {err}"
        if groups != 1:
            return f"{where}.pattern: needs exactly one group, has {groups}"
    if (column.type in KEYED_TYPES) != bool(column.key):
        return f"{where}.key: a key goes with (and only with) the types {', '.join(KEYED_TYPES)}"
    if column.scale == 0:
        return f"{where}.scale: must not be 0"
    return None


def _scalar_problem(where: str, scalar: Column) -> str | None:
    if scalar.as_tag:
        return f"{where}.as_tag: only table columns are tags"
    if scalar.supply is not None:
        if scalar.measurement:
            return f"{where}.supply: a scalar is either a supply's figure or a measurement's field"
        if scalar.name != "level_percent":
            return f"{where}.name: a scalar with `supply` is that supply's level_percent"
        if scalar.type not in NUMERIC_TYPES:
            return f"{where}.type: a supply figure is a number, not {scalar.type!r}"
        return None
    if scalar.measurement:
        if scalar.type not in NUMERIC_TYPES:
            return f"{where}.type: a field is a number, not {scalar.type!r}; text goes in tags"
        return _tags_problem(f"{where}.tags", scalar.tags)
    if scalar.tags:
        return f"{where}.tags: tags need a measurement"
    if scalar.name not in IDENTITY:
        return (
            f"{where}.name: {scalar.name!r} is not an identity slot ({', '.join(sorted(IDENTITY))}); "
            "give it a measurement or a supply"
        )
    return None


def _table_problem(profile: Profile, where: str, table: Table) -> str | None:
    standard = table.name in STANDARD_TABLES
    if table.measurement and standard:
        return f"{where}.measurement: {table.name!r} is a standard table that report.py sends"
    if not table.measurement and not standard:
        return (
            f"{where}.name: {table.name!r} is not a standard table ({', '.join(sorted(STANDARD_TABLES))}); "
            "give it a measurement"
        )
    if (table.index_tags or table.tags) and not table.measurement:
        return f"{where}.index_tags: index tags and tags need a measurement"
    problem = _tags_problem(f"{where}.tags", table.tags) or _tags_problem(
        f"{where}.index_tags", dict.fromkeys(t for t in table.index_tags if t)
    )
    if problem:
        return problem
    for c, column in enumerate(table.columns):
        cwhere = f"{where}.columns[{c}]"
        problem = _column_problem(profile, cwhere, column)
        if problem:
            return problem
        if column.measurement or column.tags or column.supply:
            return f"{cwhere}: measurement, tags and supply are for scalars; a table says them once"
        if column.as_tag and column.name in RESERVED_TAGS:
            return f"{cwhere}.name: {column.name!r} is a tag every sample already has"
        if table.measurement and not column.as_tag and column.type not in NUMERIC_TYPES:
            return f"{cwhere}.type: a field is a number, not {column.type!r}; set as_tag for text"
    if table.measurement and all(c.as_tag for c in table.columns):
        return f"{where}.columns: a sample needs at least one numeric column"
    return None


def _tags_problem(where: str, tags: Mapping[str, object]) -> str | None:
    reserved = sorted(RESERVED_TAGS & set(tags))
    return f"{where}: {reserved[0]!r} is a tag every sample already has" if reserved else None


BUILTIN: Final = ("system", "if_mib", "host_resources", "printer_mib", "dsl", "docsis")


_ENTERPRISES: Final = "enterprises"


def _shipped() -> dict[str, Profile]:
    folder = importlib.resources.files("agent.snmp") / "profiles"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)
    return {
        f.name.removesuffix(".toml"): load_profile(f"profiles/{f.name}", f.read_text("utf-8")) for f in files
    }


def builtin_profiles() -> list[Profile]:
    """Every profile shipped in agent/snmp/profiles, generic ones first, then vendor add-ons."""
    by_name = _shipped()
    by_name.pop(_ENTERPRISES, None)
    generic = [by_name.pop(n) for n in BUILTIN if n in by_name]
    return generic + list(by_name.values())


def enterprise_names() -> dict[int, str]:
    """Vendor names by IANA enterprise number, from profiles/enterprises.toml."""
    table = _shipped()[_ENTERPRISES].enums.get("vendor", {})
    return {int(k): v for k, v in table.items()}


Row = dict[str, Value]


@dataclass(frozen=True, slots=True)
class Measured:
    """One sample a profile declared: its measurement, its tags (without `device`) and numeric fields."""

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: dict[str, int | float]
    sources: dict[str, str]  # field -> the OID instance it was read from, for `probe` and tests


@dataclass(frozen=True, slots=True)
class SupplyFigure:
    """A vendor's figure for the standard supply of this kind and colour."""

    kind: str
    color: str
    name: str
    value: int | float


@dataclass
class Extraction:
    """What the profiles read from one device.

    `scalars` by name, standard `tables` by name -> index -> row, the samples profiles
    declared (`measured`), vendor figures for standard supplies, and which profiles any
    object of which answered.
    """

    scalars: dict[str, Value] = field(default_factory=dict)
    tables: dict[str, dict[Oid, Row]] = field(default_factory=dict)
    measured: list[Measured] = field(default_factory=list)
    supply_figures: list[SupplyFigure] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    # Columns a profile added to a standard table: table -> column name -> as_tag.
    extra_columns: dict[str, dict[str, bool]] = field(default_factory=dict)

    def table(self, name: str) -> list[tuple[Oid, Row]]:
        """Rows of a table in index order (empty if the device has none)."""
        return sorted(self.tables.get(name, {}).items())


def _value(profile: Profile, column: Column, vb: VarBind) -> Value | None:
    if vb.is_exception:
        return None
    value = decode(vb, column.type, column.key)
    if value is None:
        return None
    if column.pattern:
        m = re.search(column.pattern, value) if isinstance(value, str) else None
        return m.group(1).strip() or None if m else None
    if column.enum and isinstance(value, int):
        return profile.enums[column.enum].get(str(value), str(value))
    if column.scale != 1 and isinstance(value, int | float):
        scaled = value * column.scale
        return round(scaled, 6) if isinstance(scaled, float) else scaled
    return value


def _index_tags(names: Sequence[str], index: Oid) -> list[tuple[str, str]]:
    tags = []
    for i, name in enumerate(names):
        if i >= len(index):
            break
        part = index[i:] if i == len(names) - 1 else index[i : i + 1]
        if name:
            tags.append((name, format_oid(part)))
    return tags


def _emit_table(profile: Profile, table: Table, columns: Mapping[Oid, Sequence[VarBind]]) -> list[Measured]:
    rows: dict[Oid, tuple[dict[str, str], dict[str, int | float], dict[str, str]]] = {}
    for column in table.columns:
        prefix = column.oid_tuple
        for vb in columns.get(prefix, ()):
            value = _value(profile, column, vb)
            if value is None:
                continue
            tags, fields, sources = rows.setdefault(vb.oid[len(prefix) :], ({}, {}, {}))
            if column.as_tag:
                tags[column.name] = str(value)
            elif isinstance(value, int | float):
                fields[column.name] = value
                sources[column.name] = format_oid(vb.oid)
    out: list[Measured] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for index, (tags, fields, sources) in sorted(rows.items()):
        if not fields:
            continue
        all_tags = tuple(sorted({**table.tags, **dict(_index_tags(table.index_tags, index)), **tags}.items()))
        if all_tags in seen:  # two rows the declared tags do not tell apart: the index does
            all_tags = tuple(sorted((*all_tags, ("index", format_oid(index)))))
        seen.add(all_tags)
        out.append(Measured(table.measurement, all_tags, fields, sources))
    return out


def extract(
    profiles: Sequence[Profile], scalars: Mapping[Oid, VarBind], columns: Mapping[Oid, Sequence[VarBind]]
) -> Extraction:
    """Name and decode what was read; later profiles add to, and where they have a value override, earlier.

    Identity slots follow the same rule (the last present wins) except that a damaged value,
    one with a control character or line break, never replaces a clean one.
    """
    result = Extraction()
    for profile in profiles:
        for column in profile.scalars:
            vb = scalars.get(column.oid_tuple)
            value = _value(profile, column, vb) if vb is not None else None
            if value is None or value == "":
                continue
            result.answered.add(profile.name)
            if column.supply is not None and isinstance(value, int | float):
                result.supply_figures.append(
                    SupplyFigure(column.supply.kind, column.supply.color, column.name, value)
                )
            elif column.measurement and isinstance(value, int | float):
                tags = tuple(sorted(column.tags.items()))
                measured = Measured(
                    column.measurement,
                    tags,
                    {column.name: value},
                    {column.name: format_oid(column.oid_tuple)},
                )
                result.measured.append(measured)
            elif not column.measurement:
                if _damaged_over_clean(column.name, value, result.scalars.get(column.name)):
                    continue
                result.scalars[column.name] = value
        for table in profile.tables:
            if table.measurement:
                emitted = _emit_table(profile, table, columns)
                if emitted:
                    result.answered.add(profile.name)
                result.measured += emitted
                continue
            rows = result.tables.setdefault(table.name, {})
            for column in table.columns:
                if profile.name not in BUILTIN:
                    result.extra_columns.setdefault(table.name, {})[column.name] = column.as_tag
                prefix = column.oid_tuple
                for vb in columns.get(prefix, ()):
                    value = _value(profile, column, vb)
                    if value is not None:
                        rows.setdefault(vb.oid[len(prefix) :], {})[column.name] = value
                        result.answered.add(profile.name)
    result.measured = _merged(result.measured)
    return result


def _damaged_over_clean(name: str, value: Value, earlier: Value | None) -> bool:
    """A later identity value holding a control character or line break, where an earlier one is clean."""
    if name not in _LABELS or not isinstance(value, str) or not _DAMAGED.search(value):
        return False
    return isinstance(earlier, str) and bool(earlier) and not _DAMAGED.search(earlier)


def _merged(measured: list[Measured]) -> list[Measured]:
    """One sample per measurement and tags: scalars declared one by one become fields of one sample."""
    by_key: dict[tuple[str, tuple[tuple[str, str], ...]], Measured] = {}
    for m in measured:
        key = (m.measurement, m.tags)
        if key in by_key:
            first = by_key[key]
            by_key[key] = Measured(
                m.measurement, m.tags, {**first.fields, **m.fields}, {**first.sources, **m.sources}
            )
        else:
            by_key[key] = m
    return list(by_key.values())


def scalar_oids(profiles: Iterable[Profile]) -> list[Oid]:
    """Every scalar OID the profiles read, once."""
    return list(dict.fromkeys(c.oid_tuple for p in profiles for c in p.scalars))


def column_oids(profiles: Iterable[Profile]) -> list[Oid]:
    """Every table column OID the profiles read, once."""
    return list(dict.fromkeys(c.oid_tuple for p in profiles for t in p.tables for c in t.columns))


__all__ = [
    "Column",
    "Extraction",
    "Kind",
    "Measured",
    "Profile",
    "SupplyFigure",
    "Table",
    "builtin_profiles",
    "extract",
    "format_oid",
    "load_profile",
]
