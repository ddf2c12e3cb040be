"""What every backend shares: the hunt limits, the schema-based table catalog and the window's day filter."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pyarrow as pa
from sqlglot import exp

from huntvault import schema
from huntvault.archive import ArchiveLocation, ArchiveSnapshot, archive_schema
from huntvault.kql.ir import Window
from huntvault.kql.limits import HuntLimits
from huntvault.kql.values import dtype

#: Tables the Defender export never carries (defender-export.md): named in the unknown-table error.
NOT_STREAMED_HINT = " (not part of the streaming export, so not in the archive)"
#: the archive's day-partition column (`<Table>/date=YYYY-MM-DD/`), the UTC day of the time column
PARTITION_COLUMN = "date"


def schema_tables() -> dict[str, list[tuple[str, str]]]:
    """Every schema table's columns (name, KQL type)."""
    return {name: [(c.name, c.type) for c in t.columns] for name, t in schema.tables().items()}


#: Arrow type of an archive column -> KQL type (columns of archived tables the schema does not know)
_KQL_OF_ARROW: dict[pa.DataType, str] = {
    pa.string(): "string",
    pa.int32(): "int",
    pa.int64(): "long",
    pa.float64(): "real",
    pa.bool_(): "bool",
    pa.timestamp("us", tz="UTC"): "datetime",
}

#: where an archive is: a folder, an object-store URL or a location
ArchiveRef = str | Path | ArchiveLocation


def archive_tables(snap: ArchiveSnapshot | None) -> dict[str, list[tuple[str, str]]]:
    """Schema tables plus archived tables the schema does not know (no table is read)."""
    tables = schema_tables()
    if snap is not None:
        for name in snap.table_names():
            if name not in tables and not name.startswith("_"):
                tables[name] = [
                    (f.name, _KQL_OF_ARROW.get(f.type, "string"))
                    for f in archive_schema(name)
                    if not f.name.startswith("_")
                ]
    return tables


def snapshot(root: ArchiveRef) -> ArchiveSnapshot | None:
    """The archive's lazy snapshot; None for hand-made Parquet in the same layout without Delta tables
    (benchmarks, fixtures), which gets plain views instead."""
    snap = ArchiveSnapshot(root)
    if (
        snap.loc.local is not None
        and not snap.table_names()
        and any(snap.loc.local.glob("*/date=*/*.parquet"))
    ):
        return None
    return snap


def day_filter(window: Window) -> exp.Expression:
    """`date BETWEEN first day AND last day` of the window (UTC days; the end is exclusive)."""
    first = window.start.astimezone(UTC).date().isoformat()
    last = (window.end.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()
    day = dtype("DATE")
    return exp.Between(
        this=exp.column(PARTITION_COLUMN),
        low=exp.Cast(this=exp.Literal.string(first), to=day),
        high=exp.Cast(this=exp.Literal.string(last), to=day.copy()),
    )


class TableCatalog:
    """Table names and columns (KQL types) a backend can read, and how to name them in SQL.

    `partitioned` lists the tables whose storage has the day-partition column; a window over them
    adds `day_filter` so the engine skips the other days.
    """

    def __init__(
        self,
        tables: dict[str, list[tuple[str, str]]],
        limits: HuntLimits,
        partitioned: set[str] | None = None,
    ) -> None:
        self.tables = tables
        self.limits = limits
        self.partitioned = partitioned or set()

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def columns(self, name: str) -> list[tuple[str, str]] | None:
        return self.tables.get(name)

    def table_names(self) -> list[str]:
        return sorted(self.tables)

    def table_expr(self, name: str) -> exp.Expression:
        return exp.Table(this=exp.to_identifier(name, quoted=True))

    def time_column(self, name: str) -> str | None:
        known = schema.get_table(name)
        if known is not None:
            return known.time_column
        return "Timestamp" if any(c == "Timestamp" for c, _ in self.tables.get(name, [])) else None

    def window_filter(self, name: str, window: Window) -> exp.Expression | None:
        return day_filter(window) if name in self.partitioned else None

    def missing_reason(self, name: str) -> str:
        t = schema.get_table(name)
        if t is not None and not t.streamed:
            return NOT_STREAMED_HINT
        return ""

    def may_read(self, path: Path) -> bool:
        return self.limits.allows(path)
