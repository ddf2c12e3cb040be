"""Benchmark of reduce and the pattern-mining plugins (autocluster, basket, diffpatterns, diffpatterns_text).

Run: `.venv/bin/python bench/kql_mining.py [--rows 200000] [--repeat 3]`. Each query runs over the same
generated rows (4 discrete columns, a message text) as a baseline measured in the same run: a
`summarize count() by` over the same columns (one scan and group-by of the same input, the least any
pattern mining must do). Prints each time, the ratio to the baseline, and the geometric mean. Timings are
noisy on a shared machine: only ratios of the same run mean anything.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from huntvault.kql import execute  # noqa: E402
from huntvault.kql.backends import DuckDBBackend  # noqa: E402


def source(rows: int) -> str:
    """Rows like failure telemetry: skewed discrete values and templated messages with ids in them."""
    return (
        f"let T = range i from 1 to {rows} step 1"
        "| extend State = strcat('S', tostring(hash(i, 7) * hash(i, 5) % 20)),"
        " EventType = iff(i % 3 == 0, 'Hail', iff(i % 5 == 0, 'Flood', strcat('E', tostring(i % 11)))),"
        " Damage = iff(i % 3 == 0 or i % 10 == 0, 'YES', 'NO'), Crops = iff(i % 9 == 0, i % 7, 0),"
        " Message = iff(i % 2 == 0, strcat('user ', tostring(i % 977), ' logged in from host-', tostring(i % 31)),"
        " strcat('disk ', tostring(i % 13), ' is ', iff(i % 3 == 0, 'full', 'slow')))"
        "| project-away i;\n"
    )


QUERIES: dict[str, str] = {
    "reduce": "T | reduce by Message with threshold=0.6",
    "basket": "T | project State, EventType, Damage, Crops | evaluate basket(0.05)",
    "autocluster": "T | project State, EventType, Damage, Crops | evaluate autocluster()",
    "diffpatterns": "T | project State, EventType, Damage, Crops | evaluate diffpatterns(Damage, 'NO', 'YES')",
    "diffpatterns_text": "T | evaluate diffpatterns_text(Message, Damage == 'YES')",
}
BASELINE = "T | summarize count() by State, EventType, Damage, Crops, Message"


def timed(query: str, backend: DuckDBBackend, repeat: int) -> tuple[float, int]:
    times = []
    rows = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = execute(query, backend=backend, row_cap=None).table.num_rows
        times.append(time.perf_counter() - t0)
    return statistics.median(times), rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    backend = DuckDBBackend(None)
    head = source(args.rows)
    base, base_rows = timed(head + BASELINE, backend, args.repeat)
    print(
        f"{args.rows:,} rows; baseline (summarize count() by the same columns): {base:.3f} s, {base_rows} groups"
    )
    ratios = []
    for name, query in QUERIES.items():
        took, rows = timed(head + query, backend, args.repeat)
        ratios.append(took / base)
        print(f"{name:20s} {took:8.3f} s  {took / base:6.2f}x baseline  ({rows} rows out)")
    print(f"geometric mean: {math.exp(sum(math.log(r) for r in ratios) / len(ratios)):.2f}x baseline")


if __name__ == "__main__":
    main()
