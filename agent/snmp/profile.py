"""Device profiles: which OIDs to read and under which names (data files), and extract() (pure).

A profile file (`profiles/*.toml`) lists scalars and tables by numeric OID, each with a
name, a value type (values.VALUE_TYPES) and optionally an enum that maps integers to
names. `report.py` gives the names their meaning (a `supplies` table with `level` and
`capacity` columns, a `serial` scalar...), so a vendor profile only says where a vendor
keeps the same facts. Profiles are validated on load; an error names the file and key.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Final, Literal

import msgspec

from agent.snmp.errors import ProfileError
from agent.snmp.values import VALUE_TYPES, Oid, Value, VarBind, decode, format_oid, parse_oid

# What a device is. A printer is recognized by the Printer-MIB itself; "firewall" and
# "wireless" come from a vendor profile that says so (`kind`) and whose objects answered.
Kind = Literal["printer", "network", "firewall", "wireless", "other"]

OidText = Annotated[str, msgspec.Meta(pattern=r"^\.?[0-9]+(\.[0-9]+)+$")]
Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z_][a-z0-9_]*$")]


class Column(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One scalar (full instance OID) or one table column (column OID, rows below it)."""

    oid: OidText
    name: Name
    type: str = "int"
    enum: str = ""
    # A regular expression with one group: the value is the group's text (e.g. a serial
    # printed inside sysDescr, "S/N: 12345"); no match is no value.
    pattern: str = ""

    @property
    def oid_tuple(self) -> Oid:
        return parse_oid(self.oid)


class Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Columns that share an index; `name` is what report.py knows the table as."""

    name: Name
    columns: list[Column]


class Match(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When a profile applies: any sysObjectID prefix matches (an empty list: every device)."""

    sys_object_id: list[OidText] = []


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One profile file."""

    name: Name
    description: str = ""
    vendor: str = ""
    match: Match = Match()
    # The device's kind when this profile matched and any of its objects answered (a
    # FortiGate is a firewall; a Ubiquiti device is a wireless AP only if the UniFi AP MIB answers).
    kind: Kind | None = None
    scalars: list[Column] = []
    tables: list[Table] = []
    enums: dict[Name, dict[str, str]] = {}

    def matches(self, sys_object_id: str | None) -> bool:
        """True if this profile applies to a device with this sysObjectID."""
        if not self.match.sys_object_id:
            return True
        if sys_object_id is None:
            return False
        oid = parse_oid(sys_object_id)
        return any(oid[: len(p)] == p for p in (parse_oid(m) for m in self.match.sys_object_id))


def load_profile(source: str, text: str) -> Profile:
    """Decode and validate one profile; `source` (a file name) is named in every error."""
    try:
        profile = msgspec.toml.decode(text.encode(), type=Profile)
    except msgspec.DecodeError as err:
        raise ProfileError(f"{source}: {err}") from None
    for where, column in _columns(profile):
        if column.type not in VALUE_TYPES:
            raise ProfileError(
                f"{source}: {where}.type: {column.type!r} is not one of {', '.join(VALUE_TYPES)}"
            )
        if column.enum and column.enum not in profile.enums:
            raise ProfileError(f"{source}: {where}.enum: no [enums.{column.enum}] in this file")
        if column.pattern:
            try:
                groups = re.compile(column.pattern).groups
            except re.error as err:
                raise ProfileError(f"{source}: {where}.pattern: {err}") from None
            if groups != 1:
                raise ProfileError(f"{source}: {where}.pattern: needs exactly one group, has {groups}")
    for enum_name, mapping in profile.enums.items():
        bad = [k for k in mapping if not k.lstrip("-").isdigit()]
        if bad:
            raise ProfileError(f"{source}: enums.{enum_name}: keys must be integers, got {bad[0]!r}")
    return profile


def _columns(profile: Profile) -> Iterable[tuple[str, Column]]:
    for i, scalar in enumerate(profile.scalars):
        yield f"scalars[{i}]", scalar
    for t, table in enumerate(profile.tables):
        for c, column in enumerate(table.columns):
            yield f"tables[{t}].columns[{c}]", column


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


@dataclass
class Extraction:
    """What the profiles read from one device: scalars by name, tables by name -> index -> row."""

    scalars: dict[str, Value] = field(default_factory=dict)
    tables: dict[str, dict[Oid, Row]] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)  # names of the profiles any object of which answered

    def table(self, name: str) -> list[tuple[Oid, Row]]:
        """Rows of a table in index order (empty if the device has none)."""
        return sorted(self.tables.get(name, {}).items())


def _value(profile: Profile, column: Column, vb: VarBind) -> Value | None:
    if vb.is_exception:
        return None
    value = decode(vb, column.type)
    if column.pattern:
        m = re.search(column.pattern, value) if isinstance(value, str) else None
        value = m.group(1).strip() or None if m else None
    if column.enum and isinstance(value, int):
        return profile.enums[column.enum].get(str(value), str(value))
    return value


def extract(
    profiles: Sequence[Profile], scalars: Mapping[Oid, VarBind], columns: Mapping[Oid, Sequence[VarBind]]
) -> Extraction:
    """Name and decode what was read; later profiles add to, and where they have a value override, earlier."""
    result = Extraction()
    for profile in profiles:
        for column in profile.scalars:
            vb = scalars.get(column.oid_tuple)
            value = _value(profile, column, vb) if vb is not None else None
            if value is not None and value != "":
                result.scalars[column.name] = value
                result.answered.add(profile.name)
        for table in profile.tables:
            rows = result.tables.setdefault(table.name, {})
            for column in table.columns:
                prefix = column.oid_tuple
                for vb in columns.get(prefix, ()):
                    value = _value(profile, column, vb)
                    if value is not None:
                        rows.setdefault(vb.oid[len(prefix) :], {})[column.name] = value
                        result.answered.add(profile.name)
    return result


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
    "Profile",
    "Table",
    "builtin_profiles",
    "extract",
    "format_oid",
    "load_profile",
]
