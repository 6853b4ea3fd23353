"""A metrics payload -> the line protocol ingest writes and the Batch its observers see.

Most of a batch's samples are only ever written to VictoriaMetrics; only the ones with
a field an observer reads (the incident rules' tracked fields) need to be Python
objects. `decode_batch` sends the payload through the C fast lane (`scan_batch` in
collector/_lines.c), which writes every sample's line straight from the JSON and leaves
a copy of the payload holding only the wanted samples; msgspec then decodes and
validates that copy exactly as `agent.protocol.decode` does every message. Whatever
the lane does not take (a name with an escape, an unknown key, a number beyond 64 bits,
anything invalid, no C module) goes the ordinary way: the whole payload through
`decode` and `line_protocol.batch_body`, which also names the reason for a bad one.
Both ways give the same body, byte for byte (tests/collector/test_fast_lane.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple

import msgspec

from agent.protocol import (
    MAX_ITEMS_PER_BATCH,
    MAX_PAYLOAD_BYTES,
    Batch,
    ProtocolError,
    SampleName,
    TagValue,
    decode,
    is_name,
)
from collector import line_protocol

_native = line_protocol.native_module()


class Decoded(NamedTuple):
    """One accepted metrics payload."""

    batch: Batch  # holds only the samples with a wanted field when it came by the fast lane
    body: bytes  # every line of the payload (line_protocol.batch_body)
    lines: int
    items: int  # samples and states in the payload


def wanted(fields: Iterable[tuple[str, str]]) -> tuple[bytes, ...]:
    """(measurement, field) pairs in the form `decode_batch` takes them."""
    return tuple(sorted({_pair(measurement, field) for measurement, field in fields}))


def _pair(measurement: str, field: str) -> bytes:
    return f"{measurement}\0{field}".encode()  # as scan_batch compares them


def decode_batch(payload: bytes, keep: tuple[bytes, ...] | None, bound_site: str = "") -> Decoded:
    """Decode a metrics payload and build its lines; raise ProtocolError if it is not a valid Batch.

    `keep` (from `wanted()`) names the samples the returned Batch must hold; None keeps all.
    `bound_site` is the site a batch naming none gets (the agent's bound site, collector/sites.py):
    in its Batch and in the `site` tag of its lines.
    """
    if _native is not None and keep is not None and len(payload) <= MAX_PAYLOAD_BYTES:
        scanned = _native.scan_batch(
            payload, keep, _batch_tags, _raw_series, _raw_series_parts, MAX_ITEMS_PER_BATCH
        )
        if scanned is not None:
            body, lines, samples, reduced, kept, agent_id, site, created_ns = scanned
            try:
                batch = decode(reduced, Batch)
            except ProtocolError:
                batch = None  # decoding the whole payload below gives the reason
            if batch is not None and bound_site and not batch.site:
                batch = None  # its lines need the bound site: the ordinary way below puts it in
            # The lane read the first of any repeated key, msgspec the last: they must agree.
            if batch is not None and (batch.agent_id, batch.site, batch.created_ns, len(batch.samples)) == (
                agent_id,
                site,
                created_ns,
                kept,
            ):
                body, lines = line_protocol.with_states(batch, body, lines)
                return Decoded(batch, body, lines, samples + len(batch.states))
    batch = decode(payload, Batch)
    if bound_site and not batch.site:
        batch = msgspec.structs.replace(batch, site=bound_site)
    body, lines = line_protocol.batch_body(batch)
    items = len(batch.samples) + len(batch.states)
    if keep is not None:  # observers see the same batch whichever way it came
        wanted_set = set(keep)
        samples = [s for s in batch.samples if any(_pair(s.measurement, f) in wanted_set for f in s.fields)]
        batch = msgspec.structs.replace(batch, samples=samples)
    return Decoded(batch, body, lines, items)


def shifted(decoded: Decoded, payload: bytes, bound_site: str, shift_ns: int) -> Decoded:
    """`decoded` with its lines at the collector's time: every time in the payload plus `shift_ns`.

    For an agent whose clock is off (collector.clock_offset): VictoriaMetrics gets its
    samples when they happened on the collector's clock, not ten years back, where they would
    fall outside the retention period and be dropped. The C lane writes times as they come,
    so these payloads are decoded whole once more (a few agents, not the fleet). The Batch the
    observers see stays as the agent sent it: the incident state corrects it on its own.
    """
    batch = decode(payload, Batch)
    if bound_site and not batch.site:
        batch = msgspec.structs.replace(batch, site=bound_site)
    created = batch.created_ns + shift_ns if batch.created_ns else 0
    replace = msgspec.structs.replace
    samples = [replace(s, time_ns=s.time_ns + shift_ns) if s.time_ns else s for s in batch.samples]
    states = [replace(s, observed_ns=s.observed_ns + shift_ns) if s.observed_ns else s for s in batch.states]
    moved = msgspec.structs.replace(batch, created_ns=created, samples=samples, states=states)
    body, lines = line_protocol.batch_body(moved)
    return Decoded(decoded.batch, body, lines, decoded.items)


def _batch_tags(agent_id: str, site: str) -> tuple[str, str, str, str]:
    return (*line_protocol.batch_tags(agent_id, site), agent_id, site)


# Raw `measurement\0{tags JSON}` -> line parts. The tags are checked as a Sample's are
# (names, lengths, UTF-8) the first time a text is seen; the same bytes are as valid later.
_CACHE_MAX: Final = 65_536
_raw_series: dict[bytes, tuple[str, str, str]] = {}
_tags = msgspec.json.Decoder(dict[SampleName, TagValue])


def _raw_series_parts(key: bytes) -> tuple[str, str, str] | None:
    """Line parts of a series the lane met for the first time; None if its tags are not valid."""
    measurement, _, raw_tags = key.partition(b"\0")
    try:
        tags = _tags.decode(raw_tags) if raw_tags else {}
    except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec's error for bad UTF-8 in a key
        return None
    if not all(map(is_name, tags)):
        return None
    if len(_raw_series) >= _CACHE_MAX:
        _raw_series.clear()
    parts = _raw_series[key] = line_protocol.series_parts((measurement.decode(), *tags, *tags.values()))
    return parts
