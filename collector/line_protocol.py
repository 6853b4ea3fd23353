"""Batch -> InfluxDB line protocol, the text VictoriaMetrics ingests on /api/v2/write (pure).

One line per Sample and one per State, built straight from the decoded structs: no
per-point objects. Tags are sorted (the order InfluxDB recommends and VictoriaMetrics
parses fastest) and always carry the batch's `agent_id` and `site`, which override any
tag of the same name a sample brings. VictoriaMetrics names each field
`<measurement>_<field>`, so `memory available_bytes=...` is `memory_available_bytes{...}`.

Escaping follows https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/:
measurements escape comma and space; tag keys, tag values and field keys escape comma,
equals sign and space; a backslash is written as two. Line protocol cannot carry a
newline inside a tag value, so CR and LF become spaces. An empty tag value is left out
(in PromQL an empty label is the same as no label), and so is a non-finite field.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

from agent.protocol import Batch

STATE_MEASUREMENT: Final = "state"

_TAG_ESCAPES: Final = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\=", " ": "\\ ", "\n": " ", "\r": " "})
_MEASUREMENT_ESCAPES: Final = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ ", "\n": " ", "\r": " "})


@lru_cache(maxsize=65_536)
def escape_tag(text: str) -> str:
    """A tag key, tag value or field key as line protocol writes it."""
    return text.translate(_TAG_ESCAPES)


@lru_cache(maxsize=4_096)
def escape_measurement(text: str) -> str:
    """A measurement name as line protocol writes it."""
    return text.translate(_MEASUREMENT_ESCAPES)


def _number(value: int | float) -> str | None:
    # Integers go out without the `i` suffix: VictoriaMetrics stores every value as a
    # float64 anyway, and InfluxDB then keeps one field type per field.
    if type(value) is int:
        return str(value)
    if math.isfinite(value):
        return repr(value)
    return None


def _tag_string(tags: dict[str, str], base: dict[str, str]) -> str:
    merged = {**tags, **base} if tags else base
    return "".join(
        f",{escape_tag(key)}={escape_tag(value)}" for key, value in sorted(merged.items()) if value
    )


def batch_lines(batch: Batch) -> list[str]:
    """The lines for every Sample and State of `batch`; samples without a finite field are left out."""
    base = {"agent_id": batch.agent_id}
    if batch.site:
        base["site"] = batch.site
    base_tags = _tag_string({}, base)
    default_ns = batch.created_ns
    lines: list[str] = []
    append = lines.append
    for sample in batch.samples:
        fields = ",".join(
            f"{escape_tag(key)}={text}"
            for key, value in sample.fields.items()
            if (text := _number(value)) is not None
        )
        if not fields:
            continue
        tags = _tag_string(sample.tags, base) if sample.tags else base_tags
        append(f"{escape_measurement(sample.measurement)}{tags} {fields} {sample.time_ns or default_ns}")
    for state in batch.states:
        tags = _tag_string(
            {
                **state.tags,
                "subject": state.subject,
                "condition": state.condition,
                "severity": state.severity.value,
            },
            base,
        )
        append(f"{STATE_MEASUREMENT}{tags} ok={int(state.ok)} {state.observed_ns or default_ns}")
    return lines
