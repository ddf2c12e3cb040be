"""Spark parity over the Kusto documentation's examples: of the kqldocs cases DuckDB passes, the share that
also pass on `--engine spark` (same plan, one Spark session for all), and how the others fail.

Run: `.venv/bin/python bench/kql_spark_parity.py [--master local[1] | --cluster] [--limit N]`; `--cluster`
starts a standalone master and worker on 127.0.0.1 (tests/support/spark.py) and runs there. Needs ../shared (the
cases and the checker, loaded with importlib) and pyspark. A Spark failure is either an error naming the
feature as DuckDB-only (KqlUnsupportedError) or a real gap (another error, or different rows); both are
listed by kind at the end.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.support.kql import NOW  # noqa: E402

from huntvault.errors import KqlUnsupportedError  # noqa: E402
from huntvault.kql import HuntLimits, execute  # noqa: E402
from huntvault.kql.backends import DuckDBBackend  # noqa: E402

SHARED = ROOT.parent / "shared"
SKIP = {"nondeterministic", "truncated", "multi_table", "sandbox"}


def _check(chk: Any, case: dict[str, Any], backend: Any) -> str | None:
    try:
        result = execute(case["query"], backend=backend, now=NOW, timeout=60)
        rows = json.loads(json.dumps(result.rows(), default=str))
        why: str | None = chk.check(case, result.table.column_names, rows)
        return None if why is None else f"rows: {why}"
    except KqlUnsupportedError as exc:
        return f"duckdb-only: {exc.message}"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:140]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--master", default="local[1]")
    ap.add_argument("--cluster", action="store_true", help="a standalone master + worker on 127.0.0.1")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    if args.cluster:
        from tests.support.spark import start_spark_cluster

        with start_spark_cluster() as cluster:
            return measure(HuntLimits(spark_master=cluster.url, spark_conf=cluster.conf), args.limit)
    local = (("spark.driver.host", "127.0.0.1"), ("spark.driver.bindAddress", "127.0.0.1"))
    return measure(HuntLimits(spark_master=args.master, spark_conf=local), args.limit)


def measure(limits: HuntLimits, limit: int) -> int:
    """Run the DuckDB-passing docs cases on Spark with `limits`; print the share and the failures."""
    spec = importlib.util.spec_from_file_location("kqldocs_check", SHARED / "tools" / "kqldocs_check.py")
    if spec is None or spec.loader is None:
        print("../shared/tools/kqldocs_check.py is absent")
        return 2
    chk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chk)
    lines = (SHARED / "corpus" / "kqldocs" / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [c for c in (json.loads(ln) for ln in lines if ln.strip()) if not SKIP & set(c["flags"])]
    duck = DuckDBBackend(None)
    passing = [c for c in cases if _check(chk, c, duck) is None]
    if limit:
        passing = passing[:limit]
    from huntvault.kql.backends import SparkBackend

    t0 = time.perf_counter()
    spark = SparkBackend(None, limits)
    print(f"spark session: {time.perf_counter() - t0:.1f} s", flush=True)
    kinds: collections.Counter[str] = collections.Counter()
    failures: list[tuple[str, str]] = []
    for case in passing:
        why = _check(chk, case, spark)
        if why is not None:
            failures.append((case["id"], why))
            kinds[why.split(":")[0]] += 1
    ok = len(passing) - len(failures)
    print(f"kqldocs on DuckDB: {len(passing)}/{len(cases)} pass")
    print(
        f"spark parity: {ok}/{len(passing)} = {100 * ok / max(len(passing), 1):.1f}% of them also pass on Spark"
    )
    print("failures by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    for case_id, why in failures:
        print(f"  {case_id.rsplit('/', 1)[-1]}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
