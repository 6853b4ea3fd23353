"""Type stub for the C line builder (collector/_lines.c)."""

from collections.abc import Callable

from agent.protocol import Sample

def samples_body(
    samples: list[Sample],
    agent: str,
    site: str,
    default_ns: int,
    series: dict[tuple[str, ...], tuple[str, str, str]],
    series_parts: Callable[[tuple[str, ...]], tuple[str, str, str]],
    field_keys: dict[str, str],
    field_key: Callable[[str], str],
) -> tuple[bytes, int] | None: ...
def scan_batch(
    payload: bytes,
    keep: tuple[bytes, ...],
    batch_tags: Callable[[str, str], tuple[str, str, str, str]],
    series: dict[bytes, tuple[str, str, str]],
    series_parts: Callable[[bytes], tuple[str, str, str] | None],
    max_samples: int,
) -> tuple[bytes, int, int, bytes, int, str, str, int] | None: ...
