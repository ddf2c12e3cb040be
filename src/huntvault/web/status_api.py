"""The status API: archive tables and ingestion lag, quarantined lines, indexers, forwarder cursor and sinks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from huntvault.archive import ArchiveLocation, QuarantinedLine, quarantined_lines
from huntvault.archive import status as archive_status
from huntvault.config import ForwardConfig
from huntvault.errors import HuntvaultError
from huntvault.forward import forward_status
from huntvault.search import SearchService
from huntvault.web.deps import ArchiveDep, ConfigDep, SearchDep
from huntvault.web.policy import Access, access
from huntvault.web.responses import JsonResponse

router = APIRouter()

MAX_QUARANTINE_PAGE = 500


def _missing(archive: ArchiveLocation) -> bool:
    """A local archive folder that does not exist yet (an object-store archive is asked directly)."""
    return archive.local is not None and not archive.local.exists()


def _archive(archive: ArchiveLocation) -> dict[str, Any]:
    if _missing(archive):
        return {"archive": archive.url, "error": f"the archive folder {archive.url} does not exist yet"}
    try:
        return archive_status(archive).to_json()
    except HuntvaultError as exc:
        return {"archive": archive.url, "error": str(exc)}


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


def _forwarder(cfg: ForwardConfig) -> dict[str, Any]:
    try:
        return forward_status(cfg).to_json()  # reads only: never creates the state folder
    except HuntvaultError as exc:
        return {"configured_sinks": [s.name for s in cfg.sinks], "error": str(exc), "sinks": {}}


@router.get("/api/status")
@access(Access.QUERY)
def status(config: ConfigDep, archive: ArchiveDep, svc: SearchDep) -> Response:
    """Everything the Status page shows, gathered from each stage's public status function."""
    try:
        indexers: list[dict[str, Any]] | dict[str, str] = _indexers(svc)
    except HuntvaultError as exc:
        indexers = {"error": str(exc)}
    return JsonResponse(
        {
            "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "archive": _archive(archive),
            "indexers": indexers,
            "forwarder": _forwarder(config.forward),
        }
    )


@router.get("/api/status/quarantine")
@access(Access.QUERY)
def quarantine(
    archive: ArchiveDep,
    offset: int = Query(0, ge=0, le=2**31 - 1),
    limit: int = Query(50, ge=1, le=MAX_QUARANTINE_PAGE),
) -> Response:
    """Quarantined export lines with their source, stream, byte offset and reason, one page at a time."""
    try:
        lines: list[QuarantinedLine] = [] if _missing(archive) else quarantined_lines(archive)
    except HuntvaultError:
        lines = []
    items = [{"file": q.part, "file_line": q.row, **q.as_json()} for q in lines[offset : offset + limit]]
    return JsonResponse({"total": len(lines), "offset": offset, "limit": limit, "items": items})
