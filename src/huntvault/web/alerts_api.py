"""The alerts API: forwarded Defender alerts with their machine, evidence and delivery state per sink.

Delivery state comes from the forwarder's state folder (ledger, outbox, dead letters); the alert bodies from
what the forwarder keeps or wrote locally (queued and dead-lettered records, and `jsonl` sink files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from huntvault.config import ForwardConfig
from huntvault.forward import DeadLetterBox, ForwardState, alert_key
from huntvault.web.deps import ConfigDep
from huntvault.web.policy import Access, access
from huntvault.web.responses import JsonResponse

router = APIRouter()

#: only the tail of a large jsonl sink file is read (the newest alert versions are at its end)
JSONL_TAIL_BYTES = 32 * 1024 * 1024
MAX_ALERTS = 2000
_MACHINE_FIELDS = (
    "Id",
    "ComputerDnsName",
    "OsPlatform",
    "HealthStatus",
    "RiskScore",
    "ExposureLevel",
    "LastIpAddress",
    "RbacGroupName",
    "MachineTags",
)


def _jsonl_records(path: Path) -> list[dict[str, Any]]:
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            if size > JSONL_TAIL_BYTES:
                fh.seek(size - JSONL_TAIL_BYTES)
                fh.readline()  # a partial line
            data = fh.read()
    except OSError:
        return []
    out = []
    for line in data.splitlines():
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _newer(records: dict[str, dict[str, Any]], rec: dict[str, Any]) -> None:
    alert_id, version = alert_key(rec)
    if alert_id and (alert_id not in records or version >= str(records[alert_id].get("lastUpdateTime", ""))):
        records[alert_id] = rec


def gather(
    cfg: ForwardConfig,
) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, dict[str, dict[str, Any]]]]:
    """(sink names, newest record per alert id, alert id -> sink -> delivery) from the forwarder's state."""
    sinks = [s.name for s in cfg.sinks]
    records: dict[str, dict[str, Any]] = {}
    deliveries: dict[str, dict[str, dict[str, Any]]] = {}
    for s in cfg.sinks:
        if s.kind == "jsonl" and s.path:
            for rec in _jsonl_records(Path(s.path)):
                _newer(records, rec)
    if not (Path(cfg.state_dir) / "state.sqlite").exists():
        return sinks, records, deliveries
    state = ForwardState(cfg.state_dir)
    try:
        # the forward package has no public reader for its ledger yet (see docs/ui.md)
        for sink, alert_id, version, outcome, done_at in state.db.execute(
            "SELECT sink, alert_id, last_update, outcome, done_at FROM ledger"
        ):
            deliveries.setdefault(alert_id, {})[sink] = {"state": outcome, "version": version, "at": done_at}
            if sink not in sinks:
                sinks.append(sink)
        for sink in list(sinks):
            for p in state.pending(sink, MAX_ALERTS * 4):
                _newer(records, p.record)
                done = deliveries.setdefault(p.alert_id, {}).get(sink)
                if done is None or p.last_update > str(done.get("version", "")):
                    previous = done["state"] if done else None
                    deliveries[p.alert_id][sink] = {
                        "state": "pending",
                        "version": p.last_update,
                        "at": None,
                        "previous": previous,
                    }
    finally:
        state.close()
    for letter in DeadLetterBox(cfg.state_dir).list():
        for rec in letter.records:
            _newer(records, rec)
        for alert_id, version in letter.keys:
            entry = deliveries.setdefault(alert_id, {}).setdefault(
                letter.sink, {"state": "dead", "version": version}
            )
            if entry.get("state") == "dead":
                entry["reason"] = letter.reason
                entry["status"] = letter.status
    return sinks, records, deliveries


def _machine(rec: dict[str, Any]) -> dict[str, Any]:
    out = {f[:1].lower() + f[1:]: rec.get("Machine" + f) for f in _MACHINE_FIELDS if ("Machine" + f) in rec}
    out.setdefault("id", rec.get("machineId"))
    out.setdefault("computerDnsName", rec.get("computerDnsName"))
    return out


def _evidence(rec: dict[str, Any]) -> list[dict[str, Any]]:
    items = rec.get("evidence") or []
    if not isinstance(items, list):
        return []
    return [{k: v for k, v in e.items() if v not in (None, "", [])} for e in items if isinstance(e, dict)]


def summary(alert_id: str, rec: dict[str, Any] | None, delivery: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rec = rec or {}
    return {
        "id": alert_id,
        "title": rec.get("title"),
        "severity": rec.get("severity"),
        "status": rec.get("status"),
        "category": rec.get("category"),
        "classification": rec.get("classification"),
        "incidentId": rec.get("incidentId"),
        "detectionSource": rec.get("detectionSource"),
        "alertCreationTime": rec.get("alertCreationTime"),
        "lastUpdateTime": rec.get("lastUpdateTime")
        or max((d.get("version") or "" for d in delivery.values()), default=None),
        "mitreTechniques": rec.get("mitreTechniques") or [],
        "machine": _machine(rec),
        "evidence": _evidence(rec),
        "deliveries": delivery,
        "body_known": bool(rec),
    }


@router.get("/api/alerts")
@access(Access.QUERY)
def alerts(config: ConfigDep, limit: int = Query(500, ge=1, le=MAX_ALERTS)) -> Response:
    """Forwarded alerts, newest update first, each with its machine, evidence and per-sink delivery."""
    cfg: ForwardConfig = config.forward
    sinks, records, deliveries = gather(cfg)
    ids = set(records) | set(deliveries)
    rows = [summary(i, records.get(i), deliveries.get(i, {})) for i in ids]
    rows.sort(key=lambda r: (str(r["lastUpdateTime"] or ""), r["id"]), reverse=True)
    return JsonResponse({"sinks": sinks, "total": len(rows), "value": rows[:limit]})
