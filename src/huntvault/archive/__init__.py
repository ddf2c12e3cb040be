"""The Delta Lake archive: writer (exactly-once commits, dedupe), snapshots, catalog, change feed, housekeeping."""

from __future__ import annotations

from huntvault.archive.catalog import (
    ArchiveRef,
    ArchiveSnapshot,
    Change,
    ChangeFeed,
    archived_tables,
    catalog_version,
    changes_since,
    feed_position,
    open_catalog,
    quarantined_lines,
    read_part,
    table_files,
)
from huntvault.archive.housekeeping import (
    ArchiveStatus,
    CompactReport,
    Dropped,
    SourceStatus,
    TableStatus,
    compact,
    retention_apply,
    status,
)
from huntvault.archive.location import ArchiveLocation, archive_location, locate
from huntvault.archive.migrate import MigrationReport, migrate_archive
from huntvault.archive.quarantine import QuarantinedLine, QuarantineRecord
from huntvault.archive.tables import PartInfo, archive_schema, time_column
from huntvault.archive.writer import Archive, Batch, CommitResult, conform, rows_to_arrow

__all__ = [
    "Archive",
    "ArchiveLocation",
    "ArchiveRef",
    "ArchiveSnapshot",
    "ArchiveStatus",
    "Batch",
    "Change",
    "ChangeFeed",
    "CommitResult",
    "CompactReport",
    "Dropped",
    "MigrationReport",
    "PartInfo",
    "QuarantineRecord",
    "QuarantinedLine",
    "SourceStatus",
    "TableStatus",
    "archive_location",
    "archive_schema",
    "archived_tables",
    "catalog_version",
    "changes_since",
    "compact",
    "conform",
    "feed_position",
    "locate",
    "migrate_archive",
    "open_catalog",
    "quarantined_lines",
    "read_part",
    "retention_apply",
    "rows_to_arrow",
    "status",
    "table_files",
    "time_column",
]
