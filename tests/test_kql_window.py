"""The hunt window: `execute(..., window=(start, end))` restricts every archive table a query reads to
[start, end) and lets DuckDB skip the other day partitions; literal sources are not restricted; a parsed
(or rewritten) Script runs like text."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from huntvault import kql
from huntvault.archive import Archive
from huntvault.errors import KqlError, KqlSemanticError
from huntvault.kql import ast as A
from huntvault.kql.backends import DuckDBBackend

T0 = datetime(2024, 6, 10, tzinfo=UTC)
WINDOW = (datetime(2024, 6, 11, tzinfo=UTC), datetime(2024, 6, 12, tzinfo=UTC))
NOW = datetime(2024, 6, 13, tzinfo=UTC)


def _events(table_kind: str, n: int) -> list[dict[str, object]]:
    """`n` rows six hours apart from 2024-06-10 00:00 (four per day), devices d0..d2."""
    return [
        {
            "Timestamp": (T0 + timedelta(hours=6 * i)).isoformat(),
            "DeviceId": f"d{i % 3}",
            "DeviceName": f"host{i % 3}",
            "ReportId": i,
            "ActionType": table_kind,
            "FileName": f"f{i}.exe",
            "RemotePort": 443,
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("window") / "archive"
    with Archive(root) as arc:
        arc.append_rows("DeviceNetworkEvents", _events("ConnectionSuccess", 12))
        arc.append_rows("DeviceProcessEvents", _events("ProcessCreated", 12))
    return root


@pytest.fixture(scope="module")
def backend(archive: Path) -> DuckDBBackend:
    return DuckDBBackend(archive)


def count(query: str, backend: DuckDBBackend, window: tuple[datetime, datetime] | None = WINDOW) -> int:
    rows = kql.execute(query + " | count", backend=backend, now=NOW, window=window).rows()
    value = rows[0]["Count"]
    assert isinstance(value, int)
    return value


@pytest.mark.parametrize(
    ("query", "inside", "everything"),
    [
        ("DeviceNetworkEvents", 4, 12),
        ("ProcessCreationEvents", 4, 12),  # a legacy name of DeviceProcessEvents
        ('table("DeviceNetworkEvents")', 4, 12),
        ("union DeviceNetworkEvents, DeviceProcessEvents", 8, 24),
        ("union Device*Events", 8, 24),
        ("let t = DeviceNetworkEvents | where RemotePort == 443; t | union (t)", 8, 24),
        ("DeviceNetworkEvents | join kind=inner (DeviceProcessEvents) on DeviceId", 6, 48),
        (
            "DeviceNetworkEvents | where DeviceId in ((DeviceProcessEvents | where ReportId >= 0 | project DeviceId))",
            4,
            12,
        ),
    ],
)
def test_every_table_a_query_reads_is_restricted(
    backend: DuckDBBackend, query: str, inside: int, everything: int
) -> None:
    assert count(query, backend) == inside
    assert count(query, backend, window=None) == everything


def test_the_window_is_half_open(backend: DuckDBBackend) -> None:
    """Rows at exactly `start` are in, at exactly `end` out (2024-06-11 00:00 in, 2024-06-12 00:00 out)."""
    rows = kql.execute(
        "DeviceNetworkEvents | summarize min(Timestamp), max(Timestamp)", backend=backend, window=WINDOW
    ).rows()
    assert rows == [{"min_Timestamp": "2024-06-11T00:00:00Z", "max_Timestamp": "2024-06-11T18:00:00Z"}]


def test_literal_sources_are_not_restricted(backend: DuckDBBackend) -> None:
    query = (
        "datatable(Timestamp:datetime)[datetime(2020-01-01)] | union (print Timestamp = datetime(2030-01-01))"
    )
    assert count(query, backend) == 2


def test_day_partitions_outside_the_window_are_not_scanned(backend: DuckDBBackend) -> None:
    sql = kql.compile_query("DeviceNetworkEvents", backend, NOW, window=WINDOW).sql
    assert "date BETWEEN CAST('2024-06-11' AS DATE) AND CAST('2024-06-11' AS DATE)" in sql
    profile = "\n".join(str(r[1]) for r in backend.con.sql("EXPLAIN ANALYZE " + sql).fetchall())
    assert re.search(r"Scanning Files: 1/3", profile), profile


def test_a_window_that_ends_within_a_day_scans_that_day(backend: DuckDBBackend) -> None:
    window = (datetime(2024, 6, 10, 12, tzinfo=UTC), datetime(2024, 6, 11, 6, tzinfo=UTC))
    assert (
        count("DeviceNetworkEvents", backend, window) == 3
    )  # 12:00 and 18:00 on the 10th, 00:00 on the 11th
    sql = kql.compile_query("DeviceNetworkEvents", backend, NOW, window=window).sql
    assert "BETWEEN CAST('2024-06-10' AS DATE) AND CAST('2024-06-11' AS DATE)" in sql


@pytest.mark.parametrize(
    "window",
    [
        (WINDOW[1], WINDOW[0]),
        (WINDOW[0], WINDOW[0]),
        (datetime(2024, 6, 11), datetime(2024, 6, 12)),
    ],
    ids=["reversed", "empty", "naive"],
)
def test_an_invalid_window_is_a_clear_error(
    backend: DuckDBBackend, window: tuple[datetime, datetime]
) -> None:
    with pytest.raises(KqlError, match="invalid hunt window"):
        kql.execute("DeviceNetworkEvents", backend=backend, window=window)


def test_a_parsed_and_rewritten_script_runs(backend: DuckDBBackend) -> None:
    """The detect engine's one-pass backtests rewrite the AST: execute takes the Script, errors keep positions."""
    script = kql.parse("DeviceNetworkEvents\n| where RemotePort == 443\n| summarize n = count() by DeviceId")
    assert isinstance(script.query, A.Pipeline)
    rewritten = dataclasses.replace(
        script,
        query=dataclasses.replace(
            script.query, ops=[*script.query.ops, A.Sort([A.SortKey(A.Name("DeviceId"))])]
        ),
    )
    rows = kql.execute(rewritten, backend=backend, window=WINDOW).rows()
    assert rows == [{"DeviceId": "d2", "n": 1}, {"DeviceId": "d1", "n": 2}, {"DeviceId": "d0", "n": 1}]
    broken = kql.parse("DeviceNetworkEvents\n| where Nope == 1")
    with pytest.raises(KqlSemanticError) as info:
        kql.execute(broken, backend=backend)
    assert (info.value.line, info.value.column) == (2, 9) and "Nope" in info.value.render()
