"""The typed Parquet archive: writer (exactly-once commits, dedupe), manifest, catalog, change feed, housekeeping.

Names load on first use (PEP 562): a hunt that only opens the catalog does not pay for the writer's and
housekeeping's imports (pyarrow.compute, pyarrow.parquet), which keeps `huntvault hunt` quick to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: public name -> the module of this package that defines it
_HOMES: dict[str, str] = {
    "archived_tables": "catalog",
    "catalog_version": "catalog",
    "changes_since": "catalog",
    "open_catalog": "catalog",
    "table_files": "catalog",
    "compact": "housekeeping",
    "retention_apply": "housekeeping",
    "status": "housekeeping",
    "Change": "manifest",
    "PartInfo": "manifest",
    "Archive": "writer",
    "Batch": "writer",
    "CommitResult": "writer",
    "QuarantineRecord": "writer",
    "archive_schema": "writer",
    "conform": "writer",
    "rows_to_arrow": "writer",
    "time_column": "writer",
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
