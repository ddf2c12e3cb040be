"""Full-text index of the archive: one tantivy index per archived table, following the archive's parts by id."""

from __future__ import annotations

from huntvault.index.analyzers import ANALYZERS, DEFAULT_ANALYZER, analyze
from huntvault.index.definitions import (
    STRICT_KEY,
    default_layout,
    full_layout,
    parse_definition,
    render_definition,
)
from huntvault.index.documents import export_document
from huntvault.index.fields import KEY_FIELD, KEY_HASH_FIELD, FieldSpec, IndexLayout, validate_index_name
from huntvault.index.indexers import indexer_definition, indexer_status, run_indexer
from huntvault.index.poller import IndexPoller
from huntvault.index.source import ArchiveRef, ArchiveView
from huntvault.index.sql import KEY_COLUMN, KEY_HASH_COLUMN, archive_values_sql
from huntvault.index.store import IndexStore, table_for
from huntvault.index.table_index import SyncResult, TableIndex, VerifyReport

__all__ = [
    "ANALYZERS",
    "DEFAULT_ANALYZER",
    "KEY_COLUMN",
    "KEY_FIELD",
    "KEY_HASH_COLUMN",
    "KEY_HASH_FIELD",
    "STRICT_KEY",
    "ArchiveRef",
    "ArchiveView",
    "FieldSpec",
    "IndexLayout",
    "IndexPoller",
    "IndexStore",
    "SyncResult",
    "TableIndex",
    "VerifyReport",
    "analyze",
    "archive_values_sql",
    "default_layout",
    "export_document",
    "full_layout",
    "indexer_definition",
    "indexer_status",
    "parse_definition",
    "render_definition",
    "run_indexer",
    "table_for",
    "validate_index_name",
]
