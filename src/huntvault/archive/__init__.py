"""The typed Parquet archive: writer (exactly-once commits, dedupe), manifest, catalog, change feed, housekeeping."""

from __future__ import annotations

from huntvault.archive.catalog import (
    archived_tables,
    catalog_version,
    changes_since,
    open_catalog,
    table_files,
)
from huntvault.archive.housekeeping import compact, retention_apply, status
from huntvault.archive.manifest import Change, PartInfo
from huntvault.archive.writer import (
    Archive,
    Batch,
    CommitResult,
    QuarantineRecord,
    archive_schema,
    conform,
    rows_to_arrow,
    time_column,
)

__all__ = [
    "Archive",
    "Batch",
    "Change",
    "CommitResult",
    "PartInfo",
    "QuarantineRecord",
    "archive_schema",
    "archived_tables",
    "catalog_version",
    "changes_since",
    "compact",
    "conform",
    "open_catalog",
    "retention_apply",
    "rows_to_arrow",
    "status",
    "table_files",
    "time_column",
]
