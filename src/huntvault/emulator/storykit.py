"""What attack-story builders work with: the StoryContext (ids, processes, rows, alerts) and shared constants."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from huntvault.emulator.catalog import SYSTEM_ACCOUNT, Binary, Proc, binary, user_process_account
from huntvault.emulator.model import Alert, Device, Evidence, PlantedEvent, StatusChange, User
from huntvault.schema import get_table

ATTACKER_IP = "192.0.2.41"  # TEST-NET-1: the attacker's staging server
ATTACKER_HOST = "cdn-update.example.net"
BRUTE_FORCE_IP = "192.0.2.200"
MALICIOUS_SENDER = "MaliciousSender@example.com"
ANALYSTS = ("secops-tier1@contoso.com", "secops-tier2@contoso.com", "ir-lead@contoso.com")


def windows_ticks(t: datetime) -> int:
    """100-ns intervals since 0001-01-01 (the number inside a Defender alert id)."""
    naive = t.replace(tzinfo=None)
    delta = naive - datetime(1, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


@dataclass
class StoryContext:
    """What a story builder gets: where, who, when, and id factories shared across the tenant."""

    rng: random.Random
    tenant_id: str
    device: Device
    user: User
    start: datetime
    targets: tuple[Device, ...]  # other Windows devices the story may touch
    incident_id: int
    admin: User
    report_ids: Callable[[], int]
    events: list[PlantedEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    last_time: datetime | None = None

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def pid(self) -> int:
        return self.rng.randrange(1_000, 40_000, 4)

    def proc(
        self,
        name: str,
        t: datetime,
        cmd: str,
        parent: Proc | None,
        user: User | None = None,
        system: bool = False,
        integrity: str = "Medium",
    ) -> Proc:
        account = SYSTEM_ACCOUNT if system else user_process_account(user or self.user)
        return Proc(
            binary(name),
            self.pid(),
            t,
            cmd,
            account,
            integrity="System" if system else integrity,
            elevation="TokenElevationTypeDefault"
            if system or integrity == "High"
            else "TokenElevationTypeLimited",
            logon_id=999 if system else 0x3E7A1 + self.rng.randrange(1 << 16),
            parent=parent,
        )

    def emit(self, table: str, t: datetime, props: dict[str, Any], device: Device | None = None) -> None:
        """Plant one row; keys the table does not have are dropped, so callers may pass process dicts."""
        schema = get_table(table)
        assert schema is not None, table
        d = device or self.device
        row: dict[str, Any] = {"Timestamp": t}
        if "DeviceId" in schema.by_name:
            row["DeviceId"] = d.id
            row["DeviceName"] = d.name
        if "ReportId" in schema.by_name:
            col = schema.by_name["ReportId"]
            rid = self.report_ids()
            row["ReportId"] = rid if col.type == "long" else f"{rid}-{d.id[:8]}"
        row.update({k: v for k, v in props.items() if k in schema.by_name})
        self.events.append(PlantedEvent(table, row))
        if self.last_time is None or t > self.last_time:
            self.last_time = t

    def process_created(self, p: Proc, device: Device | None = None) -> None:
        self.emit("DeviceProcessEvents", p.created, p.as_created(), device)

    def alert(
        self,
        *,
        title: str,
        description: str,
        severity: str,
        category: str,
        techniques: dict[str, str],
        first: datetime,
        last: datetime,
        evidence: list[Evidence],
        device: Device | None = None,
        source: tuple[str, str] = ("WindowsDefenderAtp", "EDR"),
        threat: str | None = None,
        resolve: bool | None = None,
    ) -> Alert:
        """Create an alert `2-9` minutes after its last event, with a deterministic status timeline."""
        d = device or self.device
        rng = self.rng
        created = last + timedelta(seconds=rng.randint(120, 540), microseconds=rng.randint(0, 999_999))
        alert_id = f"da{windows_ticks(created)}_{rng.randint(1_000_000_000, 2_147_483_647)}"
        analyst = rng.choice(ANALYSTS)
        timeline = [StatusChange(created, "New")]
        t_prog = created + timedelta(minutes=rng.randint(12, 95))
        timeline.append(
            StatusChange(
                t_prog,
                "InProgress",
                assigned_to=analyst,
                comment="Triaging: isolating the device and collecting an investigation package",
            )
        )
        if resolve if resolve is not None else rng.random() < 0.6:
            t_res = t_prog + timedelta(hours=rng.uniform(2, 30))
            determination = "MultiStagedAttack" if severity == "High" else "Malware"
            timeline.append(
                StatusChange(
                    t_res,
                    "Resolved",
                    classification="TruePositive",
                    determination=determination,
                    assigned_to=analyst,
                    comment="Contained; credentials reset and device reimaged",
                )
            )
        alert = Alert(
            id=alert_id,
            incident_id=self.incident_id,
            investigation_id=rng.randint(1_000, 99_999) if source[0] == "WindowsDefenderAtp" else None,
            title=title,
            description=description,
            severity=severity,
            category=category,
            detection_source=source[0],
            hunting_detection_source=source[1],
            service_source="Microsoft Defender for Endpoint",
            mitre_techniques=tuple(techniques),
            attack_techniques=tuple(f"{name} ({tid})" for tid, name in techniques.items()),
            machine_id=d.id,
            computer_dns_name=d.name,
            rbac_group_name=d.machine_group,
            aad_tenant_id=self.tenant_id,
            first_event_time=first,
            last_event_time=last,
            creation_time=created,
            story="",
            detector_id=str(new_uuid(rng)),
            related_user=self.user,
            threat_family_name=threat,
            threat_name=threat,
            evidence=tuple(evidence),
            timeline=tuple(timeline),
        )
        self.alerts.append(alert)
        return alert

    # evidence helpers -----------------------------------------------------------------------
    def ev_process(self, p: Proc, t: datetime, role: str = "Impacted") -> Evidence:
        parent = p.parent
        return Evidence(
            "Process",
            t,
            role,
            sha1=p.binary.sha1,
            sha256=p.binary.sha256,
            file_name=p.binary.file_name,
            file_path=p.binary.folder,
            file_size=p.binary.size,
            process_id=p.pid,
            process_command_line=p.command_line,
            process_creation_time=p.created,
            parent_process_id=parent.pid if parent else None,
            parent_process_creation_time=parent.created if parent else None,
            parent_process_file_name=parent.binary.file_name if parent else None,
            parent_process_file_path=parent.binary.folder if parent else None,
            account_name=p.account["InitiatingProcessAccountName"],
            domain_name=p.account["InitiatingProcessAccountDomain"].upper(),
            user_sid=p.account["InitiatingProcessAccountSid"],
        )

    def ev_file(self, b: Binary, t: datetime, role: str = "Impacted", threat: str | None = None) -> Evidence:
        return Evidence(
            "File",
            t,
            role,
            sha1=b.sha1,
            sha256=b.sha256,
            file_name=b.file_name,
            file_path=b.folder,
            file_size=b.size,
            threat_family=threat,
        )

    def ev_user(self, u: User, t: datetime) -> Evidence:
        return Evidence(
            "User",
            t,
            "Impacted",
            account_name=u.name,
            domain_name=u.domain,
            user_sid=u.sid,
            aad_user_id=u.object_id,
            user_principal_name=u.upn,
            detection_status=None,
        )

    def ev_ip(self, ip: str, t: datetime) -> Evidence:
        return Evidence("Ip", t, "Related", ip_address=ip, detection_status=None)

    def ev_url(self, url: str, t: datetime) -> Evidence:
        return Evidence("Url", t, "Related", url=url, detection_status=None)


def new_uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.randrange(4)]}{h[17:20]}-{h[20:]}"


def hidden_file(name: str, folder: str, size: int) -> Binary:
    return Binary(name, folder, "", "", "", "", size, "")


__all__ = [
    "ATTACKER_HOST",
    "ATTACKER_IP",
    "BRUTE_FORCE_IP",
    "MALICIOUS_SENDER",
    "StoryContext",
    "hidden_file",
    "new_uuid",
    "windows_ticks",
]
