"""Batch -> line protocol: escaping, tag order, agent_id/site tags, what is left out."""

from __future__ import annotations

import pytest

from agent.protocol import Batch, Sample, Severity, State
from collector.line_protocol import batch_lines, escape_measurement, escape_tag


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
        ("line\nbreak\r", "line break "),
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
