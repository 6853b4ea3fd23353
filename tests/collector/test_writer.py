"""The writer's disk buffer: durable, oldest first, bounded, survives a restart."""

from __future__ import annotations

from pathlib import Path

from collector.selfmetrics import SelfMetrics
from collector.writer import DiskBuffer


def test_buffer_keeps_order_across_a_restart_and_drops_oldest_beyond_its_bound(tmp_path: Path) -> None:
    metrics = SelfMetrics()
    buffer = DiskBuffer(tmp_path, max_bytes=25, metrics=metrics)
    for body in (b"a 1\nb 2", b"c 3", b"d 4"):
        buffer.append(body)
    reopened = DiskBuffer(tmp_path, max_bytes=25, metrics=metrics)
    assert len(reopened) == 3 and reopened.size_bytes == 13
    reopened.append(b"e" * 10)  # 23 bytes: still fits
    reopened.append(b"f" * 10)  # 33 bytes: the two oldest bodies (three lines) go
    assert metrics.buffer_dropped_lines._value.get() == 3
    bodies = []
    while (item := reopened.oldest()) is not None:
        bodies.append(item[1])
        reopened.remove(item[0])
    assert bodies == [b"d 4", b"e" * 10, b"f" * 10]
    assert reopened.size_bytes == 0 and metrics.buffer_bytes._value.get() == 0
