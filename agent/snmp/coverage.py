"""What the shipped profiles read, per vendor and device family, as the Markdown table of docs/snmp.md.

`python -m agent.snmp.coverage` prints the table; `--write docs/snmp.md` replaces the
table between the file's coverage markers. The table is built from the profile files
alone (pure), so it can never claim more than the profiles read; a test fails when the
file and the profiles disagree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from agent.snmp.profile import BUILTIN, IDENTITY, STANDARD_TABLES, Profile, builtin_profiles

START: Final = "<!-- coverage:start (python -m agent.snmp.coverage --write docs/snmp.md) -->"
END: Final = "<!-- coverage:end -->"

_IDENTITY_ORDER: Final = ("serial", "model", "firmware", "manufacturer")
_FAMILY_ORDER: Final = {"any": 0, "printer": 1, "network": 2, "modem": 3}


def _join(items: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(items)) or "–"


def _matches(profile: Profile) -> str:
    if profile.generic:
        return "every device"
    parts = []
    for m in profile.matches_any:
        text = " / ".join(f"`{oid}`" for oid in m.sys_object_id)
        if m.sys_descr:
            text += f" and sysDescr `{m.sys_descr}`"
        parts.append(text.strip())
    return " or ".join(parts)


def _identity(profile: Profile) -> str:
    names = {c.name for c in profile.scalars if c.name in IDENTITY and not c.name.startswith("sys_")}
    if any(t.name == "entity" for t in profile.tables):
        names |= {"serial", "model", "firmware"}
    return _join(n for n in _IDENTITY_ORDER if n in names)


def _counter_names(profile: Profile) -> list[str]:
    names = [c.tags.get("counter", c.name) for c in profile.scalars if c.measurement == "printer_counter"]
    for table in profile.tables:
        if table.measurement != "printer_counter":
            continue
        for column in table.columns:
            if column.as_tag and column.enum:
                names += profile.enums[column.enum].values()
            elif column.as_tag:
                names.append("named by the device")
    return names


def _supplies(profile: Profile) -> list[str]:
    found = []
    for c in profile.scalars:
        if c.supply is not None:
            found.append(f"{c.supply.color} {c.supply.kind} %".strip())
        elif c.measurement == "printer_supply":
            found.append(f"{c.tags.get('supply', c.name)} %")
    for t in profile.tables:
        if t.measurement == "printer_supply_vendor":
            found.append(f"`printer_supply_vendor` ({_join(c.name for c in t.columns)})")
        elif t.name == "supplies" and profile.name not in BUILTIN:
            found.append(_join(c.name for c in t.columns))
    return found


def _other(profile: Profile) -> list[str]:
    skip = {"printer_counter", "printer_supply", "printer_supply_vendor"}
    fields: dict[str, list[str]] = {}
    for column in _declared(profile):
        measurement, name = column
        if measurement not in skip:
            fields.setdefault(measurement, []).append(name)
    found = [f"`{m}` ({_join(names)})" for m, names in fields.items()]
    if profile.name in BUILTIN:
        found += [f"`{t.name}`" for t in profile.tables if t.name in STANDARD_TABLES]
    return found


def _declared(profile: Profile) -> list[tuple[str, str]]:
    pairs = [(c.measurement, c.name) for c in profile.scalars if c.measurement]
    for table in profile.tables:
        pairs += [(table.measurement, c.name) for c in table.columns if table.measurement and not c.as_tag]
    return pairs


def _vendor(profile: Profile) -> str:
    return profile.vendor or ("standard MIBs" if profile.generic else profile.name)


def _row(profile: Profile) -> str:
    cells = [
        _vendor(profile),
        profile.family,
        f"`{profile.name}`",
        _matches(profile),
        _identity(profile),
        _join(_counter_names(profile)),
        _join(_supplies(profile)),
        _join(_other(profile)),
        profile.kind or "–",
    ]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def table(profiles: Sequence[Profile]) -> str:
    """The coverage table: one row per profile, generic ones first, then by family and vendor."""
    order = sorted(
        profiles,
        key=lambda p: (not p.generic, _FAMILY_ORDER[p.family], _vendor(p).lower(), p.name),
    )
    head = [
        "| vendor | family | profile | applies to (sysObjectID) | identity | counters (`printer_counter`) "
        "| supply details | other samples and tables | kind |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join([*head, *(_row(p) for p in order)])


def rewrite(text: str, generated: str) -> str:
    """`text` with the part between the coverage markers replaced by `generated`."""
    try:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"the coverage markers are missing: {START} ... {END}") from None
    return f"{before}{START}\n{generated}\n{END}{after}"


def main(argv: list[str]) -> int:
    """Print the coverage table, or write it into a Markdown file between its markers."""
    parser = argparse.ArgumentParser(prog="python -m agent.snmp.coverage", description=__doc__)
    parser.add_argument("--write", type=Path, metavar="FILE", help="replace the table in FILE (docs/snmp.md)")
    args = parser.parse_args(argv)
    generated = table(builtin_profiles())
    if args.write is None:
        print(generated)
        return 0
    try:
        args.write.write_text(rewrite(args.write.read_text("utf-8"), generated), "utf-8")
    except (OSError, ValueError) as err:
        print(f"{args.write}: {err}", file=sys.stderr)
        return 1
    return 0


__all__ = ["END", "START", "main", "rewrite", "table"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
