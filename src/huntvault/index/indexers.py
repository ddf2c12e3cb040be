"""Azure-shaped indexer views of the archive sync: definitions, status with progress, history and item errors."""

from __future__ import annotations

import threading
from typing import Any

from huntvault.errors import SearchError
from huntvault.index.store import IndexStore
from huntvault.index.table_index import TableIndex, now_iso

DATA_SOURCE = "huntvault-archive"
MAX_ITEM_ERRORS = 50


def indexer_definition(idx: TableIndex, poll_seconds: float) -> dict[str, Any]:
    seconds = max(round(poll_seconds), 1)
    return {
        "name": idx.layout.indexer_name,
        "description": f"Indexes the huntvault archive of {idx.table.name} after every archive commit",
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
    """`GET /indexers/{name}/status`: last result, history (newest first), item errors, rebuild progress.

    Lines the ingest quarantined for this table are item errors of the last result, each naming the
    quarantine part and row. While a changed definition is being rebuilt from the archive, the last result
    is `inProgress` (mode `indexingAllDocs`) with the documents done so far, and `currentState` carries the
    progress (parts and documents done and in total); the previous index keeps answering meanwhile.
    """
    history = idx.history
    last = dict(history[0]) if history else None
    if last is not None:
        quarantined, total = store.view.quarantined(idx.table.name, limit=MAX_ITEM_ERRORS)
        if quarantined:
            last["errors"] = [*last.get("errors", []), *quarantined][:MAX_ITEM_ERRORS]
            last["itemsFailed"] = int(last.get("itemsFailed", 0)) + total
    progress = idx.progress
    pending = idx.pending
    state: dict[str, Any] = {"mode": "indexingChangedDocs", "allDocsInitialTrackingState": None}
    if pending is not None:
        state = {
            "mode": "indexingAllDocs",
            "allDocsInitialTrackingState": None,
            "rebuild": {
                "generation": pending.number,
                "requested": (idx.state.get("pending") or {}).get("requested"),
                "startTime": idx.rebuild_started or None,
                **(progress.as_json() if progress is not None else {}),
            },
        }
    if idx.running or (pending is not None and progress is not None):
        running: dict[str, Any] = {
            "status": "inProgress",
            "errorMessage": None,
            "startTime": idx.rebuild_started or now_iso(),
            "endTime": None,
            "errors": [],
            "warnings": [],
            "itemsProcessed": progress.documents if progress is not None else 0,
            "itemsFailed": 0,
            "initialTrackingState": None,
            "finalTrackingState": None,
            "mode": "indexingAllDocs" if pending is not None else "indexingChangedDocs",
        }
        last = running
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
        "currentState": state,
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
