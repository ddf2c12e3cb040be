"""The Spark fixture cases (marked `# spark`) run on a standalone Spark cluster (master + one worker on
127.0.0.1, started from pyspark's distribution) and compared with DuckDB, over a shared local archive."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from huntvault.errors import KqlUnsupportedError
from huntvault.kql import execute
from tests.support.kql import NOW, Case, canonical, load_cases, sample_rows, write_archive

SPARK_CASES = [c for c in load_cases() if c.spark]
#: the process's PYSPARK_PYTHON before any Spark session is opened here (opening one must not set it)
PYSPARK_PYTHON_BEFORE = os.environ.get("PYSPARK_PYTHON")

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark_limits():  # type: ignore[no-untyped-def]
    pytest.importorskip("pyspark")
    from huntvault.kql import HuntLimits
    from tests.support.spark import start_spark_cluster

    with start_spark_cluster() as cluster:
        yield HuntLimits(spark_master=cluster.url, spark_conf=cluster.conf)


@pytest.fixture(scope="module")
def spark_backend(spark_limits):  # type: ignore[no-untyped-def]
    from huntvault.kql.backends import SparkBackend

    backend = SparkBackend(None, spark_limits)
    assert str(backend.spark.sparkContext.master).startswith("spark://127.0.0.1:")
    return backend


def test_spark_workers_python_is_given_to_the_session_not_the_process(spark_backend) -> None:  # type: ignore[no-untyped-def]
    assert os.environ.get("PYSPARK_PYTHON") == PYSPARK_PYTHON_BEFORE  # the process environment is left alone
    want = PYSPARK_PYTHON_BEFORE or sys.executable
    assert spark_backend.spark.sparkContext.pythonExec == want
    assert spark_backend.spark.conf.get("spark.pyspark.python") == want
    # a Python UDF runs in the worker with that interpreter (series_stats is computed in Python)
    rows = execute(
        "print y = dynamic([1, 2, 3]) | project s = series_stats_dynamic(y).max", backend=spark_backend
    ).rows()
    assert rows == [{"s": 3.0}]


def test_enough_spark_cases() -> None:
    assert len(SPARK_CASES) >= 30


@pytest.mark.parametrize("case", SPARK_CASES, ids=[c.id for c in SPARK_CASES])
def test_spark_case(case: Case, spark_backend) -> None:  # type: ignore[no-untyped-def]
    assert case.expected is not None
    result = execute(case.query, backend=spark_backend, now=NOW)
    assert canonical(result.rows(), case.ordered) == canonical(case.expected, case.ordered), result.sql


SPARK_SERIES = [
    "print y = dynamic([1, 2, 3, 10, 2]) | extend series_stats(y)",
    "print y = dynamic([1, 2, 3, 10, 2]) | project s = series_stats_dynamic(y)",
    "print y = dynamic([1, 2, 3, 4, 5]) | extend series_fit_line(y)",
    "print y = dynamic([1, 2, 3, 40, 5, 6, 7, 8, 9, 10, 11, 12]) | project o = series_outliers(y)",
    "print y = dynamic([1, null, 3]) | project f = series_fill_linear(y)",
    "print y = dynamic([1, 2, 3, 40, 5, 6, 7, 8, 9, 10, 11, 12]) | extend series_decompose_anomalies(y, 1.5)",
    "print y = dynamic([1, 2, 3]) | project f = series_fir(y, dynamic([1, 1]))",
    "print y = dynamic([1, 2, 3]) | project a = series_add(y, y), b = series_greater(y, 2), c = series_divide(6, y)",
    "datatable(k:string, y:dynamic)['a', dynamic([1, 5, 2]), 'b', dynamic([4])] "
    "| extend series_stats(y) | project k, series_stats_y_max, series_stats_y_avg",
    "datatable(t:datetime, g:string, v:long)[datetime(2024-06-15 00:10), 'a', 1, datetime(2024-06-15 02:10), 'a', 2, "
    "datetime(2024-06-15 01:00), 'b', 5] | make-series s = sum(v) default=0 on t from datetime(2024-06-15) "
    "to datetime(2024-06-15 03:00) step 1h by g",
    "datatable(t:datetime, v:real)[datetime(2024-01-01), 1.5, datetime(2024-01-03), 2.5] "
    "| make-series a = avg(v), c = count() on t from datetime(2024-01-01) to datetime(2024-01-04) step 1d "
    "| extend series_stats(a)",
    "range x from 1 to 500 step 1 | extend t = datetime(2024-01-01) + x * 7m, g = x % 3 "
    "| make-series n = count() on t from datetime(2024-01-01) to datetime(2024-01-04) step 1h by g",
]


@pytest.mark.parametrize("query", SPARK_SERIES)
def test_spark_series_udf_functions_match_duckdb(query: str, spark_backend) -> None:  # type: ignore[no-untyped-def]
    duck = execute(query, now=NOW).rows()
    spark = execute(query, backend=spark_backend, now=NOW).rows()
    assert canonical(spark, False) == canonical(duck, False)


SPARK_LISTS = [
    "datatable(g:string, v:long)['a', 1, 'a', 3, 'b', 2, 'b', int(null)] | summarize y = make_list(v) by g",
    "datatable(g:string, v:real)['a', 1.5, 'a', 3.25, 'b', 2.0] | summarize y = make_set(v) by g",
    "datatable(g:string, v:string)['a', 'x', 'a', 'y', 'b', 'z'] | summarize y = make_list(v, 1) by g "
    "| extend n = array_length(y)",
]


@pytest.mark.parametrize("query", SPARK_LISTS)
def test_spark_make_list_of_any_type(query: str, spark_backend) -> None:  # type: ignore[no-untyped-def]
    def norm(rows: list[dict[str, object]]) -> list[str]:  # list order is not defined (as in Kusto)
        out = [{k: sorted(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows]
        return sorted(json.dumps(r, sort_keys=True, default=str) for r in out)

    duck = execute(query, now=NOW).rows()
    assert norm(execute(query, backend=spark_backend, now=NOW).rows()) == norm(duck)


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("series_fill_const", "print y = dynamic([1, null]) | project a = series_fill_const(y, 0)"),
        (
            "make-series of a datetime aggregate",
            "datatable(t:datetime, v:long)[datetime(2024-01-01), 1] "
            "| make-series s = max(t) on t from datetime(2024-01-01) to datetime(2024-01-03) step 1d",
        ),
        (  # an inner lookup runs on Spark; the outer one would put the Python UDF in a LEFT JOIN's condition
            "geo_polygon_lookup",
            "let P = datatable(name:string, poly:dynamic)"
            '["a", dynamic({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]})];'
            "datatable(lng:real, lat:real)[0.5, 0.5, 5.0, 5.0] "
            "| evaluate geo_polygon_lookup(P, poly, lng, lat, return_unmatched = true)",
        ),
    ],
)
def test_spark_duckdb_only_features_fail_by_name(name: str, query: str, spark_backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KqlUnsupportedError, match=rf"{name}(\(\))? runs on the DuckDB engine only"):
        execute(query, backend=spark_backend, now=NOW)


ARCHIVE_QUERIES = [
    'DeviceProcessEvents | where ProcessCommandLine has "-enc" or FileName =~ "CMD.EXE" | project ReportId, FileName',
    "DeviceProcessEvents | summarize n = count(), files = dcount(FileName) by DeviceName, bin(Timestamp, 1d)",
    "ProcessCreationEvents | join kind=leftouter (DeviceNetworkEvents | project DeviceId, RemotePort) on DeviceId "
    "| project ReportId, RemotePort",
    "DeviceProcessEvents | where TimeGenerated > ago(1d) | extend Tag = tostring(AdditionalFields.Tag) | project ReportId, Tag",
]


@pytest.mark.parametrize("query", ARCHIVE_QUERIES)
def test_spark_matches_duckdb_over_an_archive(query: str, spark_limits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from huntvault.kql.backends import DuckDBBackend, SparkBackend

    archive = write_archive(tmp_path / "archive", sample_rows())
    duck = execute(query, backend=DuckDBBackend(archive), now=NOW)
    spark = execute(query, backend=SparkBackend(archive, spark_limits), now=NOW)
    assert duck.table.num_rows > 0
    assert canonical(spark.rows(), False) == canonical(duck.rows(), False), spark.sql


def test_spark_reads_the_exact_snapshot_file_list(spark_limits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A part the snapshot does not hold (an orphan) is never read: Spark gets the Delta file list."""
    import shutil

    from huntvault.archive import table_files
    from huntvault.kql.backends import SparkBackend

    archive = write_archive(tmp_path / "archive", sample_rows())
    part = table_files(archive, "DeviceProcessEvents")[0].id
    shutil.copy(archive / part, (archive / part).with_name("part-stray.parquet"))
    query = "DeviceProcessEvents | count"
    duck = execute(query, archive, now=NOW).rows()
    spark = execute(query, backend=SparkBackend(archive, spark_limits), now=NOW).rows()
    assert spark == duck and duck[0]["Count"] == len(sample_rows()["DeviceProcessEvents"])


def test_spark_hunt_window_matches_duckdb(spark_limits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The window restricts Spark's tables too (and filters the `date` partition column Spark reads)."""
    from datetime import UTC, datetime

    from huntvault.kql.backends import DuckDBBackend, SparkBackend

    archive = write_archive(tmp_path / "archive", sample_rows())
    query = "union DeviceProcessEvents, DeviceNetworkEvents | summarize n = count() by DeviceName"
    window = (datetime(2024, 6, 14, tzinfo=UTC), datetime(2024, 6, 15, tzinfo=UTC))
    duck = execute(query, backend=DuckDBBackend(archive), now=NOW, window=window)
    spark = execute(query, backend=SparkBackend(archive, spark_limits), now=NOW, window=window)
    everything = execute(query, backend=DuckDBBackend(archive), now=NOW)
    assert canonical(spark.rows(), False) == canonical(duck.rows(), False), spark.sql
    assert sum(r["n"] for r in duck.rows()) < sum(r["n"] for r in everything.rows())  # type: ignore[misc]
    assert re.search(
        r"\bdate`? BETWEEN CAST\('2024-06-14' AS DATE\) AND CAST\('2024-06-14' AS DATE\)", spark.sql
    )


def test_spark_binds_the_tables_an_archive_does_not_carry(spark_limits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Tables without parts get their typed empty view when a query first names them: same answer as DuckDB."""
    from huntvault.kql.backends import DuckDBBackend, SparkBackend

    archive = write_archive(tmp_path / "archive", sample_rows())
    spark_backend = SparkBackend(archive, spark_limits)
    duck_backend = DuckDBBackend(archive)
    for query in (
        "CloudAuditEvents | take 1",
        "EntraIdSignInEvents | where Timestamp > ago(7d) | summarize n = count() by AccountUpn",
        "DeviceProcessEvents | distinct DeviceName "
        "| join kind=leftanti (DisruptionAndResponseEvents | distinct DeviceName) on DeviceName | count",
        "MessageUrlInfo | getschema | project ColumnName, ColumnType",
    ):
        spark = execute(query, backend=spark_backend, now=NOW)
        duck = execute(query, backend=duck_backend, now=NOW)
        assert spark.table.column_names == duck.table.column_names, query
        assert canonical(spark.rows(), False) == canonical(duck.rows(), False), spark.sql
