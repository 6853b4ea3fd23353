"""One table for all benchmarks: each records its figures here, bench/run prints them together.

`record()` appends one JSON line to the file named by $DESKWATCH_BENCH_RESULTS when that
is set (bench/run sets it) and does nothing otherwise, so every benchmark still runs alone.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def record(
    bench: str,
    figure: str,
    value: float,
    unit: str,
    baseline: str = "",
    target: str = "",
    met: bool | None = None,
) -> None:
    """One measured figure, with the baseline measured in the same run and the target, if any."""
    path = os.environ.get("DESKWATCH_BENCH_RESULTS")
    if not path:
        return
    row = {
        "bench": bench,
        "figure": figure,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "target": target,
        "met": met,
    }
    with Path(path).open("a") as out:
        out.write(json.dumps(row) + "\n")


def render(path: Path) -> str:
    """The recorded figures as one Markdown table."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = [
        "| benchmark | figure | value | baseline (same run) | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        value = f"{r['value']:,.2f}".rstrip("0").rstrip(".") + f" {r['unit']}"
        lines.append(f"| {r['bench']} | {r['figure']} | {value} | {r['baseline']} | {r['target']} | {met} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(Path(sys.argv[1])))
