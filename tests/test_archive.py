"""The archive API: append_rows exactly once, catalog views, change feed, compaction, retention, orphans, status."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from huntvault.archive import (
    Archive,
    archive_schema,
    archived_tables,
    changes_since,
    compact,
    open_catalog,
    read_part,
    retention_apply,
    status,
    table_files,
)
from huntvault.cli import main
from huntvault.errors import ArchiveError, NormaliseError


def rows(day: str, start: int, n: int) -> list[dict]:
    return [
        {
            "Timestamp": f"{day}T10:00:{(start + i) % 60:02d}.1234567Z",
            "DeviceId": "d",
            "ReportId": start + i,
            "ActionType": "A",
            "FileSize": str(start + i),
            "Drift": start + i,
        }
        for i in range(n)
    ]


def test_append_rows_exactly_once_with_checkpoint(tmp_path: Path) -> None:
    with Archive(tmp_path) as arc:
        r1 = arc.append_rows(
            "DeviceFileEvents", rows("2026-07-20", 0, 5), source="fwd", checkpoint={"cursor": {"v": 1}}
        )
        r2 = arc.append_rows(
            "DeviceFileEvents", rows("2026-07-20", 3, 5), source="fwd", checkpoint={"cursor": {"v": 2}}
        )
        assert (r1.rows, r1.duplicates, r2.rows, r2.duplicates) == (5, 0, 3, 2)
        assert arc.checkpoints("fwd") == {"cursor": {"v": 2}}
        with pytest.raises(NormaliseError):
            arc.append_rows("DeviceFileEvents", [{"DeviceId": "no time"}])
        table = pa.Table.from_pylist([{"Timestamp": None}], schema=archive_schema("DeviceFileEvents"))
        with pytest.raises(ArchiveError):
            arc.append_rows("DeviceFileEvents", table.append_column("Bogus", pa.array([1])))
    con = open_catalog(tmp_path)
    got = con.sql(
        "SELECT count(*), min(FileSize), max(_Extra), typeof(min(Timestamp)) FROM DeviceFileEvents"
    ).fetchall()[0]
    assert got[0] == 8 and got[1] == 0 and json.loads(got[2]) == {"Drift": 7} and got[3] == "TIMESTAMP"
    assert (
        con.sql("SELECT min(Timestamp)::VARCHAR FROM DeviceFileEvents").fetchall()[0][0]
        == "2026-07-20 10:00:00.123456"
    )


def test_catalog_has_typed_empty_views_and_unknown_tables(tmp_path: Path) -> None:
    with Archive(tmp_path) as arc:
        arc.append_rows(
            "Alerts", [{"Timestamp": "2026-07-21T00:00:00Z", "id": "a1", "severity": "High"}], source="fwd"
        )
    assert archived_tables(tmp_path) == ["Alerts"]
    con = open_catalog(tmp_path)
    assert con.sql("SELECT count(*) FROM DeviceTvmSoftwareInventory").fetchall() == [(0,)]
    types = dict(con.sql("SELECT column_name, column_type FROM (DESCRIBE EmailEvents)").fetchall())
    assert types["Timestamp"] == "TIMESTAMP" and types["date"] == "DATE"
    extra = con.sql("SELECT _Extra, date FROM Alerts").fetchall()[0]
    assert json.loads(extra[0])["severity"] == "High" and extra[1] == date(2026, 7, 21)


def test_compaction_and_retention_feed_the_change_log(tmp_path: Path) -> None:
    with Archive(tmp_path) as arc:
        for k in range(4):
            arc.append_rows("DeviceInfo", rows("2026-07-01", k * 10, 10), source="s")
        arc.append_rows("DeviceInfo", rows("2026-07-20", 100, 10), source="s")
    before = table_files(tmp_path, "DeviceInfo")
    assert len(before) == 5 and all(p.id.startswith("DeviceInfo/date=") for p in before)
    pos = changes_since(tmp_path).position
    rep = compact(tmp_path, target_rows=1000, grace_hours=0)
    assert (rep.parts_before, rep.parts_after, rep.rows) == (4, 1, 40)
    after = table_files(tmp_path, "DeviceInfo")
    assert len(after) == 2 and all((tmp_path / p.id).exists() for p in after)
    assert not any((tmp_path / p.id).exists() for p in before[:4])  # vacuumed (no grace)
    feed = changes_since(tmp_path, pos)
    assert sorted(c.action for c in feed.changes) == ["add", "remove", "remove", "remove", "remove"]
    added = next(c for c in feed.changes if c.action == "add")
    assert added.rows == 40 and not added.data_change and read_part(tmp_path, added.part).num_rows == 40
    dropped = retention_apply(
        tmp_path, default_days=0, per_table={"DeviceInfo": 10}, today=date(2026, 7, 25), grace_hours=0
    )
    assert [(d.table, d.date, d.rows) for d in dropped] == [("DeviceInfo", "2026-07-01", 40)]
    last = changes_since(tmp_path, feed.position)
    assert [(c.action, c.date) for c in last.changes] == [("remove", "2026-07-01")]
    assert not list((tmp_path / "DeviceInfo").glob("date=2026-07-01/*.parquet"))
    assert open_catalog(tmp_path).sql("SELECT count(*) FROM DeviceInfo").fetchall() == [(10,)]
    # dropped keys are forgotten: the same rows may be archived again
    with Archive(tmp_path) as arc:
        assert arc.append_rows("DeviceInfo", rows("2026-07-01", 0, 10)).rows == 10
    assert retention_apply(tmp_path, default_days=0, today=date(2030, 1, 1)) == []  # 0 keeps forever


def test_vacuum_grace_keeps_removed_files_for_running_readers(tmp_path: Path) -> None:
    with Archive(tmp_path) as arc:
        for k in range(3):
            arc.append_rows("DeviceInfo", rows("2026-07-01", k * 10, 10), source="s")
    before = table_files(tmp_path, "DeviceInfo")
    reader = open_catalog(tmp_path)  # a snapshot taken before the compaction
    rep = compact(tmp_path, target_rows=1000)  # default grace: 24 h
    assert rep.parts_before == 3 and rep.vacuumed == 0
    assert all((tmp_path / p.id).exists() for p in before)
    assert reader.sql("SELECT count(*) FROM DeviceInfo").fetchall() == [(30,)]
    assert open_catalog(tmp_path).sql("SELECT count(*) FROM DeviceInfo").fetchall() == [(30,)]


def test_orphan_parts_removed_on_open(tmp_path: Path) -> None:
    import orjson

    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceInfo", rows("2026-07-01", 0, 3))
    day = tmp_path / "DeviceInfo" / "date=2026-07-01"
    kept = sorted(p.name for p in day.iterdir())
    # a writer killed mid-commit: its intent names the parts it was writing (one written, one in a temp file)
    (day / "part-dead-0.parquet").write_bytes(b"PAR1")
    (day / ".part-dead-1.parquet.123.tmp").write_bytes(b"x")
    (tmp_path / "DeviceInfo" / "date=2026-07-02").mkdir()
    (tmp_path / "DeviceInfo" / "date=2026-07-02" / "part-foreign.parquet").write_bytes(b"PAR1")
    intents = tmp_path / "_huntvault" / "intents"
    intents.mkdir(parents=True, exist_ok=True)
    (intents / "dead.DeviceInfo.json").write_bytes(
        orjson.dumps(
            {
                "table": "DeviceInfo",
                "parts": [
                    "DeviceInfo/date=2026-07-01/part-dead-0.parquet",
                    "DeviceInfo/date=2026-07-01/part-dead-1.parquet",
                ],
            }
        )
    )
    Archive(tmp_path).close()
    assert (
        sorted(p.name for p in day.iterdir())
        == kept
        == [Path(table_files(tmp_path, "DeviceInfo")[0].id).name]
    )
    assert not list(intents.iterdir())
    # a file no intent names is left alone (it may belong to a writer on another machine)
    assert (tmp_path / "DeviceInfo" / "date=2026-07-02" / "part-foreign.parquet").exists()


def test_status_and_cli(tmp_path: Path) -> None:
    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceInfo", rows("2026-07-01", 0, 3), source="s", checkpoint={"b": {"offset": 1}})
    st = status(tmp_path)
    assert st.tables[0].rows == 3 and (st.tables[0].min_timestamp or "").startswith("2026-07-01T10:00:00")
    assert st.sources[0].source == "s" and st.sources[0].streams == 1
    runner = CliRunner()
    res = runner.invoke(main, ["status", "--archive", str(tmp_path), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["total_rows"] == 3
    res = runner.invoke(main, ["compact", "--archive", str(tmp_path)])
    assert res.exit_code == 0 and "0 parts" in res.output
    res = runner.invoke(main, ["status", "--archive", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a huntvault archive" in res.output
    res = runner.invoke(main, ["status", "--archive", "az://"])
    assert res.exit_code == 2 and "archive.path" in res.output


def test_retention_cli_uses_config(tmp_path: Path) -> None:
    arc = tmp_path / "arc"
    with Archive(arc) as a:
        a.append_rows("DeviceInfo", rows("2020-01-01", 0, 2))
        a.append_rows("EmailEvents", [{"Timestamp": "2020-01-01T00:00:00Z", "NetworkMessageId": "m1"}])
    cfg = tmp_path / "huntvault.toml"
    cfg.write_text("[retention]\ndefault_days = 0\ntables = { DeviceInfo = 30 }\n")
    runner = CliRunner()
    res = runner.invoke(
        main, ["--config", str(cfg), "retention", "apply", "--archive", str(arc), "--dry-run"]
    )
    assert res.exit_code == 0 and "would drop DeviceInfo 2020-01-01" in res.output
    assert table_files(arc, "DeviceInfo")
    res = runner.invoke(main, ["--config", str(cfg), "retention", "apply", "--archive", str(arc)])
    assert res.exit_code == 0 and "dropped 1 partitions" in res.output
    assert archived_tables(arc) == ["EmailEvents"]


def test_catalog_time_filter_skips_row_groups(tmp_path: Path) -> None:
    with Archive(tmp_path) as arc:
        for day in ("2026-07-01", "2026-07-02", "2026-07-03", "2026-07-04"):
            arc.append_rows("DeviceFileEvents", rows(day, 0, 20))
    con = open_catalog(tmp_path)
    query = "SELECT count(*) FROM DeviceFileEvents WHERE Timestamp > TIMESTAMP '2026-07-04 00:00:00'"
    assert con.sql(query).fetchall() == [(20,)]
    assert con.sql("SELECT typeof(Timestamp) FROM DeviceFileEvents LIMIT 1").fetchall() == [("TIMESTAMP",)]
    plan = "\n".join(str(r[1]) for r in con.sql("EXPLAIN ANALYZE " + query).fetchall())
    found = re.search(r"Row Groups Scanned: (\d+) / (\d+)", plan)
    assert found is not None, plan
    assert int(found.group(1)) < int(found.group(2)) == 4
    con.close()


def _seen_keys(root: Path, table: str = "DeviceFileEvents") -> list[bytes]:
    import sqlite3

    con = sqlite3.connect(root / "_huntvault" / "keys" / f"{table}.sqlite")
    try:
        return [r[0] for r in con.execute("SELECT k FROM seen ORDER BY k")]
    finally:
        con.close()


def test_keys_are_ordered_by_event_time(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceFileEvents", rows("2026-07-20", 0, 5))
        assert arc.append_rows("DeviceFileEvents", rows("2026-07-20", 0, 5)).duplicates == 5
    keys = _seen_keys(tmp_path)
    assert len(keys) == 5 and all(len(k) == 16 for k in keys)
    first = datetime(2026, 7, 20, 10, 0, 0, 123456, tzinfo=UTC)
    micros = int(first.timestamp()) * 1_000_000 + first.microsecond
    # the leading 8 bytes are the event time (offset binary): keys sort in time order
    assert int.from_bytes(keys[0][:8], "big") - 2**63 == micros
    assert [int.from_bytes(k[:8], "big") for k in keys] == sorted(int.from_bytes(k[:8], "big") for k in keys)


def test_key_index_is_rebuilt_from_the_table(tmp_path: Path) -> None:
    import shutil

    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceFileEvents", rows("2026-07-20", 0, 6))
    keys = _seen_keys(tmp_path)
    shutil.rmtree(tmp_path / "_huntvault" / "keys")  # the index is a cache: lost, it is read back from Delta
    with Archive(tmp_path) as arc:
        res = arc.append_rows("DeviceFileEvents", rows("2026-07-20", 3, 6))
        assert (res.rows, res.duplicates) == (3, 3)
    assert set(keys) < set(_seen_keys(tmp_path)) and len(_seen_keys(tmp_path)) == 9


def test_plain_deltalake_reads_what_huntvault_reports(tmp_path: Path) -> None:
    """Any engine can read the archive: delta-rs and pyarrow alone (no huntvault code) get the same rows."""
    from deltalake import DeltaTable

    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceFileEvents", rows("2026-07-20", 0, 7))
        arc.append_rows("DeviceFileEvents", rows("2026-07-21", 0, 4))
        arc.append_rows("DeviceFileEvents", rows("2026-07-21", 2, 4))
    theirs = pa.table(DeltaTable(str(tmp_path / "DeviceFileEvents")).to_pyarrow_table())
    ours = (
        open_catalog(tmp_path)
        .sql("SELECT * REPLACE (timezone('UTC', Timestamp) AS Timestamp) FROM DeviceFileEvents")
        .to_arrow_table()
    )
    assert theirs.num_rows == ours.num_rows == status(tmp_path).tables[0].rows == 13
    key = ["date", "ReportId", "Timestamp"]
    a = theirs.select(["date", "ReportId", "Timestamp", "FileSize", "_Extra"]).sort_by(
        [(k, "ascending") for k in key]
    )
    b = ours.select(["date", "ReportId", "Timestamp", "FileSize", "_Extra"]).sort_by(
        [(k, "ascending") for k in key]
    )
    assert a.column("ReportId").to_pylist() == b.column("ReportId").to_pylist()
    assert a.column("_Extra").to_pylist() == b.column("_Extra").to_pylist()
    assert [t.timestamp() for t in a.column("Timestamp").to_pylist()] == [
        t.timestamp() for t in b.column("Timestamp").to_pylist()
    ]
    assert [str(d) for d in a.column("date").to_pylist()] == [str(d) for d in b.column("date").to_pylist()]


def test_lazy_catalog_reads_only_named_tables_and_detect_windows_still_prune(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from huntvault.detect.engine import ArchiveRunner
    from huntvault.kql import compile_query
    from huntvault.kql.backends import DuckDBBackend

    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceFileEvents", rows("2026-07-20", 0, 4))
        arc.append_rows("DeviceFileEvents", rows("2026-07-21", 0, 6))
        arc.append_rows("DeviceInfo", rows("2026-07-21", 0, 2))
    backend = DuckDBBackend(tmp_path)
    views = {
        r[0] for r in backend.con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    assert views == set() and backend.has_table("DeviceInfo")  # nothing read until a query names a table
    runner = ArchiveRunner(tmp_path)
    window = (datetime(2026, 7, 21, tzinfo=UTC), datetime(2026, 7, 22, tzinfo=UTC))
    got = runner("DeviceFileEvents | count", datetime(2026, 7, 22, tzinfo=UTC), window)
    assert got.column(0).to_pylist() == [6]  # the window's day only
    # the window reaches the engine (kql's window option), which filters the day partitions: one file scanned
    opened = runner._open()
    assert isinstance(opened, DuckDBBackend)
    sql = compile_query("DeviceFileEvents | count", opened, window=window).sql
    assert "date BETWEEN" in sql
    profile = "\n".join(str(r[1]) for r in opened.con.sql("EXPLAIN ANALYZE " + sql).fetchall())
    assert "Scanning Files: 1/2" in profile, profile
