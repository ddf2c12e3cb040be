"""The archive API: append_rows exactly once, catalog views, change feed, compaction, retention, orphans, status."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from huntvault.archive import (
    Archive,
    archive_schema,
    archived_tables,
    changes_since,
    compact,
    open_catalog,
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
    assert len(before) == 5
    seq = changes_since(tmp_path, 0)[-1].seq
    rep = compact(tmp_path, target_rows=1000)
    assert (rep.parts_before, rep.parts_after, rep.rows) == (4, 1, 40)
    after = table_files(tmp_path, "DeviceInfo")
    assert len(after) == 2 and all(p.exists() for p in after) and not any(p.exists() for p in before[:4])
    feed = changes_since(tmp_path, seq)
    assert [c.action for c in feed] == ["add", "remove", "remove", "remove", "remove"]
    assert feed[0].rows == 40 and pq.read_table(feed[0].path).num_rows == 40
    dropped = retention_apply(tmp_path, default_days=0, per_table={"DeviceInfo": 10}, today=date(2026, 7, 25))
    assert [(d.table, d.date, d.rows) for d in dropped] == [("DeviceInfo", "2026-07-01", 40)]
    last = changes_since(tmp_path, feed[-1].seq)
    assert [(c.action, c.date) for c in last] == [("remove", "2026-07-01")]
    assert not (tmp_path / "DeviceInfo" / "date=2026-07-01").exists()
    assert open_catalog(tmp_path).sql("SELECT count(*) FROM DeviceInfo").fetchall() == [(10,)]
    # dropped keys are forgotten: the same rows may be archived again
    with Archive(tmp_path) as arc:
        assert arc.append_rows("DeviceInfo", rows("2026-07-01", 0, 10)).rows == 10
    assert retention_apply(tmp_path, default_days=0, today=date(2030, 1, 1)) == []  # 0 keeps forever


def test_orphan_parts_removed_on_open(tmp_path: Path) -> None:
    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceInfo", rows("2026-07-01", 0, 3))
    day = tmp_path / "DeviceInfo" / "date=2026-07-01"
    (day / "part-orphan-0.parquet").write_bytes(b"PAR1")
    (day / ".part-x.parquet.tmp").write_bytes(b"x")
    (tmp_path / "DeviceInfo" / "date=2026-07-02").mkdir()
    (tmp_path / "DeviceInfo" / "date=2026-07-02" / "part-orphan-1.parquet").write_bytes(b"PAR1")
    Archive(tmp_path).close()
    assert sorted(p.name for p in day.iterdir()) == [table_files(tmp_path, "DeviceInfo")[0].name]
    assert not (tmp_path / "DeviceInfo" / "date=2026-07-02").exists()


def test_status_and_cli(tmp_path: Path) -> None:
    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceInfo", rows("2026-07-01", 0, 3), source="s", checkpoint={"b": {"offset": 1}})
    st = status(tmp_path)
    assert st["tables"][0]["rows"] == 3 and st["tables"][0]["min_timestamp"].startswith("2026-07-01T10:00:00")
    assert st["sources"][0]["source"] == "s" and st["sources"][0]["streams"] == 1
    runner = CliRunner()
    res = runner.invoke(main, ["status", "--archive", str(tmp_path), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["total_rows"] == 3
    res = runner.invoke(main, ["compact", "--archive", str(tmp_path)])
    assert res.exit_code == 0 and "0 parts" in res.output
    res = runner.invoke(main, ["status", "--archive", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a huntvault archive" in res.output


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


def _seen_keys(root: Path) -> list[bytes]:
    import sqlite3

    con = sqlite3.connect(root / "_huntvault" / "manifest.sqlite")
    try:
        return [r[0] for r in con.execute("SELECT k FROM seen ORDER BY k")]
    finally:
        con.close()


def test_new_archives_key_rows_by_event_time(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    with Archive(tmp_path) as arc:
        assert arc.key_format == 2
        arc.append_rows("DeviceFileEvents", rows("2026-07-20", 0, 5))
        assert arc.append_rows("DeviceFileEvents", rows("2026-07-20", 0, 5)).duplicates == 5
    keys = _seen_keys(tmp_path)
    assert len(keys) == 5 and all(len(k) == 16 for k in keys)
    first = datetime(2026, 7, 20, 10, 0, 0, 123456, tzinfo=UTC)
    micros = int(first.timestamp()) * 1_000_000 + first.microsecond
    # the leading 8 bytes are the event time (offset binary): keys sort in time order
    assert int.from_bytes(keys[0][:8], "big") - 2**63 == micros
    assert [int.from_bytes(k[:8], "big") for k in keys] == sorted(int.from_bytes(k[:8], "big") for k in keys)


def test_archives_with_md5_keys_keep_them(tmp_path: Path) -> None:
    import sqlite3

    with Archive(tmp_path) as arc:
        arc.append_rows("DeviceFileEvents", rows("2026-07-20", 0, 3))
    # make it look like an archive written before time-ordered keys: MD5 keys, no format recorded
    path = tmp_path / "_huntvault" / "manifest.sqlite"
    con = sqlite3.connect(path)
    con.execute("DELETE FROM seen")
    con.execute("PRAGMA user_version = 0")
    con.commit()
    con.close()
    with Archive(tmp_path) as arc:  # no keys and no format: nothing to keep, the new format is taken
        assert arc.key_format == 2
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 0")
    con.execute("INSERT INTO seen(p, k) VALUES (1, zeroblob(16))")
    con.commit()
    con.close()
    with Archive(tmp_path) as arc:
        assert arc.key_format == 1
        assert arc.append_rows("DeviceFileEvents", rows("2026-07-20", 10, 4)).rows == 4
        assert arc.append_rows("DeviceFileEvents", rows("2026-07-20", 10, 4)).duplicates == 4
    assert len(_seen_keys(tmp_path)) == 5
