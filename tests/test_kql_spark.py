"""The same fixture cases on the Spark engine (pyspark local mode): the cases marked `# spark`, one JVM."""

from __future__ import annotations

from pathlib import Path

import pytest

from huntvault.errors import KqlUnsupportedError
from huntvault.kql import execute
from tests.support.kql import NOW, Case, canonical, load_cases, sample_rows, write_archive

SPARK_CASES = [c for c in load_cases() if c.spark]

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark_backend():  # type: ignore[no-untyped-def]
    pytest.importorskip("pyspark")
    from huntvault.kql.backends import SparkBackend

    return SparkBackend(None)


def test_enough_spark_cases() -> None:
    assert len(SPARK_CASES) >= 30


@pytest.mark.parametrize("case", SPARK_CASES, ids=[c.id for c in SPARK_CASES])
def test_spark_case(case: Case, spark_backend) -> None:  # type: ignore[no-untyped-def]
    assert case.expected is not None
    result = execute(case.query, backend=spark_backend, now=NOW)
    assert canonical(result.rows(), case.ordered) == canonical(case.expected, case.ordered), result.sql


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("series_stats", "print y = dynamic([1, 2, 3]) | extend series_stats(y)"),
        (
            "series_decompose_anomalies",
            "print y = dynamic([1, 2, 3]) | project d = series_decompose_anomalies(y)",
        ),
        ("series_add", "print y = dynamic([1, 2, 3]) | project a = series_add(y, y)"),
    ],
)
def test_spark_series_functions_fail_by_name(name: str, query: str, spark_backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KqlUnsupportedError, match=rf"{name}\(\) runs on the DuckDB engine only"):
        execute(query, backend=spark_backend, now=NOW)


ARCHIVE_QUERIES = [
    'DeviceProcessEvents | where ProcessCommandLine has "-enc" or FileName =~ "CMD.EXE" | project ReportId, FileName',
    "DeviceProcessEvents | summarize n = count(), files = dcount(FileName) by DeviceName, bin(Timestamp, 1d)",
    "ProcessCreationEvents | join kind=leftouter (DeviceNetworkEvents | project DeviceId, RemotePort) on DeviceId "
    "| project ReportId, RemotePort",
    "DeviceProcessEvents | where TimeGenerated > ago(1d) | extend Tag = tostring(AdditionalFields.Tag) | project ReportId, Tag",
]


@pytest.mark.parametrize("query", ARCHIVE_QUERIES)
def test_spark_matches_duckdb_over_an_archive(query: str, spark_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from huntvault.kql.backends import DuckDBBackend, SparkBackend

    archive = write_archive(tmp_path / "archive", sample_rows())
    duck = execute(query, backend=DuckDBBackend(archive), now=NOW)
    spark = execute(query, backend=SparkBackend(archive), now=NOW)
    assert duck.table.num_rows > 0
    assert canonical(spark.rows(), False) == canonical(duck.rows(), False), spark.sql
