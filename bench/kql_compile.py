"""Benchmark of KQL compile time (parse + plan + SQL text) against query size, for the shapes that used to break.

Run: `.venv/bin/python bench/kql_compile.py [--scale 1.0] [--repeat 3]`. For each shape (a long `or` chain, an
`in` list, nested parentheses, a chain of `+`, chained lets, a long pipeline, a Sigma-like `or` of `has`
terms) it prints the best-of-N compile time at four sizes, the time per unit of size, and the growth
ratio (time per unit against the smallest size's, measured in the same run): about 1.0 means linear.
Sizes stop at the documented bounds (docs/kql.md, Limits). Past a bound the compile ends with a
KqlLimitError at once: the last line times the 3,000-operator pipeline and the 2,000 nested parentheses.
Timings are noisy on a shared machine: only ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from huntvault.errors import KqlLimitError  # noqa: E402
from huntvault.kql import QueryBounds, compile_query, open_backend  # noqa: E402

NO_DEADLINE = QueryBounds(compile_seconds=0)

#: shape -> (query of size n, the four sizes)
SHAPES: dict[str, tuple[Callable[[int], str], list[int]]] = {
    "or chain": (
        lambda n: "range x from 1 to 10 step 1 | where " + " or ".join(f"x == {i}" for i in range(n)),
        [125, 250, 500, 1000],
    ),
    "and chain": (
        lambda n: "range x from 1 to 10 step 1 | where " + " and ".join(f"x != {i}" for i in range(n)),
        [125, 250, 500, 1000],
    ),
    "in list": (
        lambda n: "range x from 1 to 10 step 1 | where x in (" + ", ".join(str(i) for i in range(n)) + ")",
        [1250, 2500, 5000, 10000],
    ),
    "has terms (Sigma)": (
        lambda n: "datatable(c:string)['a'] | where " + " or ".join(f'c has "term{i}.exe"' for i in range(n)),
        [30, 60, 120, 240],
    ),
    "nested parentheses": (lambda n: "print x = " + "(" * n + "1" + ")" * n, [24, 48, 96, 192]),
    "chained +": (lambda n: "print x = " + " + ".join(["1"] * n), [37, 75, 150, 295]),
    "chained lets": (
        lambda n: (
            "; ".join(["let a0 = 1"] + [f"let a{i} = a{i - 1} + 1" for i in range(1, n)])
            + f"; print a{n - 1}"
        ),
        [62, 125, 250, 500],
    ),
    "pipeline": (
        lambda n: "print x = 1 " + "".join(f"| extend y{i} = x + {i} " for i in range(n)),
        [37, 75, 150, 300],
    ),
}


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size (quick runs: 0.25)")
    args = ap.parse_args()
    backend = open_backend(None)
    print(f"{'shape':<20}{'size':>8}{'compile ms':>12}{'us per unit':>13}{'growth':>8}")
    for name, (make, sizes) in SHAPES.items():
        first: float | None = None
        for size in sizes:
            n = max(2, int(size * args.scale))
            query = make(n)
            t = best(lambda q=query: compile_query(q, backend, bounds=NO_DEADLINE), args.repeat)
            per_unit = t / n
            first = first or per_unit
            print(
                f"{name:<20}{n:>8}{t * 1000:>12.1f}{per_unit * 1e6:>13.1f}{per_unit / first:>8.2f}",
                flush=True,
            )
    for name, query in (
        ("3000-op pipeline", "print x = 1 " + "| where x > 0 " * 3000),
        ("2000 parentheses", "print x = " + "(" * 2000 + "1" + ")" * 2000),
        ("5000 chained +", "print x = " + " + ".join(["1"] * 5000)),
    ):
        t0 = time.perf_counter()
        try:
            compile_query(query, backend)
            outcome = "compiled"
        except KqlLimitError as exc:
            outcome = "KqlLimitError: " + exc.message.split(";")[0]
        print(f"{name:<20} {(time.perf_counter() - t0) * 1000:8.1f} ms  {outcome}")


if __name__ == "__main__":
    main()
