"""Batch -> InfluxDB line protocol, the text VictoriaMetrics ingests on /api/v2/write (pure).

One line per Sample and one per State, built straight from the decoded structs: no
per-point objects. Tags are sorted (the order InfluxDB recommends and VictoriaMetrics
parses fastest) and always carry the batch's `agent_id` and `site`, which override any
tag of the same name a sample brings. VictoriaMetrics names each field
`<measurement>_<field>`, so `memory available_bytes=...` is `memory_available_bytes{...}`.

Escaping follows https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/:
measurements escape comma and space; tag keys, tag values and field keys escape comma,
equals sign and space; a backslash is written as two. Line protocol cannot carry a
newline inside a tag value, so CR and LF become escaped spaces, and so does every other
character that ends a line somewhere (NEL, U+2028, U+2029, VT, FF and the file, group
and record separators), so a tag reads as one line in PromQL answers and Grafana too. An empty tag value is
left out (in PromQL an empty label is the same as no label), and so is a non-finite field.
"""

from __future__ import annotations

import os
from functools import lru_cache
from types import ModuleType
from typing import Final

from agent.protocol import Batch

# DESKWATCH_NO_C_LINES=1 leaves the C module out even where it is built, so the Python
# path is tested (deploy/test.sh) and measured (bench/paths.py) on the same machine.
NO_C_LINES: Final = "DESKWATCH_NO_C_LINES"
DISABLED: Final = os.environ.get(NO_C_LINES, "") not in ("", "0")

_native: ModuleType | None = None
if not DISABLED:
    try:
        from collector import _lines as _native
    except ImportError:  # not compiled on this machine (no C compiler): the Python loop does it all
        _native = None

STATE_MEASUREMENT: Final = "state"

# A newline becomes an (escaped) space: unescaped, it would end the tag set mid-line and
# VictoriaMetrics would drop the sample as unparseable. The other line breaks (str.splitlines
# breaks on each) become one too.
_LINE_BREAKS: Final = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_MEASUREMENT_ESCAPES: Final = str.maketrans(
    {"\\": "\\\\", ",": "\\,", " ": "\\ ", **dict.fromkeys(_LINE_BREAKS, "\\ ")}
)
_TAG_ESCAPES: Final = str.maketrans(
    {"\\": "\\\\", ",": "\\,", "=": "\\=", " ": "\\ ", **dict.fromkeys(_LINE_BREAKS, "\\ ")}
)


@lru_cache(maxsize=65_536)
def escape_tag(text: str) -> str:
    """A tag key, tag value or field key as line protocol writes it."""
    return text.translate(_TAG_ESCAPES)


@lru_cache(maxsize=4_096)
def escape_measurement(text: str) -> str:
    """A measurement name as line protocol writes it."""
    return text.translate(_MEASUREMENT_ESCAPES)


# Caches on the hot path, plain dicts (a lookup is a third of an lru_cache call). Names and
# tag sets recur across the whole fleet, so they stay small; when one outgrows its bound it
# starts over rather than grow with an agent that invents tags.
_CACHE_MAX: Final = 65_536
_field_keys: dict[str, str] = {}
_series: dict[tuple[str, ...], tuple[str, str, str]] = {}


def _field_key(key: str) -> str:
    if len(_field_keys) >= _CACHE_MAX:
        _field_keys.clear()
    escaped = _field_keys[key] = escape_tag(key)
    return escaped


def _fields(fields: dict[str, int | float]) -> str:
    # Integers go out without the `i` suffix: VictoriaMetrics stores every value as a
    # float64 anyway, and InfluxDB then keeps one field type per field. `v - v` is 0
    # for every finite number and NaN for inf and NaN.
    keys = _field_keys
    return ",".join(
        f"{keys.get(key) or _field_key(key)}={value if type(value) is int else repr(value)}"
        for key, value in fields.items()
        if value - value == 0
    )


def series_parts(key: tuple[str, ...]) -> tuple[str, str, str]:
    """The cached parts of a series key (measurement, tag names..., tag values...)."""
    return _series.get(key) or _series_parts(key)


def _series_parts(key: tuple[str, ...]) -> tuple[str, str, str]:
    """The line's start up to `agent_id`, between `agent_id` and `site`, and after `site`.

    `key` is (measurement, tag names..., tag values...) as `_sample_lines` builds it.
    """
    count = (len(key) - 1) // 2
    items = tuple(zip(key[1 : 1 + count], key[1 + count :], strict=True))
    before, middle, after = _split_tags(items)
    if len(_series) >= _CACHE_MAX:
        _series.clear()
    parts = _series[key] = (escape_measurement(key[0]) + before, middle, after)
    return parts


@lru_cache(maxsize=4_096)
def _split_tags(items: tuple[tuple[str, str], ...]) -> tuple[str, str, str]:
    """A sample's own tags, escaped and sorted, cut where `agent_id` and `site` go between them."""
    tags = sorted((key, value) for key, value in items if value and key not in ("agent_id", "site"))

    def join(low: str, high: str) -> str:
        return "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in tags if low < k < high)

    return join("", "agent_id"), join("agent_id", "site"), join("site", "\U0010ffff")


def native() -> bool:
    """True when the C module (collector/_lines.c) is installed and the fast lane uses it."""
    return _native is not None


def native_module() -> ModuleType | None:
    """The C module (collector/_lines.c), or None where it was not compiled or is switched off."""
    return _native


def batch_lines(batch: Batch) -> list[str]:
    """The lines for every Sample and State of `batch`; samples without a finite field are left out."""
    agent, site = _batch_tags(batch)
    return _sample_lines(batch, agent, site) + _state_lines(batch, agent, site)


def batch_body(batch: Batch) -> tuple[bytes, int]:
    """`batch_lines(batch)` joined by newlines as UTF-8, and how many lines: what ingest writes.

    Ingest builds most batches' lines in the C fast lane (collector/fastlane.py); this is
    the way for the others, and the definition the lane is tested against.
    """
    agent, site = _batch_tags(batch)
    lines = _sample_lines(batch, agent, site)
    return with_states(batch, "\n".join(lines).encode(), len(lines))


def with_states(batch: Batch, body: bytes, count: int) -> tuple[bytes, int]:
    """`body` (`count` sample lines of `batch`) followed by the lines of the batch's States."""
    if not batch.states:
        return body, count
    states = _state_lines(batch, *_batch_tags(batch))
    return body + (b"\n" if count else b"") + "\n".join(states).encode(), count + len(states)


def _batch_tags(batch: Batch) -> tuple[str, str]:
    """The `,agent_id=...` and `,site=...` every line of `batch` carries (site may be empty)."""
    return batch_tags(batch.agent_id, batch.site)


def batch_tags(agent_id: str, site: str) -> tuple[str, str]:
    """The `,agent_id=...` and `,site=...` every line of an agent's batch carries (site may be empty)."""
    return f",agent_id={escape_tag(agent_id)}", f",site={escape_tag(site)}" if site else ""


def _sample_lines(batch: Batch, agent: str, site: str) -> list[str]:
    default_ns = batch.created_ns
    lines: list[str] = []
    append = lines.append
    series, field_keys = _series, _field_keys
    for sample in batch.samples:
        fields = sample.fields
        if len(fields) == 1:  # most samples: no generator, no join
            ((name, value),) = fields.items()
            if value - value != 0:
                continue
            number = value if type(value) is int else repr(value)
            text = f"{field_keys.get(name) or _field_key(name)}={number}"
        else:
            text = _fields(fields)
            if not text:
                continue
        tags = sample.tags
        # One flat tuple per sample: the same measurement and tags give the same key on
        # every agent, and the cached parts are already escaped, sorted and split.
        key = (sample.measurement, *tags, *tags.values())
        parts = series.get(key) or _series_parts(key)
        append(f"{parts[0]}{agent}{parts[1]}{site}{parts[2]} {text} {sample.time_ns or default_ns}")
    return lines


def _state_lines(batch: Batch, agent: str, site: str) -> list[str]:
    lines = []
    for state in batch.states:
        items = {**state.tags, "subject": state.subject, "condition": state.condition}
        before, middle, after = _split_tags((*items.items(), ("severity", state.severity.value)))
        tags_text = f"{before}{agent}{middle}{site}{after}"
        lines.append(
            f"{STATE_MEASUREMENT}{tags_text} ok={int(state.ok)} {state.observed_ns or batch.created_ns}"
        )
    return lines
