"""Full-text index of the archive: one tantivy index per archived table, synced from the live Parquet files."""

from __future__ import annotations

from huntvault.index.documents import export_document
from huntvault.index.fields import (
    KEY_FIELD,
    FieldSpec,
    IndexLayout,
    analyze,
    layout_for,
    validate_index_name,
)
from huntvault.index.indexers import indexer_definition, indexer_status, run_indexer
from huntvault.index.source import ArchiveFile, ArchiveView
from huntvault.index.store import IndexPoller, IndexStore, SyncResult, TableIndex

__all__ = [
    "KEY_FIELD",
    "ArchiveFile",
    "ArchiveView",
    "FieldSpec",
    "IndexLayout",
    "IndexPoller",
    "IndexStore",
    "SyncResult",
    "TableIndex",
    "analyze",
    "export_document",
    "indexer_definition",
    "indexer_status",
    "layout_for",
    "run_indexer",
    "validate_index_name",
]
