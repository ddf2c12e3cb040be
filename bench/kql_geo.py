"""Benchmark of the KQL geo functions: huntvault against a baseline measured in the same run.

Run: `.venv/bin/python bench/kql_geo.py [--rows 1000000] [--repeat 3]`. Points are generated in the query
(`range`), so no archive is needed. Three comparisons, best of N each, ratio = huntvault / baseline:

- `distance_sql`: `summarize sum(geo_distance_2points(...))` over N points (lowered to SQL) against the
  same haversine written by hand in DuckDB SQL over the same points (KQL's `%` and `/` spelled out);
- `distance_udf`: the same sum through the Python UDF (forced with a non-constant `use_spheroid` that is
  always false) against `distance_sql`: what lowering to SQL saves;
- `in_polygon_udf`: `countif(geo_point_in_polygon(...))` over N/10 points (the UDF: JSON arguments, the
  spherical winding test) against a plain Python loop calling the same geomath function: the UDF's overhead.

Every pair is checked to give the same answer. Timings are noisy on a shared machine: only ratios
measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import duckdb  # noqa: E402

from huntvault.kql import execute  # noqa: E402
from huntvault.kql.geomath.measures import point_in_polygon  # noqa: E402
from huntvault.kql.geomath.sphere import RADIUS  # noqa: E402

PARK = (
    '{"type":"Polygon","coordinates":[[[-73.9495,40.7969],[-73.95807266235352,40.80068603561921],'
    "[-73.98201942443848,40.76825672305777],[-73.97317886352539,40.76455136505513],[-73.9495,40.7969]]]}"
)


def kql_points(n: int) -> str:
    return (
        f"range i from 1 to {n} step 1"
        " | extend lng = -74.0 + (i % 1000) * 0.0001, lat = 40.75 + (i / 1000 % 1000) * 0.0001"
    )


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    out: object = None
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def kql_scalar(query: str) -> float:
    rows = execute(query, row_cap=10).rows()
    return float(next(iter(rows[0].values())))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    n = a.rows
    con = duckdb.connect()
    sql = f"""
        SELECT sum(2 * {RADIUS} * asin(least(1, sqrt(
            sin((radians(lat) - radians(40.0)) / 2) ^ 2
            + cos(radians(40.0)) * cos(radians(lat)) * sin((radians(lng) - radians(-73.0)) / 2) ^ 2))))
        FROM (SELECT -74.0 + (((i % 1000) + 1000) % 1000) * 0.0001 AS lng,
                     40.75 + (((trunc(i / 1000)::BIGINT % 1000) + 1000) % 1000) * 0.0001 AS lat
              FROM range(1, {n} + 1) t(i))
    """
    base_t, base = best(lambda: float(con.execute(sql).fetchone()[0]), a.repeat)  # type: ignore[index]
    kql = kql_points(n) + " | summarize sum(geo_distance_2points(-73.0, 40.0, lng, lat))"
    hv_t, hv = best(lambda: kql_scalar(kql), a.repeat)
    assert isinstance(hv, float) and isinstance(base, float) and math.isclose(hv, base, rel_tol=1e-9), (
        hv,
        base,
    )
    print(
        f"distance_sql    rows={n:>9}  baseline {base_t * 1000:8.1f} ms  huntvault {hv_t * 1000:8.1f} ms  ratio {hv_t / base_t:5.2f}"
    )

    m = max(1, n // 10)
    udf = kql_points(m) + " | summarize sum(geo_distance_2points(-73.0, 40.0, lng, lat, i < 0))"
    sql_m = kql_points(m) + " | summarize sum(geo_distance_2points(-73.0, 40.0, lng, lat))"
    s_t, s = best(lambda: kql_scalar(sql_m), a.repeat)
    u_t, u = best(lambda: kql_scalar(udf), a.repeat)
    assert isinstance(s, float) and isinstance(u, float) and math.isclose(s, u, rel_tol=1e-9), (s, u)
    print(
        f"distance_udf    rows={m:>9}  sql      {s_t * 1000:8.1f} ms  udf       {u_t * 1000:8.1f} ms  ratio {u_t / s_t:5.2f}"
    )

    park = __import__("json").loads(PARK)
    pts = [(-74.0 + (i % 1000) * 0.0001, 40.75 + (i // 1000 % 1000) * 0.0001) for i in range(1, m + 1)]
    loop_t, loop = best(lambda: sum(1 for x, y in pts if point_in_polygon([x, y, park]) is True), a.repeat)
    kql_in = kql_points(m) + f" | summarize countif(geo_point_in_polygon(lng, lat, dynamic({PARK})))"
    in_t, got = best(lambda: kql_scalar(kql_in), a.repeat)
    assert got == loop, (got, loop)
    print(
        f"in_polygon_udf  rows={m:>9}  python   {loop_t * 1000:8.1f} ms  huntvault {in_t * 1000:8.1f} ms  ratio {in_t / loop_t:5.2f}"
    )


if __name__ == "__main__":
    main()
