"""The read side of the archive: DuckDB views per table, the list of tables and files, and the change feed."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import duckdb
import pyarrow as pa

from huntvault.archive import manifest as mf
from huntvault.errors import ArchiveError
from huntvault.schema import tables

PathLike = str | os.PathLike[str]

#: Arrow type of an archive column -> DuckDB type of the view column (time columns are plain UTC TIMESTAMP).
_DUCK_TYPES: dict[pa.DataType, str] = {
    pa.string(): "VARCHAR",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("us", tz="UTC"): "TIMESTAMP",
}


def _root(archive_dir: PathLike) -> Path:
    return Path(archive_dir).resolve()


def _manifest(root: Path) -> sqlite3.Connection | None:
    if not mf.manifest_path(root).exists():
        return None
    return mf.connect(root, create=False)


def archived_tables(archive_dir: PathLike) -> list[str]:
    """Tables that have at least one committed part, sorted."""
    con = _manifest(_root(archive_dir))
    if con is None:
        return []
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT tbl FROM parts WHERE tbl != ? ORDER BY tbl", (mf.QUARANTINE_TABLE,)
            )
        ]
    finally:
        con.close()


def table_files(archive_dir: PathLike, table: str) -> list[Path]:
    """Absolute paths of the committed parts of `table`, in path (date) order."""
    root = _root(archive_dir)
    con = _manifest(root)
    if con is None:
        return []
    try:
        return [root / p.path for p in mf.parts(con, table)]
    finally:
        con.close()


def changes_since(archive_dir: PathLike, seq: int) -> list[mf.Change]:
    """Every archive change after `seq` (0 = from the start), oldest first.

    Commits append `add`; compaction appends `add` for the merged part then `remove` for each
    part it replaced; retention appends `remove`. A consumer stores the last `seq` it applied.
    """
    root = _root(archive_dir)
    con = _manifest(root)
    if con is None:
        return []
    try:
        return mf.changes_since(con, root, seq)
    finally:
        con.close()


def catalog_version(archive_dir: PathLike) -> int | None:
    """The last change-feed entry of a managed archive: a catalog opened at this version is still
    current while it stays the same. None for a folder without a manifest (no version to compare)."""
    root = _root(archive_dir)
    con = _manifest(root)
    if con is None:
        return None
    try:
        row = con.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _view_sql(table: str, schema: pa.Schema, files: list[Path]) -> str:
    if not files:
        cols = [f"CAST(NULL AS {_DUCK_TYPES.get(f.type, 'VARCHAR')}) AS {_quote(f.name)}" for f in schema]
        cols.append("CAST(NULL AS DATE) AS date")
        return f"SELECT {', '.join(cols)} WHERE false"
    times = [f.name for f in schema if pa.types.is_timestamp(f.type)]
    # A plain cast (the session time zone is UTC) rather than timezone('UTC', ...): DuckDB pushes a
    # comparison on the cast column down to the Parquet scan, so time filters skip row groups.
    replace = ", ".join(f"CAST({_quote(n)} AS TIMESTAMP) AS {_quote(n)}" for n in times)
    star = f"* REPLACE ({replace})" if replace else "*"
    return (
        f"SELECT {star} FROM read_parquet({_sql_list(files)}, hive_partitioning = true, "
        f"union_by_name = true, hive_types = {{'date': DATE}})"
    )


def open_catalog(archive_dir: PathLike, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table (every schema table, plus archived unknown ones).

    Views read the committed parts (a snapshot as of this call: reopen to see later commits).
    Time columns are plain `TIMESTAMP` holding UTC; the session time zone is set to UTC. Each view
    also has the `date` (DATE) partition column. Tables without data get an empty, correctly typed view.
    """
    from huntvault.archive.writer import archive_schema

    root = _root(archive_dir)
    if not root.exists():
        raise ArchiveError(f"archive folder {root} does not exist")
    con = duckdb.connect(":memory:", read_only=False)
    con.execute("SET TimeZone = 'UTC'")
    by_table: dict[str, list[Path]] = {}
    mcon = _manifest(root)
    if mcon is not None:
        try:
            for part in mf.parts(mcon):
                if part.table != mf.QUARANTINE_TABLE:
                    by_table.setdefault(part.table, []).append(root / part.path)
        finally:
            mcon.close()
    for name in sorted(set(tables()) | set(by_table)):
        files = by_table.get(name, [])
        con.execute(f"CREATE VIEW {_quote(name)} AS {_view_sql(name, archive_schema(name), files)}")
    del read_only  # the catalog never writes: the connection is in-memory and holds only views
    return con


__all__ = ["archived_tables", "catalog_version", "changes_since", "open_catalog", "table_files"]
