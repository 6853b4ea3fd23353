"""Profiles: every shipped file loads, bad files name file and key, extract() is pure and table-driven."""

from __future__ import annotations

import pytest

from agent.protocol import Sample
from agent.snmp.errors import ProfileError
from agent.snmp.observations import observe
from agent.snmp.profile import builtin_profiles, enterprise_names, extract, load_profile
from agent.snmp.report import build_report, level_percent
from agent.snmp.values import ValueKind, VarBind, parse_oid


def test_shipped_profiles_load_generic_first() -> None:
    names = [p.name for p in builtin_profiles()]
    assert names[:4] == ["system", "if_mib", "host_resources", "printer_mib"]
    assert {"brother", "sharp", "konica", "mikrotik"} <= set(names)
    assert enterprise_names()[2435] == "Brother"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('name = "x"\nscalars = [{ oid = "sysDescr.0", name = "d" }]', "$.scalars[0].oid"),
        ('name = "x"\nscalars = [{ oid = "1.3.6", name = "d", type = "float" }]', "scalars[0].type"),
        ('name = "x"\nscalars = [{ oid = "1.3.6", name = "d", enum = "nope" }]', "scalars[0].enum"),
        ('name = "x"\nbogus = 1', "bogus"),
        ('name = "x"\n[enums.e]\nabc = "y"', "enums.e"),
        ("name = ", "x.toml"),
        # an output that says where it goes, or it is an error
        ('name = "x"\nscalars = [{ oid = "1.3.6", name = "pages" }]', "scalars[0].name"),
        (
            'name = "x"\nscalars = [{ oid = "1.3.6", name = "v", measurement = "m", type = "text" }]',
            "scalars[0].type",
        ),
        ('name = "x"\nscalars = [{ oid = "1.3.6", name = "serial", as_tag = true }]', "scalars[0].as_tag"),
        (
            'name = "x"\nscalars = [{ oid = "1.3.6", name = "v", measurement = "m", '
            'tags = { device = "d" } }]',
            "device",
        ),
        (
            'name = "x"\nscalars = [{ oid = "1.3.6", name = "v", supply = { kind = "toner" } }]',
            "scalars[0].name",
        ),
        (
            'name = "x"\nscalars = [{ oid = "1.3.6", name = "serial", type = "brother_record" }]',
            "scalars[0].key",
        ),
        (
            'name = "x"\nscalars = [{ oid = "1.3.6", name = "serial", type = "text", pattern = "(" }]',
            "pattern",
        ),
        (
            'name = "x"\n[[tables]]\nname = "other"\ncolumns = [{ oid = "1.3.6", name = "v" }]',
            "tables[0].name",
        ),
        (
            'name = "x"\n[[tables]]\nname = "supplies"\nmeasurement = "m"\ncolumns = []',
            "tables[0].measurement",
        ),
        (
            'name = "x"\n[[tables]]\nname = "t"\nmeasurement = "m"\n'
            'columns = [{ oid = "1.3.6", name = "v", type = "text" }]',
            "columns[0].type",
        ),
        ('name = "x"\nmatch = { sys_descr = "(" }', "match.sys_descr"),
        ('name = "x"\nkind = "toaster"', "$.kind"),
    ],
)
def test_bad_profile_names_file_and_key(text: str, where: str) -> None:
    with pytest.raises(ProfileError) as err:
        load_profile("x.toml", text)
    assert str(err.value).startswith("x.toml: ")
    assert where in str(err.value)


PROFILE = load_profile(
    "t.toml",
    """
name = "t"
scalars = [{ oid = "1.3.6.1.2.1.1.5.0", name = "sys_name", type = "text" }]
[[tables]]
name = "supplies"
columns = [
  { oid = "1.3.6.1.2.1.43.11.1.1.6", name = "description", type = "text" },
  { oid = "1.3.6.1.2.1.43.11.1.1.5", name = "kind", type = "int", enum = "t" },
  { oid = "1.3.6.1.2.1.43.11.1.1.8", name = "capacity" },
  { oid = "1.3.6.1.2.1.43.11.1.1.9", name = "level" },
]
[enums.t]
3 = "toner"
""",
)


def col(oid: str, *rows: tuple[str, ValueKind, int | bytes]) -> tuple[tuple[int, ...], list[VarBind]]:
    base = parse_oid(oid)
    return base, [VarBind(base + parse_oid(i), k, v) for i, k, v in rows]


def test_extract_names_rows_by_index_and_applies_enums() -> None:
    name = parse_oid("1.3.6.1.2.1.1.5.0")
    columns = dict(
        [
            col("1.3.6.1.2.1.43.11.1.1.6", ("1.1", ValueKind.OCTETS, b"Cyan Toner")),
            col("1.3.6.1.2.1.43.11.1.1.5", ("1.1", ValueKind.INTEGER, 3)),
            col("1.3.6.1.2.1.43.11.1.1.8", ("1.1", ValueKind.INTEGER, 200)),
            col("1.3.6.1.2.1.43.11.1.1.9", ("1.1", ValueKind.INTEGER, 50)),
        ]
    )
    ex = extract([PROFILE], {name: VarBind(name, ValueKind.OCTETS, b"lp1")}, columns)
    assert ex.scalars == {"sys_name": "lp1"}
    assert ex.table("supplies") == [
        ((1, 1), {"description": "Cyan Toner", "kind": "toner", "capacity": 200, "level": 50})
    ]
    report = build_report("10.0.0.9", ex, profiles=["t"], vendor_names={})
    assert report.kind == "printer"
    assert report.supplies[0].level_percent == 25.0
    assert report.supplies[0].color == "cyan"
    assert report.device == "10.0.0.9"  # no serial, no interface: the address is the key


@pytest.mark.parametrize(
    ("level", "capacity", "percent", "state"),
    [
        (50, 200, 25.0, "known"),
        (0, 100, 0.0, "known"),
        (120, 100, 100.0, "known"),  # a level above capacity is clamped, not 120 %
        (-3, 100, None, "some_remaining"),
        (-2, 100, None, "unknown"),
        (-1, 100, None, "other"),
        (40, -2, None, "known"),  # raw units of an unknown whole
        (40, 0, None, "known"),
        (None, 100, None, "unknown"),
    ],
)
def test_level_percent_keeps_rfc3805_special_values_as_states(
    level: int | None, capacity: int | None, percent: float | None, state: str
) -> None:
    assert level_percent(level, capacity) == (percent, state)


VENDOR = load_profile(
    "v.toml",
    """
name = "v"
match = [
  { sys_object_id = ["1.3.6.1.4.1.99"] },
  { sys_object_id = ["1.3.6.1.4.1.8072"], sys_descr = "^Acme" },
]

[[scalars]]
oid = "1.3.6.1.4.1.99.1.0"
name = "jams_total"
measurement = "printer_counter"
tags = { counter = "jams" }

[[scalars]]
oid = "1.3.6.1.4.1.99.2.0"
name = "level_percent"
type = "brother_record"
key = "6f"
scale = 0.01
supply = { kind = "toner", color = "black" }

[[tables]]
name = "counters"
measurement = "printer_counter"
index_tags = ["", "slot"]
columns = [
  { oid = "1.3.6.1.4.1.99.3.1", name = "value_total" },
  { oid = "1.3.6.1.4.1.99.3.2", name = "counter", type = "label", as_tag = true },
]
""",
)


def test_match_alternatives_use_sys_object_id_and_sys_descr() -> None:
    assert VENDOR.matches("1.3.6.1.4.1.99.5")
    assert VENDOR.matches("1.3.6.1.4.1.8072.3.2.10", "Acme router")
    assert not VENDOR.matches("1.3.6.1.4.1.8072.3.2.10", "Linux box")
    assert not VENDOR.matches(None)


def test_declared_outputs_become_samples_and_supply_figures() -> None:
    scalars = {
        parse_oid("1.3.6.1.4.1.99.1.0"): VarBind(parse_oid("1.3.6.1.4.1.99.1.0"), ValueKind.COUNTER32, 17),
        parse_oid("1.3.6.1.4.1.99.2.0"): VarBind(
            parse_oid("1.3.6.1.4.1.99.2.0"), ValueKind.OCTETS, bytes.fromhex("6f0104000019008101040000001eff")
        ),
    }
    columns = dict(
        [
            col("1.3.6.1.4.1.99.3.1", ("1.4", ValueKind.COUNTER32, 120), ("1.5", ValueKind.COUNTER32, 7)),
            col(
                "1.3.6.1.4.1.99.3.2",
                ("1.4", ValueKind.OCTETS, b"Color Copies"),
                ("1.5", ValueKind.OCTETS, b"Color Copies"),
            ),
        ]
    )
    ex = extract([VENDOR], scalars, columns)
    got = {(m.measurement, m.tags): m.fields for m in ex.measured}
    assert got == {
        ("printer_counter", (("counter", "jams"),)): {"jams_total": 17},
        ("printer_counter", (("counter", "color_copies"), ("slot", "4"))): {"value_total": 120},
        ("printer_counter", (("counter", "color_copies"), ("slot", "5"))): {"value_total": 7},
    }
    assert [(f.kind, f.color, f.value) for f in ex.supply_figures] == [("toner", "black", 64.0)]
    assert ex.answered == {"v"}


JOINED = load_profile(
    "j.toml",
    """
name = "j"
family = "printer"
match = { sys_object_id = ["1.3.6.1.4.1.99"] }
[[tables]]
name = "supplies"   # a vendor table indexed like prtMarkerSuppliesTable joins its rows
columns = [
  { oid = "1.3.6.1.4.1.99.7.1", name = "pages_printed_total" },
  { oid = "1.3.6.1.4.1.99.7.2", name = "part_number", type = "text", as_tag = true },
  { oid = "1.3.6.1.4.1.99.7.3", name = "level" },
]
""",
)


def test_columns_joined_to_a_standard_table_travel_with_its_samples() -> None:
    columns = dict(
        [
            col("1.3.6.1.2.1.43.11.1.1.6", ("1.1", ValueKind.OCTETS, b"Black Toner")),
            col("1.3.6.1.2.1.43.11.1.1.8", ("1.1", ValueKind.INTEGER, 100)),
            col("1.3.6.1.2.1.43.11.1.1.9", ("1.1", ValueKind.INTEGER, 40)),
            col("1.3.6.1.4.1.99.7.1", ("1.1", ValueKind.COUNTER32, 2500)),
            col("1.3.6.1.4.1.99.7.2", ("1.1", ValueKind.OCTETS, b"TN-2420")),
            col("1.3.6.1.4.1.99.7.3", ("1.1", ValueKind.INTEGER, 99)),  # a known name: overrides, not extra
        ]
    )
    ex = extract([PROFILE, JOINED], {}, columns)
    (supply,) = build_report("10.0.0.9", ex, profiles=["t", "j"], vendor_names={}).supplies
    assert (supply.extra, supply.extra_tags) == ({"pages_printed_total": 2500}, {"part_number": "TN-2420"})
    assert supply.level == 99  # a later profile's value for a standard column wins, as for scalars
    sample = next(
        o
        for o in observe(build_report("10.0.0.9", ex, profiles=["t", "j"], vendor_names={}), 1)
        if isinstance(o, Sample) and o.measurement == "printer_supply"
    )
    assert sample.fields["pages_printed_total"] == 2500 and sample.tags["part_number"] == "TN-2420"


LABELS = load_profile(
    "labels.toml",
    """
name = "labels"
match = { sys_object_id = ["1.3.6.1.4.1.99"] }
scalars = [
  { oid = "1.3.6.1.4.1.99.9.1.0", name = "model", type = "text" },
  { oid = "1.3.6.1.4.1.99.9.2.0", name = "model", type = "text" },
  { oid = "1.3.6.1.4.1.99.9.3.0", name = "serial", type = "text" },
]
""",
)


@pytest.mark.parametrize(
    ("first", "second", "serial", "model"),
    [
        (b"LaserJet MFP M129-M134", b"LaserJet MF\n50 20 4D", b"ABC\t123", "LaserJet MFP M129-M134"),
        (b"LaserJet M404", b"LaserJet M404dn", b"ABC123", "LaserJet M404dn"),  # clean: the last wins
        (b"", b"LaserJet MF\n50 20 4D", b"ABC123", "LaserJet MF\n50 20 4D"),  # nothing clean before it
    ],
)
def test_a_damaged_identity_value_does_not_replace_a_clean_one(
    first: bytes, second: bytes, serial: bytes, model: str
) -> None:
    oids = ("1.3.6.1.4.1.99.9.1.0", "1.3.6.1.4.1.99.9.2.0", "1.3.6.1.4.1.99.9.3.0")
    scalars = {
        parse_oid(o): VarBind(parse_oid(o), ValueKind.OCTETS, v)
        for o, v in zip(oids, (first, second, serial), strict=True)
    }
    ex = extract([LABELS], scalars, {})
    assert ex.scalars["model"] == model
    assert ex.scalars["serial"] == serial.decode()  # the only value, damaged or not, is kept
