"""The Delta Lake archive: writer (exactly-once commits, dedupe), snapshots, catalog, change feed, housekeeping.

Names load on first use (PEP 562): a hunt that only opens the catalog does not pay for the writer's,
housekeeping's and migration's imports, which keeps `huntvault hunt` quick to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: public name -> the module of this package that defines it
_HOMES: dict[str, str] = {
    "ArchiveRef": "catalog",
    "ArchiveSnapshot": "catalog",
    "Change": "catalog",
    "ChangeFeed": "catalog",
    "archived_tables": "catalog",
    "catalog_version": "catalog",
    "changes_since": "catalog",
    "feed_position": "catalog",
    "open_catalog": "catalog",
    "quarantined_lines": "catalog",
    "read_part": "catalog",
    "table_files": "catalog",
    "ArchiveStatus": "housekeeping",
    "CompactReport": "housekeeping",
    "Dropped": "housekeeping",
    "SourceStatus": "housekeeping",
    "TableStatus": "housekeeping",
    "compact": "housekeeping",
    "retention_apply": "housekeeping",
    "status": "housekeeping",
    "ArchiveLocation": "location",
    "archive_location": "location",
    "locate": "location",
    "MigrationReport": "migrate",
    "migrate_archive": "migrate",
    "QuarantinedLine": "quarantine",
    "QuarantineRecord": "quarantine",
    "PartInfo": "tables",
    "archive_schema": "tables",
    "time_column": "tables",
    "Archive": "writer",
    "Batch": "writer",
    "CommitResult": "writer",
    "conform": "writer",
    "rows_to_arrow": "writer",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


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
