"""Emulated Microsoft Graph `security/alerts_v2` over the same tenant: the alert API Microsoft now recommends.

Each Defender alert is rendered as a Graph alert (camelCase enum values, `*DateTime` names, the
device as a `deviceEvidence`), filtered with the OData subset on any field, `$top` at most 2,000,
pages linked with `@odata.nextLink` (`$skiptoken`, over alerts in creation order so an update does
not move an alert between pages). Served on the Defender API emulator's app (a Graph token needed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import Response

from huntvault.emulator.model import Device

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_MAX_TOP = 2000
ALERTS_V2 = "/v1.0/security/alerts_v2"


def _camel(value: str | None) -> str | None:
    """Defender's PascalCase enum value as Graph writes it: InProgress -> inProgress."""
    return value[:1].lower() + value[1:] if value else value


def device_evidence(device: Device, created: str | None) -> dict[str, Any]:
    """The alert's machine as a Graph `deviceEvidence`."""
    api = device.to_api()
    return {
        "@odata.type": "#microsoft.graph.security.deviceEvidence",
        "createdDateTime": created,
        "verdict": "suspicious",
        "remediationStatus": "none",
        "roles": [],
        "mdeDeviceId": device.id,
        "deviceDnsName": device.name,
        "osPlatform": api["osPlatform"],
        "osBuild": api["osBuild"],
        "version": api["version"],
        "healthStatus": _camel(api["healthStatus"]),
        "riskScore": _camel(api["riskScore"]),
        "rbacGroupId": api["rbacGroupId"],
        "rbacGroupName": api["rbacGroupName"],
        "firstSeenDateTime": api["firstSeen"],
        "azureAdDeviceId": api["aadDeviceId"],
        "defenderAvStatus": _camel(api["defenderAvStatus"]),
        "onboardingStatus": _camel(api["onboardingStatus"]),
        "ipInterfaces": [a["ipAddress"] for a in api.get("ipAddresses") or [] if a.get("ipAddress")],
        "loggedOnUsers": [],
        "vmMetadata": api.get("vmMetadata"),
    }


def graph_alert(api: dict[str, Any], device: Device | None) -> dict[str, Any]:
    """A Defender REST alert (with evidence) as Graph `alerts_v2` renders it."""
    return {
        "id": api["id"],
        "providerAlertId": api["id"],
        "incidentId": str(api["incidentId"]),
        "status": _camel(api["status"]),
        "severity": str(api["severity"]).lower(),
        "classification": _camel(api["classification"]),
        "determination": _camel(api["determination"]),
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": _camel(api["detectionSource"]),
        "detectorId": api["detectorId"],
        "tenantId": api["aadTenantId"],
        "title": api["title"],
        "description": api["description"],
        "category": api["category"],
        "assignedTo": api["assignedTo"],
        "threatFamilyName": api["threatFamilyName"],
        "threatDisplayName": api["threatName"],
        "mitreTechniques": api["mitreTechniques"],
        "createdDateTime": api["alertCreationTime"],
        "lastUpdateDateTime": api["lastUpdateTime"],
        "resolvedDateTime": api["resolvedTime"],
        "firstActivityDateTime": api["firstEventTime"],
        "lastActivityDateTime": api["lastEventTime"],
        "alertWebUrl": f"https://security.microsoft.com/alerts/{api['id']}",
        "comments": [
            {
                "comment": c["comment"],
                "createdByDisplayName": c["createdBy"],
                "createdDateTime": c["createdTime"],
            }
            for c in api["comments"]
        ],
        "evidence": [device_evidence(device, api["alertCreationTime"])] if device else [],
    }


#: the Defender emulator's request guard: (request, route, audience) -> a refusal, or None to go on
Guard = Callable[[Request, str, str], Awaitable[Response | None]]


def add_graph_routes(
    app: FastAPI,
    emu: Any,
    guard: Guard,
    error: Callable[[int, str, str], Response],
    as_json: Callable[[Any], Response],
) -> None:
    """`GET /v1.0/security/alerts_v2` on the Defender emulator's app (`emu` a DefenderEmulator)."""
    from huntvault.emulator.odata_api import ODataFilterError, compile_filter

    @app.get(ALERTS_V2)
    async def alerts_v2(request: Request) -> Response:
        if (denied := await guard(request, "graph_alerts", GRAPH_AUDIENCE)) is not None:
            return denied
        q = request.query_params
        try:
            pred = compile_filter(q.get("$filter"))
            top = int(q.get("$top", GRAPH_MAX_TOP))
            skip = int(q.get("$skiptoken", 0))
        except (ODataFilterError, ValueError) as exc:
            return error(400, "BadRequest", str(exc))
        if not 1 <= top <= GRAPH_MAX_TOP or skip < 0:
            return error(400, "BadRequest", f"$top must be between 1 and {GRAPH_MAX_TOP}")
        now = emu.clock.now()
        rows = []
        for api in emu.alerts_now(False, now):
            alert = emu.alert_by_id[api["id"]]
            rendered = graph_alert(api, emu.device_by_key.get(alert.machine_id))
            if pred(rendered):
                rows.append(rendered)
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2",
            "value": rows[skip : skip + top],
        }
        if skip + top < len(rows):
            params = {k: v for k, v in q.items() if k != "$skiptoken"} | {"$skiptoken": str(skip + top)}
            body["@odata.nextLink"] = f"{str(request.base_url).rstrip('/')}{ALERTS_V2}?{urlencode(params)}"
        return as_json(body)


__all__ = ["ALERTS_V2", "GRAPH_AUDIENCE", "add_graph_routes", "device_evidence", "graph_alert"]
