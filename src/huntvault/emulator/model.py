"""The emulated tenant's entities: devices, users, alerts with evidence and status timelines, attack stories.

These are plain frozen dataclasses with no generation logic (that is in `tenant.py` and
`stories.py`). Each entity knows how to render itself the way the Defender REST API does
(`to_api()`, camelCase keys as in defender-api.md §5/§6); the export writer renders the same
entities as advanced-hunting rows (AlertInfo, AlertEvidence, AlertEvents, DeviceInfo...), so a join
between what the API returns and what the export archived matches on ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def iso(t: datetime | None, digits: int = 7) -> str | None:
    """`2026-07-22T10:44:33.4250950Z` (UTC, `digits` fractional digits, 0 = none); None stays None."""
    if t is None:
        return None
    t = t.astimezone(UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if digits <= 0:
        return base + "Z"
    frac = f"{t.microsecond:06d}0"[:digits]
    return f"{base}.{frac}Z"


@dataclass(frozen=True)
class User:
    """A tenant account (Active Directory + Entra ID)."""

    name: str  # sAMAccountName, e.g. "jdoe"
    domain: str  # NetBIOS domain, e.g. "CONTOSO"
    sid: str  # S-1-5-21-...-RID
    upn: str  # jdoe@contoso.com
    object_id: str  # Entra ID object id (guid)
    display_name: str
    department: str = ""
    job_title: str = ""
    is_admin: bool = False
    is_service: bool = False

    def to_api(self) -> dict[str, Any]:
        """The alert's `relatedUser` object."""
        return {"userName": self.name, "domainName": self.domain}


@dataclass(frozen=True)
class NetworkAdapter:
    """One network adapter of a device (DeviceNetworkInfo, machine `ipAddresses`)."""

    name: str
    mac: str  # 00-15-5D-AA-BB-CC (Defender writes dashes, upper case)
    ip: str
    adapter_type: str  # Ethernet | Wireless80211 | SoftwareLoopback
    vendor: str
    gateway: str
    dns: tuple[str, ...]
    network_name: str


@dataclass(frozen=True)
class Device:
    """One onboarded machine: everything DeviceInfo/DeviceNetworkInfo and the REST machine entity need."""

    id: str  # 40 lower-case hex characters, as Defender machine ids
    name: str  # computerDnsName / DeviceName, lower-case FQDN for domain-joined machines
    os_platform: str  # Windows10 | Windows11 | WindowsServer2019 | WindowsServer2022 | Linux | macOS
    os_version: str  # "22H2", "5.15", "14.4"...
    os_build: int | None
    os_distribution: str  # "" | "Ubuntu" | "RedHat" ...
    architecture: str  # "64-bit" | "32-bit"
    device_type: str  # Workstation | Server
    private_ip: str
    public_ip: str
    adapter: NetworkAdapter
    aad_device_id: str | None
    is_aad_joined: bool
    join_type: str  # "Domain Joined" | "Hybrid Azure AD Join" | "AAD Registered" | ""
    machine_group: str  # MachineGroup / rbacGroupName
    rbac_group_id: int
    health_status: str  # Active | Inactive | ImpairedCommunication | NoSensorData ...
    risk_score: str  # None | Informational | Low | Medium | High
    exposure_level: str  # None | Low | Medium | High
    device_value: str  # Normal | Low | High
    first_seen: datetime
    last_seen: datetime
    client_version: str  # sensor / agent version
    model: str
    vendor: str
    primary_user: User | None
    logged_on_users: tuple[User, ...]
    tags: tuple[str, ...]
    is_internet_facing: bool = False
    managed_by: str = "Intune"
    av_status: str = "Updated"

    @property
    def short_name(self) -> str:
        """The NetBIOS-style host name (`wks-0001` of `wks-0001.contoso.com`)."""
        return self.name.split(".", 1)[0]

    @property
    def is_windows(self) -> bool:
        return self.os_platform.startswith("Windows")

    def to_api(self) -> dict[str, Any]:
        """The REST machine entity (`GET /api/machines/{id}`, defender-api.md §6.1)."""
        a = self.adapter
        return {
            "id": self.id,
            "computerDnsName": self.name,
            "firstSeen": iso(self.first_seen),
            "lastSeen": iso(self.last_seen),
            "osPlatform": self.os_platform,
            "version": self.os_version,
            "osVersion": None,
            "osProcessor": "x64" if self.architecture == "64-bit" else "x86",
            "osBuild": self.os_build,
            "osArchitecture": self.architecture,
            "lastIpAddress": self.private_ip,
            "lastExternalIpAddress": self.public_ip,
            "agentVersion": self.client_version,
            "healthStatus": self.health_status,
            "onboardingStatus": "Onboarded",
            "defenderAvStatus": self.av_status if self.is_windows else "NotSupported",
            "deviceValue": self.device_value,
            "rbacGroupId": self.rbac_group_id,
            "rbacGroupName": self.machine_group,
            "riskScore": self.risk_score,
            "exposureLevel": self.exposure_level,
            "isAadJoined": self.is_aad_joined,
            "aadDeviceId": self.aad_device_id,
            "machineTags": list(self.tags),
            "managedBy": self.managed_by,
            "managedByStatus": "Success" if self.managed_by != "Unknown" else "Unknown",
            "mergedIntoMachineId": None,
            "isPotentialDuplication": False,
            "isExcluded": False,
            "exclusionReason": None,
            "ipAddresses": [
                {
                    "ipAddress": a.ip,
                    "macAddress": a.mac.replace("-", ""),
                    "type": a.adapter_type,
                    "operationalStatus": "Up",
                },
                {
                    "ipAddress": "127.0.0.1",
                    "macAddress": "",
                    "type": "SoftwareLoopback",
                    "operationalStatus": "Up",
                },
            ],
            "vmMetadata": None,
        }


@dataclass(frozen=True)
class Evidence:
    """One alert evidence item: the REST fields of defender-api.md §5.1 plus the AlertEvidence extras."""

    entity_type: str  # File | Process | User | Ip | Url | RegistryValue
    evidence_creation_time: datetime
    evidence_role: str = "Related"  # AlertEvidence.EvidenceRole: Impacted | Related
    sha1: str | None = None
    sha256: str | None = None
    file_name: str | None = None
    file_path: str | None = None  # folder, as in the REST API (AlertEvidence.FolderPath adds the name)
    file_size: int | None = None
    process_id: int | None = None
    process_command_line: str | None = None
    process_creation_time: datetime | None = None
    parent_process_id: int | None = None
    parent_process_creation_time: datetime | None = None
    parent_process_file_name: str | None = None
    parent_process_file_path: str | None = None
    ip_address: str | None = None
    url: str | None = None
    registry_key: str | None = None
    registry_hive: str | None = None
    registry_value_type: str | None = None
    registry_value: str | None = None
    registry_value_name: str | None = None
    account_name: str | None = None
    domain_name: str | None = None
    user_sid: str | None = None
    aad_user_id: str | None = None
    user_principal_name: str | None = None
    detection_status: str | None = "Detected"
    threat_family: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "entityType": self.entity_type,
            "evidenceCreationTime": iso(self.evidence_creation_time),
            "sha1": self.sha1,
            "sha256": self.sha256,
            "fileName": self.file_name,
            "filePath": self.file_path,
            "processId": self.process_id,
            "processCommandLine": self.process_command_line,
            "processCreationTime": iso(self.process_creation_time),
            "parentProcessId": self.parent_process_id,
            "parentProcessCreationTime": iso(self.parent_process_creation_time),
            "parentProcessFileName": self.parent_process_file_name,
            "parentProcessFilePath": self.parent_process_file_path,
            "ipAddress": self.ip_address,
            "url": self.url,
            "registryKey": self.registry_key,
            "registryHive": self.registry_hive,
            "registryValueType": self.registry_value_type,
            "registryValue": self.registry_value,
            "accountName": self.account_name,
            "domainName": self.domain_name,
            "userSid": self.user_sid,
            "aadUserId": self.aad_user_id,
            "userPrincipalName": self.user_principal_name,
            "detectionStatus": self.detection_status,
        }


@dataclass(frozen=True)
class StatusChange:
    """One step of an alert's life: from `time` on, the alert has these values."""

    time: datetime
    status: str  # New | InProgress | Resolved
    classification: str | None = None  # TruePositive | InformationalExpectedActivity | FalsePositive
    determination: str | None = None  # Malware | MultiStagedAttack | SecurityTesting | ...
    assigned_to: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Alert:
    """A Defender alert. The REST entity comes from `to_api(as_of)`; the export writes AlertInfo,
    AlertEvidence (one row per evidence) and legacy AlertEvents rows for the same `id`."""

    id: str  # "da637472900382838869_1364969609"
    incident_id: int
    investigation_id: int | None
    title: str
    description: str
    severity: str  # Informational | Low | Medium | High
    category: str  # Execution | CredentialAccess | LateralMovement | Ransomware | Persistence ...
    detection_source: str  # REST: WindowsDefenderAtp | WindowsDefenderAv | ...
    hunting_detection_source: str  # AlertInfo.DetectionSource: EDR | Antivirus | ...
    service_source: str  # "Microsoft Defender for Endpoint"
    mitre_techniques: tuple[str, ...]  # ("T1059.001", ...)
    attack_techniques: tuple[str, ...]  # AH form: ("PowerShell (T1059.001)", ...)
    machine_id: str
    computer_dns_name: str
    rbac_group_name: str
    aad_tenant_id: str
    first_event_time: datetime
    last_event_time: datetime
    creation_time: datetime
    story: str  # name of the planted story this alert belongs to
    detector_id: str
    related_user: User | None
    threat_family_name: str | None
    threat_name: str | None
    evidence: tuple[Evidence, ...]
    timeline: tuple[StatusChange, ...]  # sorted by time; the first entry is at creation_time

    def state_at(self, as_of: datetime) -> StatusChange | None:
        """The latest status change at or before `as_of` (None: the alert did not exist yet)."""
        current = None
        for change in self.timeline:
            if change.time <= as_of:
                current = change
            else:
                break
        return current

    def to_api(self, as_of: datetime, expand_evidence: bool = False) -> dict[str, Any] | None:
        """The REST alert as it looked at `as_of` (None if it was not created yet)."""
        state = self.state_at(as_of)
        if state is None:
            return None
        comments = [
            {"comment": c.comment, "createdBy": c.assigned_to, "createdTime": iso(c.time)}
            for c in self.timeline
            if c.time <= as_of and c.comment
        ]
        return {
            "id": self.id,
            "incidentId": self.incident_id,
            "investigationId": self.investigation_id,
            "investigationState": "Running" if state.status != "Resolved" else "SuccessfullyRemediated",
            "assignedTo": state.assigned_to,
            "severity": self.severity,
            "status": state.status,
            "classification": state.classification,
            "determination": state.determination,
            "detectionSource": self.detection_source,
            "detectorId": self.detector_id,
            "category": self.category,
            "threatFamilyName": self.threat_family_name,
            "threatName": self.threat_name,
            "title": self.title,
            "description": self.description,
            "alertCreationTime": iso(self.creation_time),
            "firstEventTime": iso(self.first_event_time),
            "lastEventTime": iso(self.last_event_time),
            "lastUpdateTime": iso(state.time),
            "resolvedTime": iso(state.time) if state.status == "Resolved" else None,
            "machineId": self.machine_id,
            "computerDnsName": self.computer_dns_name,
            "rbacGroupName": self.rbac_group_name,
            "aadTenantId": self.aad_tenant_id,
            "mitreTechniques": list(self.mitre_techniques),
            "relatedUser": self.related_user.to_api() if self.related_user else None,
            "comments": comments,
            "evidence": [e.to_api() for e in self.evidence] if expand_evidence else [],
        }


@dataclass(frozen=True)
class PlantedEvent:
    """One advanced-hunting row a story plants: the table and the properties it sets (others stay null)."""

    table: str
    props: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Story:
    """A planted attack: where and when it happened, its alerts, its events, and what finds it."""

    name: str
    title: str
    device_id: str
    device_name: str
    user: User
    start: datetime
    end: datetime
    alert_ids: tuple[str, ...]
    techniques: tuple[str, ...]
    hunting_queries: tuple[str, ...]  # corpus files (kql/m365d/...) that find it
    events: tuple[PlantedEvent, ...] = field(hash=False, repr=False)
    extra_device_ids: tuple[str, ...] = ()  # other devices the story touches (lateral movement target)

    def summary(self) -> dict[str, Any]:
        """The manifest's description of the story."""
        return {
            "name": self.name,
            "title": self.title,
            "device_id": self.device_id,
            "device_name": self.device_name,
            "other_device_ids": list(self.extra_device_ids),
            "user": f"{self.user.domain}\\{self.user.name}",
            "user_upn": self.user.upn,
            "start": iso(self.start),
            "end": iso(self.end),
            "alert_ids": list(self.alert_ids),
            "techniques": list(self.techniques),
            "hunting_queries": list(self.hunting_queries),
            "events": len(self.events),
        }
