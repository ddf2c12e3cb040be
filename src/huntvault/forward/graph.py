"""Optional alert source: Microsoft Graph `security/alerts_v2`, read into the Defender alert entity's shape.

Graph pages with `@odata.nextLink` (documented there, unlike `/api/alerts`), filters on
`lastUpdateDateTime` and carries the device in the alert (`deviceEvidence`), so no machine API call
is needed. Every alert is rewritten to the `/api/alerts` field names and values (`lastUpdateTime`,
`machineId`, `Resolved`...), so the ledger, merges, sinks, `classic` columns and the UI are the same
whichever source is configured (`[forward.defender] source = "graph"`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from huntvault.config import DefenderApiConfig
from huntvault.errors import ConfigError, ForwardError
from huntvault.forward.defender import DefenderClient, alert_time, odata_time

GRAPH_BASE_URL = "https://graph.microsoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ALERTS_V2 = "/v1.0/security/alerts_v2"
GRAPH_MAX_TOP = 2000
_DEVICE = "#microsoft.graph.security.deviceEvidence"


def _pascal(value: Any) -> Any:
    """Graph's camelCase enum value as Defender writes it: inProgress -> InProgress."""
    return value[:1].upper() + value[1:] if isinstance(value, str) and value else value


#: Graph field -> (Defender field, value conversion)
ALERT_FIELDS: dict[str, tuple[str, Any]] = {
    "id": ("id", None),
    "incidentId": ("incidentId", lambda v: int(v) if isinstance(v, str) and v.isdigit() else v),
    "status": ("status", _pascal),
    "severity": ("severity", _pascal),
    "classification": ("classification", _pascal),
    "determination": ("determination", _pascal),
    "detectionSource": ("detectionSource", _pascal),
    "detectorId": ("detectorId", None),
    "tenantId": ("aadTenantId", None),
    "title": ("title", None),
    "description": ("description", None),
    "category": ("category", None),
    "assignedTo": ("assignedTo", None),
    "threatFamilyName": ("threatFamilyName", None),
    "threatDisplayName": ("threatName", None),
    "mitreTechniques": ("mitreTechniques", None),
    "createdDateTime": ("alertCreationTime", None),
    "lastUpdateDateTime": ("lastUpdateTime", None),
    "resolvedDateTime": ("resolvedTime", None),
    "firstActivityDateTime": ("firstEventTime", None),
    "lastActivityDateTime": ("lastEventTime", None),
    "evidence": ("evidence", None),
    "serviceSource": ("serviceSource", None),
    "alertWebUrl": ("alertWebUrl", None),
}
#: deviceEvidence field -> (Defender machine field, value conversion)
DEVICE_FIELDS: dict[str, tuple[str, Any]] = {
    "mdeDeviceId": ("id", None),
    "deviceDnsName": ("computerDnsName", None),
    "osPlatform": ("osPlatform", None),
    "osBuild": ("osBuild", None),
    "version": ("version", None),
    "healthStatus": ("healthStatus", _pascal),
    "riskScore": ("riskScore", _pascal),
    "rbacGroupId": ("rbacGroupId", None),
    "rbacGroupName": ("rbacGroupName", None),
    "firstSeenDateTime": ("firstSeen", None),
    "azureAdDeviceId": ("aadDeviceId", None),
    "defenderAvStatus": ("defenderAvStatus", _pascal),
    "onboardingStatus": ("onboardingStatus", _pascal),
    "vmMetadata": ("vmMetadata", None),
}


def _convert(source: dict[str, Any], table: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (name, conv) in table.items():
        if key in source:
            out[name] = conv(source[key]) if conv is not None else source[key]
    return out


def device_of(alert: dict[str, Any]) -> dict[str, Any] | None:
    """The first deviceEvidence of a Graph (or converted) alert, as a Defender machine entity."""
    for item in alert.get("evidence") or []:
        if isinstance(item, dict) and item.get("@odata.type") == _DEVICE and item.get("mdeDeviceId"):
            machine = _convert(item, DEVICE_FIELDS)
            ips = [ip for ip in item.get("ipInterfaces") or [] if isinstance(ip, str)]
            machine["ipAddresses"] = [{"ipAddress": ip} for ip in ips]
            machine["lastIpAddress"] = ips[0] if ips else None
            return machine
    return None


def defender_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """A Graph alerts_v2 alert with the `/api/alerts` names and values (`machineId` from its device)."""
    out = _convert(alert, ALERT_FIELDS)
    comments = alert.get("comments") or []
    out["comments"] = [
        {
            "comment": c.get("comment"),
            "createdBy": c.get("createdByDisplayName"),
            "createdTime": c.get("createdDateTime"),
        }
        for c in comments
        if isinstance(c, dict)
    ]
    device = device_of(alert)
    out["machineId"] = device.get("id") if device else None
    out["computerDnsName"] = device.get("computerDnsName") if device else None
    out["rbacGroupName"] = device.get("rbacGroupName") if device else None
    return out


class GraphAlertsClient(DefenderClient):
    """`GET /v1.0/security/alerts_v2?$filter=lastUpdateDateTime ge ...`, following `@odata.nextLink`."""

    def __init__(self, cfg: DefenderApiConfig, **kwargs: Any) -> None:
        defaults = DefenderApiConfig()
        if cfg.base_url == defaults.base_url or cfg.scope == defaults.scope:
            raise ConfigError(
                "forward.defender.base_url"
                if cfg.base_url == defaults.base_url
                else "forward.defender.scope",
                f'source = "graph" needs base_url = "{GRAPH_BASE_URL}" and scope = "{GRAPH_SCOPE}" '
                "(and the SecurityAlert.Read.All application permission on Microsoft Graph)",
            )
        super().__init__(cfg, **kwargs)

    def own_machine(self, alert: dict[str, Any]) -> dict[str, Any] | None:
        return device_of(alert) or {}

    def probe(self) -> None:
        self.get(
            ALERTS_V2, {"$filter": f"lastUpdateDateTime ge {odata_time(datetime.now(UTC))}", "$top": "1"}
        )

    def alerts_since(self, since: datetime) -> list[dict[str, Any]]:
        params = {
            "$filter": f"lastUpdateDateTime ge {odata_time(since)}",
            "$top": str(min(self.cfg.page_size, GRAPH_MAX_TOP)),
        }
        body = self.get(ALERTS_V2, params)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        while True:
            rows = body.get("value", []) if isinstance(body, dict) else []
            page = [defender_alert(a) for a in rows if isinstance(a, dict)]
            if self.on_page is not None:
                self.on_page(page)
            for a in page:
                out[(str(a.get("id")), str(a.get("lastUpdateTime")))] = a
            link = body.get("@odata.nextLink") if isinstance(body, dict) else None
            if not link:
                break
            if urlparse(str(link)).netloc != urlparse(self.base).netloc:
                raise ForwardError(f"Graph answered a nextLink to another host: {str(link)[:200]}")
            body = self.fetch(str(link), ALERTS_V2)
        return sorted(out.values(), key=lambda a: (alert_time(a), str(a.get("id"))))


#: `[forward.defender] source` -> the client that reads the alerts
ALERT_SOURCES: dict[str, type[DefenderClient]] = {"defender": DefenderClient, "graph": GraphAlertsClient}
