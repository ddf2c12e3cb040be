"""Azure-shaped indexer views of the archive sync: definitions, status with history and quarantined-line errors."""

from __future__ import annotations

import threading
from typing import Any

from huntvault.errors import SearchError
from huntvault.index.store import IndexStore, TableIndex

DATA_SOURCE = "huntvault-archive"
MAX_ITEM_ERRORS = 50


def indexer_definition(idx: TableIndex, poll_seconds: float) -> dict[str, Any]:
    seconds = max(round(poll_seconds), 1)
    return {
        "name": idx.layout.indexer_name,
        "description": f"Indexes the huntvault archive of {idx.layout.table.name} after every archive commit",
        "dataSourceName": DATA_SOURCE,
        "skillsetName": None,
        "targetIndexName": idx.name,
        "schedule": {"interval": f"PT{seconds}S", "startTime": None},
        "parameters": {
            "batchSize": None,
            "maxFailedItems": -1,
            "maxFailedItemsPerBatch": -1,
            "configuration": {"parsingMode": "jsonLines", "dataToExtract": "contentAndMetadata"},
        },
        "fieldMappings": [],
        "outputFieldMappings": [],
        "disabled": False,
        "encryptionKey": None,
    }


def indexer_status(store: IndexStore, idx: TableIndex) -> dict[str, Any]:
    """`GET /indexers/{name}/status`: last result, history (newest first) and item errors.

    Lines the ingest quarantined for this table (`<archive>/_quarantine/`) are reported as item
    errors of the last result, each naming the quarantine file and line.
    """
    history = idx.history
    last = dict(history[0]) if history else None
    if last is not None:
        quarantined = store.view.quarantined(idx.layout.table.name, limit=MAX_ITEM_ERRORS)
        if quarantined:
            last["errors"] = [*last.get("errors", []), *quarantined][:MAX_ITEM_ERRORS]
            last["itemsFailed"] = int(last.get("itemsFailed", 0)) + store.view.quarantined_count(
                idx.layout.table.name
            )
    if idx.running:
        last = {**(last or {}), "status": "inProgress"}
    return {
        "name": idx.layout.indexer_name,
        "status": "running",
        "lastResult": last,
        "executionHistory": history,
        "limits": {
            "maxRunTime": "PT24H",
            "maxDocumentExtractionSize": 0,
            "maxDocumentContentCharactersToExtract": 0,
        },
        "currentState": {"mode": "indexingAllDocs", "allDocsInitialTrackingState": None},
    }


def run_indexer(store: IndexStore, idx: TableIndex) -> threading.Thread:
    """`POST /indexers/{name}/run`: start one sync in the background (409 while one is running)."""
    if idx.running:
        raise SearchError(
            f"Another indexer invocation is currently in progress for '{idx.layout.indexer_name}'; "
            "concurrent invocations are not allowed.",
            409,
            "IndexerInvocationInProgress",
        )
    idx.running = True
    thread = threading.Thread(target=lambda: store.sync([idx.name]), name=f"run-{idx.name}", daemon=True)
    thread.start()
    return thread
