"""The read side of the archive: snapshots (parts per table), DuckDB views, one part's rows, and the change feed."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from huntvault.archive.deltalog import log_versions, read_commit
from huntvault.archive.location import QUARANTINE_TABLE, ArchiveLocation, locate
from huntvault.archive.quarantine import QuarantinedLine
from huntvault.archive.tables import (
    PARTITION,
    PartInfo,
    archive_schema,
    list_tables,
    open_table,
    read_part_table,
    snapshot_parts,
)
from huntvault.errors import ArchiveError
from huntvault.schema import tables

if TYPE_CHECKING:
    from deltalake import DeltaTable

ArchiveRef = str | os.PathLike[str] | ArchiveLocation

#: Arrow type of an archive column -> DuckDB type of the view column (time columns are plain UTC TIMESTAMP).
_DUCK_TYPES: dict[pa.DataType, str] = {
    pa.string(): "VARCHAR",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("us", tz="UTC"): "TIMESTAMP",
}


def _duck_type(typ: pa.DataType, naive_utc: bool = True) -> str:
    if pa.types.is_timestamp(typ) and not naive_utc:
        return "TIMESTAMPTZ"
    return _DUCK_TYPES.get(typ, "VARCHAR")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


class ArchiveSnapshot:
    """A consistent read of the archive, loaded lazily table by table (each table at the version first read).

    Engines ask for what a query names: `parts(table)`, `uris(table)` (the exact file list of the Delta
    snapshot), `attach(con, table)` (a DuckDB view). Nothing is read for a table no one asks about.
    """

    def __init__(self, archive: ArchiveRef) -> None:
        self.loc = locate(archive)
        if self.loc.local is not None and not self.loc.local.exists():
            raise ArchiveError(f"archive folder {self.loc.local} does not exist")
        self._names: list[str] | None = None
        self._tables: dict[str, DeltaTable | None] = {}
        self._parts: dict[str, list[PartInfo]] = {}

    def table_names(self) -> list[str]:
        """Archived Delta tables (the quarantine excluded), without reading any of them."""
        if self._names is None:
            self._names = list_tables(self.loc)
        return list(self._names)

    def delta(self, table: str) -> DeltaTable | None:
        if table not in self._tables:
            known = table == QUARANTINE_TABLE or table in self.table_names()
            self._tables[table] = open_table(self.loc, table) if known else None
        return self._tables[table]

    def version(self, table: str) -> int | None:
        dt = self.delta(table)
        return None if dt is None else int(dt.version())

    def parts(self, table: str) -> list[PartInfo]:
        if table not in self._parts:
            dt = self.delta(table)
            self._parts[table] = [] if dt is None else snapshot_parts(dt, table)
        return list(self._parts[table])

    def uris(self, table: str) -> list[str]:
        """The exact files of the table's snapshot, as local paths or object-store URIs."""
        return [self.loc.uri(p.path) for p in self.parts(table)]

    def attach(
        self, con: duckdb.DuckDBPyConnection, table: str, view: str | None = None, naive_utc: bool = True
    ) -> None:
        """Create the DuckDB view `view` (default: the table name) over the table's snapshot.

        Time columns are plain `TIMESTAMP` holding UTC (set the session time zone to UTC), or with
        `naive_utc=False` the files' own `TIMESTAMP WITH TIME ZONE` (what the KQL engine compares with
        its TIMESTAMPTZ literals, so time filters reach the Parquet scan); the `date` partition column is a DATE. Local parts are read with `read_parquet` over the exact file list;
        object-store parts through delta-rs's Arrow dataset (no DuckDB extension needed).
        """
        name = _quote(view or table)
        schema = archive_schema(table)
        parts = self.parts(table)
        if not parts:
            cols = [f"CAST(NULL AS {_duck_type(f.type, naive_utc)}) AS {_quote(f.name)}" for f in schema]
            cols.append(f"CAST(NULL AS DATE) AS {PARTITION}")
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(cols)} WHERE false")
            return
        if self.loc.local is None:
            dt = self.delta(table)
            assert dt is not None
            rel = con.from_arrow(_unpruned(dt.to_pyarrow_dataset()))
            star = self._projection(schema, set(rel.columns), naive_utc)
            rel.select(star).create_view(view or table, replace=True)
            return
        source = (
            f"read_parquet({_sql_list(self.uris(table))}, hive_partitioning = true, "
            f"union_by_name = true, hive_types = {{'date': DATE}})"
        )
        present = {str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        star = self._projection(schema, present, naive_utc)
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {star} FROM {source}")

    @staticmethod
    def _projection(schema: pa.Schema, present: set[str], naive_utc: bool = True) -> str:
        """`*` with time columns as plain UTC TIMESTAMP and the schema's columns no part has as typed NULLs
        (a Delta reader's view of a column added after those parts were written)."""
        # A plain cast (the session time zone is UTC) rather than timezone('UTC', ...): DuckDB pushes a
        # comparison on the cast column down to the Parquet scan, so time filters skip row groups.
        times = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.name in present and naive_utc]
        replace = ", ".join(f"CAST({_quote(n)} AS TIMESTAMP) AS {_quote(n)}" for n in times)
        star = f"* REPLACE ({replace})" if replace else "*"
        missing = [f for f in schema if f.name not in present]
        nulls = "".join(
            f", CAST(NULL AS {_duck_type(f.type, naive_utc)}) AS {_quote(f.name)}" for f in missing
        )
        return star + nulls


def open_catalog(archive: ArchiveRef, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table (every schema table, plus archived unknown ones).

    Views read one snapshot of each Delta table (reopen to see later commits). Time columns are plain
    `TIMESTAMP` holding UTC; the session time zone is UTC. Each view also has the `date` (DATE)
    partition column. Tables without data get an empty, correctly typed view. Engines that need only
    some tables use `ArchiveSnapshot.attach` instead (nothing else is read).
    """
    snap = ArchiveSnapshot(archive)
    con = duckdb.connect(":memory:", read_only=False)
    con.execute("SET TimeZone = 'UTC'")
    for name in sorted(set(tables()) | set(snap.table_names())):
        snap.attach(con, name)
    del read_only  # the catalog never writes: the connection is in-memory and holds only views
    return con


def archived_tables(archive: ArchiveRef) -> list[str]:
    """Tables that have at least one committed part, sorted."""
    snap = ArchiveSnapshot(archive)
    return [t for t in snap.table_names() if snap.parts(t)]


def table_files(archive: ArchiveRef, table: str) -> list[PartInfo]:
    """The committed parts of `table` (stable ids relative to the archive root), in path (date) order."""
    return ArchiveSnapshot(archive).parts(table)


def read_part(archive: ArchiveRef, part: str, columns: list[str] | None = None) -> pa.Table:
    """One part's rows as Arrow (with its `date` column), by its stable id; local and object-store archives."""
    return read_part_table(locate(archive), part, columns)


@dataclass(frozen=True)
class Change:
    """One entry of the archive change feed: a part added or removed by a version of a table's Delta log."""

    table: str
    version: int
    action: str  # 'add' | 'remove'
    part: str  # stable part id (relative to the archive root)
    date: str  # YYYY-MM-DD
    rows: int | None
    data_change: bool  # False for compaction (the same rows, rewritten)


@dataclass(frozen=True)
class ChangeFeed:
    """Changes after a position, the position after them, and the tables whose early log is gone (re-list them)."""

    changes: list[Change]
    position: dict[str, int]
    resync: frozenset[str] = field(default_factory=frozenset)


def feed_position(archive: ArchiveRef) -> dict[str, int]:
    """The latest Delta version of every table (what `changes_since` returns after reading everything)."""
    loc = locate(archive)
    fs = loc.filesystem()
    out: dict[str, int] = {}
    for table in list_tables(loc):
        versions = log_versions(fs, table)
        if versions:
            out[table] = versions[-1]
    return out


def changes_since(archive: ArchiveRef, position: Mapping[str, int] | None = None) -> ChangeFeed:
    """Every part added or removed after `position` (table -> last version applied; None = from the start).

    Commits add parts; compaction (Delta optimize) adds the merged part and removes the parts it
    replaced (`data_change` False); retention removes parts. Store the returned position.
    """
    loc = locate(archive)
    fs = loc.filesystem()
    seen = dict(position or {})
    changes: list[Change] = []
    resync: set[str] = set()
    for table in list_tables(loc):
        start = seen.get(table, -1)
        versions = log_versions(fs, table)
        todo = [v for v in versions if v > start]
        if todo and todo[0] > start + 1 and todo[0] > 0:
            resync.add(table)  # versions between were checkpointed and cleaned from the log
        for version in todo:
            commit = read_commit(fs, table, version)
            for f in commit.files:
                changes.append(
                    Change(table, version, f.action, f"{table}/{f.path}", f.date, f.rows, f.data_change)
                )
        if versions:
            seen[table] = max(start, versions[-1])
    return ChangeFeed(changes, seen, frozenset(resync))


def catalog_version(archive: ArchiveRef) -> str | None:
    """A token that changes with every commit to any table: a catalog opened at it is current while it stays."""
    try:
        pos = feed_position(archive)
    except ArchiveError:
        return None
    if not pos:
        return None
    return ";".join(f"{t}={v}" for t, v in sorted(pos.items()))


def quarantined_lines(archive: ArchiveRef) -> list[QuarantinedLine]:
    """Every quarantined line (oldest part first), with the part and row that hold it."""
    snap = ArchiveSnapshot(archive)
    out: list[QuarantinedLine] = []
    for part in snap.parts(QUARANTINE_TABLE):
        data = read_part_table(snap.loc, part.path).to_pylist()
        for row, rec in enumerate(data, 1):
            when = rec.get("Timestamp")
            out.append(
                QuarantinedLine(
                    part.path,
                    row,
                    str(rec.get("source") or ""),
                    str(rec.get("stream") or ""),
                    int(rec.get("offset") or 0),
                    str(rec.get("reason") or ""),
                    rec.get("table_hint"),
                    str(rec.get("line") or ""),
                    rec.get("line_base64"),
                    when.isoformat().replace("+00:00", "Z") if when is not None else "",
                )
            )
    return out


__all__ = [
    "ArchiveRef",
    "ArchiveSnapshot",
    "Change",
    "ChangeFeed",
    "archived_tables",
    "catalog_version",
    "changes_since",
    "feed_position",
    "open_catalog",
    "quarantined_lines",
    "read_part",
    "table_files",
]


def _unpruned(dataset: pads.FileSystemDataset) -> pads.FileSystemDataset:
    """delta-rs's Arrow dataset with each file's guarantee reduced to its `date` partition.

    delta-rs turns the Delta log's column statistics into per-file guarantees, and a column without
    statistics becomes `col >= null and col <= null`, which prunes the file from ANY filter on that
    column (a hunt's `where ActionType == ...` returned nothing on an object-store archive). The date
    partition still prunes days; the Parquet files' own statistics still skip row groups.
    """
    fmt = pads.ParquetFileFormat()
    fragments = []
    for frag in dataset.get_fragments():
        match = _DATE_DIR.search(frag.path)
        guarantee = (
            pads.field(PARTITION) == pa.scalar(date.fromisoformat(match.group(1)), pa.date32())
            if match
            else None
        )
        fragments.append(
            fmt.make_fragment(frag.path, filesystem=frag.filesystem, partition_expression=guarantee)
        )
    filesystem = fragments[0].filesystem if fragments else None
    return pads.FileSystemDataset(fragments, schema=dataset.schema, format=fmt, filesystem=filesystem)


_DATE_DIR = re.compile(r"(?:^|/)" + PARTITION + r"=(\d{4}-\d{2}-\d{2})/")
