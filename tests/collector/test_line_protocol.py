"""Batch -> line protocol: escaping, tag order, agent_id/site tags, what is left out."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.protocol import Batch, Sample, Severity, State
from collector import line_protocol
from collector.line_protocol import batch_body, batch_lines, escape_measurement, escape_tag


def batch(*samples: Sample, site: str = "hq", states: tuple[State, ...] = ()) -> Batch:
    return Batch(
        v=1, agent_id="pc-1", seq=1, created_ns=99, site=site, samples=list(samples), states=list(states)
    )


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a b", "a\\ b"),
        ("a,b", "a\\,b"),
        ("a=b", "a\\=b"),
        ("ends\\", "ends\\\\"),
        ("two\\\\", "two\\\\\\\\"),
        ("line\nbreak\r", "line\\ break\\ "),  # escaped: a bare space would end the tag set
        # every other line break too (a printer's alert text keeps its device's line breaks)
        ("a\x85b\u2028c\u2029d\ve\ff\x1cg", "a\\ b\\ c\\ d\\ e\\ f\\ g"),
        ('quote"d', 'quote"d'),
        ("Zürich", "Zürich"),
    ],
)
def test_escape_tag(raw: str, escaped: str) -> None:
    assert escape_tag(raw) == escaped


@pytest.mark.parametrize(("raw", "escaped"), [("cpu", "cpu"), ("a b,c", "a\\ b\\,c"), ("a=b", "a=b")])
def test_escape_measurement(raw: str, escaped: str) -> None:
    assert escape_measurement(raw) == escaped


@pytest.mark.parametrize(
    ("sample", "line"),
    [
        (Sample("cpu", {"usage_percent": 12.5}, time_ns=7), "cpu,agent_id=pc-1,site=hq usage_percent=12.5 7"),
        (Sample("mem", {"total_bytes": 2**40}), "mem,agent_id=pc-1,site=hq total_bytes=1099511627776 99"),
        (
            Sample("disk", {"used_percent": 0.5, "free_bytes": 3}, tags={"mount": "C:\\", "device": "a b"}),
            "disk,agent_id=pc-1,device=a\\ b,mount=C:\\\\,site=hq used_percent=0.5,free_bytes=3 99",
        ),
        (Sample("x", {"v": 1e-05}), "x,agent_id=pc-1,site=hq v=1e-05 99"),
        (
            Sample("x", {"v": 1.0}, tags={"agent_id": "spoof", "site": "elsewhere"}),
            "x,agent_id=pc-1,site=hq v=1.0 99",
        ),
        (Sample("x", {"v": 1}, tags={"empty": ""}), "x,agent_id=pc-1,site=hq v=1 99"),
        (Sample("x", {"v": float("inf"), "w": 2}), "x,agent_id=pc-1,site=hq w=2 99"),
    ],
)
def test_sample_line(sample: Sample, line: str) -> None:
    assert batch_lines(batch(sample)) == [line]


def test_samples_without_a_finite_field_are_left_out() -> None:
    assert batch_lines(batch(Sample("x", {}), Sample("y", {"v": float("nan")}))) == []


def test_no_site_tag_when_the_batch_has_no_site() -> None:
    assert batch_lines(batch(Sample("x", {"v": 1}), site="")) == ["x,agent_id=pc-1 v=1 99"]


def test_state_is_an_ok_field_tagged_with_subject_condition_and_severity() -> None:
    state = State(
        subject="printer:SN1 tray", condition="paper_jam", ok=False, severity=Severity.WARNING, observed_ns=5
    )
    assert batch_lines(batch(states=(state,))) == [
        "state,agent_id=pc-1,condition=paper_jam,severity=warning,site=hq,subject=printer:SN1\\ tray ok=0 5"
    ]


def _reference_line(agent_id: str, site: str, default_ns: int, sample: Sample) -> str | None:
    """Line protocol for one sample written straight from the spec, with no caching at all."""

    def esc(text: str, specials: str) -> str:
        text = text.replace("\\", "\\\\")
        for line_break in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029":
            text = text.replace(line_break, " ")
        for char in specials:
            text = text.replace(char, "\\" + char)
        return text

    tags = {k: v for k, v in sample.tags.items() if v and k not in ("agent_id", "site")}
    tags["agent_id"] = agent_id
    if site:
        tags["site"] = site
    fields = [
        f"{esc(k, ',= ')}={v if type(v) is int else repr(v)}"
        for k, v in sample.fields.items()
        if math.isfinite(v)
    ]
    if not fields:
        return None
    tag_text = "".join(f",{esc(k, ',= ')}={esc(v, ',= ')}" for k, v in sorted(tags.items()))
    return f"{esc(sample.measurement, ', ')}{tag_text} {','.join(fields)} {sample.time_ns or default_ns}"


_names = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=6)
_values = st.text(alphabet=string.ascii_letters + ' ,=\\\n"é\x85\u2028', max_size=6)
_samples = st.builds(
    Sample,
    measurement=st.sampled_from(["cpu", "disk", "net"]),
    fields=st.dictionaries(
        st.sampled_from(["value", "free_bytes", "used"]),
        st.one_of(
            st.integers(-(2**40), 2**40),
            st.integers(-(2**70), 2**70),  # beyond 64 bits: the C builder's slow path
            st.floats(allow_nan=True, allow_infinity=True),
            st.decimals(places=3, min_value=-(10**9), max_value=10**9).map(float),  # few digits
        ),
        min_size=0,
        max_size=3,
    ),
    tags=st.dictionaries(st.one_of(_names, st.sampled_from(["agent_id", "site"])), _values, max_size=4),
    time_ns=st.integers(0, 2**62),
)


@settings(max_examples=300, deadline=None)
@given(
    samples=st.lists(_samples, max_size=8),
    agent_id=st.sampled_from(["pc-1", "pc 2", "a,b"]),
    site=st.sampled_from(["", "hq", "Main office"]),
)
def test_cached_lines_match_the_spec_for_any_samples(samples: list[Sample], agent_id: str, site: str) -> None:
    # The same measurement and tags recur across examples and agents, so the series cache
    # is hit with other agents and sites than the ones that filled it.
    built = batch_lines(Batch(v=1, agent_id=agent_id, seq=1, created_ns=99, site=site, samples=samples))
    expected = [line for s in samples if (line := _reference_line(agent_id, site, 99, s)) is not None]
    assert built == expected


def _joined(batch: Batch) -> tuple[bytes, int]:
    lines = batch_lines(batch)
    return "\n".join(lines).encode(), len(lines)


def test_the_c_builder_is_installed() -> None:
    # deploy/install-deps.sh builds collector/_lines.c with the machine's C compiler; without
    # it ingest still works (the Python loop), at a third of the speed. Here it must be built.
    assert line_protocol._native is not None, "collector/_lines.c is not built: run deploy/install-deps.sh"


@settings(max_examples=300, deadline=None)
@given(
    samples=st.lists(_samples, max_size=8),
    agent_id=st.sampled_from(["pc-1", "pc 2", "a,b"]),
    site=st.sampled_from(["", "hq", "Main office"]),
    with_state=st.booleans(),
)
def test_the_body_is_the_lines_joined(
    samples: list[Sample], agent_id: str, site: str, with_state: bool
) -> None:
    states = (
        [State(subject="dns:intranet", condition="dns_resolves", ok=False, observed_ns=5)]
        if with_state
        else []
    )
    message = Batch(v=1, agent_id=agent_id, seq=1, created_ns=99, site=site, samples=samples, states=states)
    assert batch_body(message) == _joined(message)


def test_a_value_decoding_never_gives_is_written_as_batch_lines_writes_it() -> None:
    # Decoding only ever gives int and float; a bool made in code is written all the same.
    message = batch(Sample("x", {"v": 1.5}), Sample("y", {"ok": True}))
    assert (
        batch_body(message)
        == _joined(message)
        == (
            b"x,agent_id=pc-1,site=hq v=1.5 99\ny,agent_id=pc-1,site=hq ok=True 99",
            2,
        )
    )
