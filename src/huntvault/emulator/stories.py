"""Planted attack stories: the registry (name -> builder, host kind, timing, corpus queries) and the smaller stories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import orjson

from huntvault.emulator.catalog import binary
from huntvault.emulator.intrusion import (
    lsass_credential_dump,
    phish_powershell_cradle,
    psexec_lateral_movement,
    ransomware_encryption,
    scheduled_task_persistence,
)
from huntvault.emulator.storykit import BRUTE_FORCE_IP, StoryContext, hidden_file


def brute_force_logons(ctx: StoryContext) -> None:
    """A public IP fails to log on with several accounts to an internet-facing server, then succeeds."""
    d = ctx.device
    accounts = ("administrator", "admin", "backup", "scanner", ctx.user.name)
    for i in range(36):
        name = accounts[i % 4]
        ctx.emit(
            "DeviceLogonEvents",
            ctx.at(i * 7),
            {
                "ActionType": "LogonFailed",
                "LogonType": "Network",
                "AccountDomain": d.short_name.upper(),
                "AccountName": name,
                "Protocol": "NTLM",
                "FailureReason": "InvalidUserNameOrPassword",
                "RemoteIP": BRUTE_FORCE_IP,
                "RemoteIPType": "Public",
                "RemotePort": ctx.rng.randint(30_000, 65_000),
                "RemoteDeviceName": "",
                "InitiatingProcessId": 0,
                "LogonId": 0,
            },
        )
    u = ctx.user
    ctx.emit(
        "DeviceLogonEvents",
        ctx.at(36 * 7 + 4),
        {
            "ActionType": "LogonSuccess",
            "LogonType": "RemoteInteractive",
            "AccountDomain": u.domain.lower(),
            "AccountName": u.name,
            "AccountSid": u.sid,
            "Protocol": "Negotiate",
            "RemoteIP": BRUTE_FORCE_IP,
            "RemoteIPType": "Public",
            "RemotePort": ctx.rng.randint(30_000, 65_000),
            "IsLocalAdmin": False,
            "LogonId": 0x7A2000 + ctx.rng.randrange(999),
            "AdditionalFields": orjson.dumps({"IsLocalLogon": False}).decode(),
        },
    )
    ctx.alert(
        title="Possible brute-force attack on a public-facing device",
        severity="Medium",
        category="CredentialAccess",
        description=f"{d.name} received many failed logons for several accounts from {BRUTE_FORCE_IP}, then one succeeded.",
        techniques={"T1110.001": "Password Guessing", "T1078": "Valid Accounts"},
        first=ctx.at(0),
        last=ctx.at(36 * 7 + 4),
        evidence=[ctx.ev_ip(BRUTE_FORCE_IP, ctx.at(0)), ctx.ev_user(u, ctx.at(36 * 7 + 4))],
    )


def antivirus_detections(ctx: StoryContext) -> None:
    """Defender Antivirus blocks two different families on one workstation (test file and a hack tool)."""
    u = ctx.user
    edge = ctx.proc(
        "msedge.exe", ctx.at(-600), f'"{binary("msedge.exe").path}" --profile-directory=Default', None
    )
    for i, (fname, threat, family, title_kind) in enumerate(
        (
            ("eicar.com", "Virus:DOS/EICAR_Test_File", "EICAR_Test_File", "malware"),
            ("KMSAuto_Net.exe", "HackTool:Win32/AutoKMS", "AutoKMS", "hacktool"),
        )
    ):
        t = ctx.at(i * 1800)
        f = hidden_file(fname, f"C:\\Users\\{u.name}\\Downloads", 68 if i == 0 else 4_803_584)
        ctx.emit(
            "DeviceFileEvents",
            t,
            {
                "ActionType": "FileCreated",
                "FileName": f.file_name,
                "FolderPath": f.path,
                "SHA1": f.sha1,
                "SHA256": f.sha256,
                "MD5": f.md5,
                "FileSize": f.size,
                "FileOriginUrl": f"https://downloads.example.org/{fname}",
                **edge.as_initiating(),
            },
        )
        ctx.emit(
            "DeviceEvents",
            t + timedelta(seconds=1),
            {
                "ActionType": "AntivirusDetection",
                "FileName": f.file_name,
                "FolderPath": f.path,
                "SHA1": f.sha1,
                "SHA256": f.sha256,
                **edge.as_initiating(),
                "AdditionalFields": orjson.dumps(
                    {
                        "ThreatName": threat,
                        "WasRemediated": True,
                        "WasExecutingWhileDetected": False,
                        "Action": "quarantine",
                    }
                ).decode(),
            },
        )
        ctx.alert(
            title=f"Microsoft Defender AV detected '{family}' {title_kind}",
            severity="Informational" if i == 0 else "Low",
            category="Malware",
            description=f"Microsoft Defender Antivirus detected and quarantined '{threat}'.",
            techniques={},
            first=t,
            last=t + timedelta(seconds=1),
            source=("WindowsDefenderAv", "Antivirus"),
            threat=threat,
            resolve=True,
            evidence=[ctx.ev_file(f, t, threat=threat), ctx.ev_user(u, t)],
        )


@dataclass(frozen=True)
class StorySpec:
    """A story in the registry: how to build it, where it can run, and the corpus queries that find it."""

    title: str
    build: Callable[[StoryContext], None]
    host: str  # "workstation" | "server" | "internet_server"
    offset_minutes: float  # start, relative to the intrusion's start
    techniques: tuple[str, ...]
    hunting_queries: tuple[str, ...]
    on: str = ""  # run on the same device as this other story ("" = pick by host kind)
    incident: str = "intrusion"


#: Every planted story by name, in planting order.
STORIES: dict[str, StorySpec] = {
    "phish_powershell_cradle": StorySpec(
        "Phishing mail leads to an encoded PowerShell download cradle",
        phish_powershell_cradle,
        "workstation",
        0,
        ("T1566.002", "T1059.001", "T1105", "T1027"),
        (
            "Execution_PowerShell_downloads.txt.kql",
            "Campaigns_snip3-encoded-powershell-structure.md.kql",
            "Execution_powershell-activity-after-email-from-malicious-sender.md.kql",
            "Credential_Access_logon-attempts-after-malicious-email.md.kql",
        ),
    ),
    "lsass_credential_dump": StorySpec(
        "LSASS memory dumped with ProcDump and comsvcs.dll",
        lsass_credential_dump,
        "workstation",
        25,
        ("T1003.001",),
        (
            "Credential_Access_procdump-lsass-credentials.md.kql",
            "Credential_Access_doppelpaymer-procdump.md.kql",
        ),
        on="phish_powershell_cradle",
    ),
    "scheduled_task_persistence": StorySpec(
        "Logon scheduled task runs the implant",
        scheduled_task_persistence,
        "workstation",
        40,
        ("T1053.005",),
        ("Persistence_scheduled_task_creation.txt.kql",),
        on="phish_powershell_cradle",
    ),
    "psexec_lateral_movement": StorySpec(
        "PsExec pushes a payload to other machines",
        psexec_lateral_movement,
        "workstation",
        70,
        ("T1021.002", "T1569.002", "T1570"),
        (
            "Lateral_Movement_remote-file-creation-with-psexec.md.kql",
            "Lateral_Movement_doppelpaymer-psexec.md.kql",
            "Ransomware_Distribution_from_remote_location.md.kql",
        ),
        on="phish_powershell_cradle",
    ),
    "ransomware_encryption": StorySpec(
        "Ransomware deletes backups, clears logs and encrypts shares",
        ransomware_encryption,
        "server",
        95,
        ("T1490", "T1070.001", "T1486"),
        (
            "Ransomware_Check_for_multiple_signs_of_ransomware_activity.md.kql",
            "Ransomware_Backup_deletion.md.kql",
            "Ransomware_Clearing_of_forensic_evidence_from_event_logs_using_wevtutil.md.kql",
        ),
    ),
    "brute_force_logons": StorySpec(
        "Brute force against an internet-facing server",
        brute_force_logons,
        "internet_server",
        -300,
        ("T1110.001", "T1078"),
        ("Lateral_Movement_Account_brute_force.txt.kql",),
        incident="bruteforce",
    ),
    "antivirus_detections": StorySpec(
        "Antivirus blocks two families on one workstation",
        antivirus_detections,
        "workstation",
        -540,
        (),
        ("Protection_events_Antivirus_detections.txt.kql",),
        incident="av",
    ),
}

__all__ = ["STORIES", "StorySpec", "antivirus_detections", "brute_force_logons"]
