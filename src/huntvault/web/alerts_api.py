"""The alerts API: forwarded Defender alerts with their machine, evidence and delivery state per sink.

Everything comes from forward's public reader (`huntvault.forward.forwarded_alerts`): alert bodies,
machines and per-sink deliveries (ledger, queue, dead letters) of the forwarder's state folder.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from huntvault.forward import ForwardedAlert, forwarded_alerts
from huntvault.web.deps import ConfigDep
from huntvault.web.policy import Access, access
from huntvault.web.responses import JsonResponse

router = APIRouter()

MAX_ALERTS = 2000
_MACHINE_FIELDS = (
    "id",
    "computerDnsName",
    "osPlatform",
    "healthStatus",
    "riskScore",
    "exposureLevel",
    "lastIpAddress",
    "rbacGroupName",
    "machineTags",
)


def _machine(alert: ForwardedAlert) -> dict[str, Any]:
    out = {f: alert.machine[f] for f in _MACHINE_FIELDS if f in alert.machine}
    out.setdefault("id", alert.alert.get("machineId"))
    out.setdefault("computerDnsName", alert.alert.get("computerDnsName"))
    return out


def _evidence(rec: dict[str, Any]) -> list[dict[str, Any]]:
    items = rec.get("evidence") or []
    if not isinstance(items, list):
        return []
    return [{k: v for k, v in e.items() if v not in (None, "", [])} for e in items if isinstance(e, dict)]


def summary(alert: ForwardedAlert) -> dict[str, Any]:
    rec = alert.alert
    delivery = {sink: asdict(d) for sink, d in alert.deliveries.items()}
    return {
        "id": alert.alert_id,
        "title": rec.get("title"),
        "severity": rec.get("severity"),
        "status": rec.get("status"),
        "category": rec.get("category"),
        "classification": rec.get("classification"),
        "incidentId": rec.get("incidentId"),
        "detectionSource": rec.get("detectionSource"),
        "alertCreationTime": rec.get("alertCreationTime"),
        "lastUpdateTime": rec.get("lastUpdateTime")
        or max((d.version for d in alert.deliveries.values()), default=None),
        "mitreTechniques": rec.get("mitreTechniques") or [],
        "machine": _machine(alert),
        "evidence": _evidence(rec),
        "deliveries": delivery,
        "body_known": bool(rec),
    }


@router.get("/api/alerts")
@access(Access.QUERY)
def alerts(config: ConfigDep, limit: int = Query(500, ge=1, le=MAX_ALERTS)) -> Response:
    """Forwarded alerts, newest update first, each with its machine, evidence and per-sink delivery."""
    view = forwarded_alerts(config.forward)
    rows = [summary(a) for a in view.alerts]
    rows.sort(key=lambda r: (str(r["lastUpdateTime"] or ""), r["id"]), reverse=True)
    return JsonResponse({"sinks": view.sinks, "total": len(rows), "value": rows[:limit]})
