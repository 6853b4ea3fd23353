"""Type stub for the C fast lane (collector/_lines.c)."""

from collections.abc import Callable

def scan_batch(
    payload: bytes,
    keep: tuple[bytes, ...],
    batch_tags: Callable[[str, str], tuple[str, str, str, str]],
    series: dict[bytes, tuple[str, str, str]],
    series_parts: Callable[[bytes], tuple[str, str, str] | None],
    max_samples: int,
) -> tuple[bytes, int, int, bytes, int, str, str, int] | None: ...
