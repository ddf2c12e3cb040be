"""The status API: archive tables and ingestion lag, quarantined lines, indexers, forwarder cursor and sinks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from huntvault.archive import status as archive_status
from huntvault.archive import table_files
from huntvault.errors import HuntvaultError
from huntvault.forward import forward_status
from huntvault.search import SearchService
from huntvault.web.app import require

router = APIRouter()

#: how the archive names its quarantine in the manifest (the folder is `<archive>/_quarantine/`)
QUARANTINE = "_quarantine"
MAX_QUARANTINE_PAGE = 500


class _Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _archive(archive: Path) -> dict[str, Any]:
    if not archive.exists():
        return {"archive": str(archive), "error": f"the archive folder {archive} does not exist yet"}
    try:
        return archive_status(archive)
    except HuntvaultError as exc:
        return {"archive": str(archive), "error": str(exc)}


def _indexers(svc: SearchService) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for definition in svc.indexers():
        name = str(definition.get("name", ""))
        index = str(definition.get("targetIndexName", ""))
        try:
            st = svc.indexer_status(name)
            documents: int | None = svc.count(index) if index else None
        except HuntvaultError as exc:
            out.append({"name": name, "index": index, "status": "error", "error": str(exc)})
            continue
        last = st.get("lastResult") or {}
        out.append(
            {
                "name": name,
                "index": index,
                "status": st.get("status"),
                "last_status": last.get("status"),
                "last_start": last.get("startTime"),
                "last_end": last.get("endTime"),
                "items_processed": last.get("itemsProcessed"),
                "items_failed": last.get("itemsFailed"),
                "error": last.get("errorMessage"),
                "documents": documents,
                "runs": len(st.get("executionHistory") or []),
            }
        )
    return out


def _forwarder(request: Request) -> dict[str, Any]:
    cfg = request.app.state.config.forward
    try:
        return forward_status(cfg).to_dict()  # reads only: never creates the state folder
    except HuntvaultError as exc:
        return {"configured_sinks": [s.name for s in cfg.sinks], "error": str(exc), "sinks": {}}


@router.get("/api/status")
def status(request: Request) -> Response:
    """Everything the Status page shows, gathered from each stage's public status function."""
    require(request)
    svc: SearchService = request.app.state.search
    try:
        indexers: list[dict[str, Any]] | dict[str, str] = _indexers(svc)
    except HuntvaultError as exc:
        indexers = {"error": str(exc)}
    return _Json(
        {
            "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "archive": _archive(request.app.state.archive_dir),
            "indexers": indexers,
            "forwarder": _forwarder(request),
        }
    )


def _quarantine_lines(archive: Path) -> list[tuple[Path, int, bytes]]:
    out: list[tuple[Path, int, bytes]] = []
    for path in table_files(archive, QUARANTINE):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # removed by housekeeping since the manifest was read
        out.extend((path, n, line) for n, line in enumerate(data.splitlines(), 1) if line.strip())
    return out


@router.get("/api/status/quarantine")
def quarantine(
    request: Request, offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=MAX_QUARANTINE_PAGE)
) -> Response:
    """Quarantined export lines with their source, stream, byte offset and reason, one page at a time."""
    require(request)
    archive: Path = request.app.state.archive_dir
    lines = _quarantine_lines(archive) if archive.exists() else []
    items: list[dict[str, Any]] = []
    for path, lineno, raw in lines[offset : offset + limit]:
        try:
            rec = orjson.loads(raw)
        except orjson.JSONDecodeError:
            rec = {"reason": "unreadable quarantine record", "line": raw.decode("utf-8", "replace")}
        items.append({"file": path.relative_to(archive.resolve()).as_posix(), "file_line": lineno, **rec})
    return _Json({"total": len(lines), "offset": offset, "limit": limit, "items": items})
