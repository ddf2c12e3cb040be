"""The tenant model and its planted stories: deterministic, API-shaped, and found by the corpus queries' logic.

Each `finds_*` check transcribes the filter of the named corpus query (kql/m365d/...) into Python over
normalised rows, and the test asserts it matches the story's device and nothing in the background noise.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from huntvault.emulator import build_tenant, read_manifest
from huntvault.emulator.stories import STORIES
from huntvault.schema.normalise import normalise_line
from tests.support.emulator import FIXED_END, export_lines, malformed_positions, small_export

END = datetime(2026, 11, 22, 19, tzinfo=UTC)
Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def tenant_rows(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Rows]:
    folder = tmp_path_factory.mktemp("stories")
    small_export(folder, devices=12, seed=21, dup_rate=0)
    manifest = read_manifest(folder)
    bad = malformed_positions(manifest)
    rows: Rows = defaultdict(list)
    for ln in export_lines(folder):
        if (ln.container, ln.blob, ln.offset) not in bad:
            rec = normalise_line(ln.raw)
            rows[rec.table].append(rec.row)
    return manifest, rows


def _story(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in manifest["stories"] if s["name"] == name)


def test_build_tenant_is_deterministic_and_shaped_like_defender() -> None:
    a = build_tenant(5, 20, END, 2)
    b = build_tenant(5, 20, END, 2)
    assert a == b
    assert build_tenant(6, 20, END, 2).tenant_id != a.tenant_id
    platforms = {d.os_platform for d in a.devices}
    assert {"Linux", "macOS"} & platforms and sum(d.is_windows for d in a.devices) > len(a.devices) // 2
    for d in a.devices:
        assert len(d.id) == 40 and int(d.id, 16) >= 0
        api = d.to_api()
        for key in (
            "id",
            "computerDnsName",
            "firstSeen",
            "lastSeen",
            "osPlatform",
            "osBuild",
            "lastIpAddress",
            "lastExternalIpAddress",
            "healthStatus",
            "rbacGroupName",
            "riskScore",
            "exposureLevel",
            "aadDeviceId",
            "machineTags",
            "ipAddresses",
            "osArchitecture",
        ):
            assert key in api
    assert {s.name for s in a.stories} == set(STORIES)
    for alert in a.alerts:
        assert alert.id.startswith("da") and "_" in alert.id
        times = [c.time for c in alert.timeline]
        assert times == sorted(times) and times[0] == alert.creation_time
        assert alert.to_api(alert.creation_time - timedelta(seconds=1)) is None
        first = alert.to_api(alert.creation_time, expand_evidence=True)
        assert first is not None and first["status"] == "New" and first["evidence"]
        last = alert.to_api(alert.timeline[-1].time)
        assert last is not None and last["lastUpdateTime"] > first["lastUpdateTime"]
        assert a.device(alert.machine_id) is not None


def test_story_queries_exist_in_the_corpus(shared_dir: Path) -> None:
    for spec in STORIES.values():
        for q in spec.hunting_queries:
            assert (shared_dir / "corpus" / "kql" / "m365d" / q).is_file(), q


def test_manifest_lists_every_story_with_its_alerts(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    manifest, rows = tenant_rows
    assert {s["name"] for s in manifest["stories"]} == set(STORIES)
    for s in manifest["stories"]:
        assert s["alert_ids"] and s["start"] <= s["end"] <= FIXED_END
    info_ids = {r["AlertId"] for r in rows["AlertInfo"]}
    assert info_ids == {a for s in manifest["stories"] for a in s["alert_ids"]}


def _devices(rows: list[dict[str, Any]]) -> set[str]:
    return {r["DeviceId"] for r in rows}


def test_procdump_lsass_is_found(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    # Credential_Access_procdump-lsass-credentials.md.kql
    manifest, rows = tenant_rows
    hits = [
        r
        for r in rows["DeviceProcessEvents"]
        if (
            r["FileName"].lower() in ("procdump.exe", "procdump64.exe") and "lsass" in r["ProcessCommandLine"]
        )
        or (
            "lsass.exe" in r["ProcessCommandLine"]
            and ("-accepteula" in r["ProcessCommandLine"] or "-ma" in r["ProcessCommandLine"])
        )
    ]
    assert hits and _devices(hits) == {_story(manifest, "lsass_credential_dump")["device_id"]}


def test_powershell_download_cradle_is_found(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    # Execution_PowerShell_downloads.txt.kql and Campaigns_snip3-encoded-powershell-structure.md.kql
    manifest, rows = tenant_rows
    story = _story(manifest, "phish_powershell_cradle")
    tokens = (
        "Net.WebClient",
        "DownloadFile",
        "Invoke-WebRequest",
        "Invoke-Shellcode",
        "http",
        "IEX",
        "Start-BitsTransfer",
        "mpcmdrun.exe",
    )
    hits = [
        r
        for r in rows["DeviceProcessEvents"]
        if r["FileName"].lower() in ("powershell.exe", "powershell_ise.exe")
        and any(t.lower() in r["ProcessCommandLine"].lower() for t in tokens)
    ]
    assert hits and _devices(hits) == {story["device_id"]}
    assert any(
        r["InitiatingProcessFileName"] == "WINWORD.EXE" and "-EncodedCommand" in r["ProcessCommandLine"]
        for r in rows["DeviceProcessEvents"]
    )
    snip3 = [
        r
        for r in rows["DeviceFileEvents"]
        if r["InitiatingProcessFileName"].lower() == "powershell.exe"
        and all(t in r["InitiatingProcessCommandLine"] for t in ("IEX", "Text.Encoding", "UTF8.GetString(@"))
        and any(t in r["InitiatingProcessCommandLine"] for t in ("Unrestricted", "Hidden"))
    ]
    assert _devices(snip3) == {story["device_id"]}


def test_powershell_after_malicious_mail_is_found(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    # Execution_powershell-activity-after-email-from-malicious-sender.md.kql
    manifest, rows = tenant_rows
    mails = [
        (r["Timestamp"], r["RecipientEmailAddress"].split("@")[0])
        for r in rows["EmailEvents"]
        if r["SenderFromAddress"].lower() == "malicioussender@example.com"
    ]
    assert mails
    hits = [
        (p["DeviceName"], p["ProcessCommandLine"])
        for p in rows["DeviceProcessEvents"]
        if p["FileName"].lower() == "powershell.exe"
        for t, acct in mails
        if p["AccountName"] == acct and timedelta(0) <= p["Timestamp"] - t <= timedelta(minutes=30)
    ]
    assert hits and {h[0] for h in hits} == {_story(manifest, "phish_powershell_cradle")["device_name"]}
    # Credential_Access_logon-attempts-after-malicious-email.md.kql
    malware = [
        (r["Timestamp"], r["RecipientEmailAddress"].split("@")[0])
        for r in rows["EmailEvents"]
        if "Malware" in r["ThreatTypes"]
    ]
    logons = [
        r
        for r in rows["IdentityLogonEvents"]
        for t, acct in malware
        if r["AccountName"] == acct and timedelta(0) <= r["Timestamp"] - t <= timedelta(minutes=30)
    ]
    assert logons


def test_scheduled_task_is_found(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    # Persistence_scheduled_task_creation.txt.kql
    manifest, rows = tenant_rows
    hits = [
        r
        for r in rows["DeviceEvents"]
        if r["ActionType"] == "ScheduledTaskCreated" and r["InitiatingProcessAccountSid"] != "S-1-5-18"
    ]
    assert hits and _devices(hits) == {_story(manifest, "scheduled_task_persistence")["device_id"]}


def test_psexec_remote_file_creation_is_found(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    # Lateral_Movement_remote-file-creation-with-psexec.md.kql
    manifest, rows = tenant_rows
    groups: dict[tuple[str, datetime, str], set[str]] = defaultdict(set)
    for r in rows["DeviceFileEvents"]:
        cmd = r["InitiatingProcessCommandLine"]
        if (
            "accepteula" in cmd
            and "\\\\" in r["FolderPath"]
            and r["FileName"].endswith(".exe")
            and ((".ps1" not in cmd and cmd.count(".exe") > 1) or ".bat" in cmd)
        ):
            ts = r["Timestamp"]
            window = ts.replace(minute=ts.minute - ts.minute % 10, second=0, microsecond=0)
            groups[(r["DeviceId"], window, r["InitiatingProcessFileName"])].add(r["FolderPath"])
    found = {k[0] for k, paths in groups.items() if len(paths) > 4}
    assert found == {_story(manifest, "psexec_lateral_movement")["device_id"]}
    # Lateral_Movement_doppelpaymer-psexec.md.kql: PSEXESVC children with a copy command on the target
    by_dev: dict[str, set[str]] = defaultdict(set)
    for r in rows["DeviceProcessEvents"]:
        if r["InitiatingProcessFileName"].lower().startswith("psexe"):
            by_dev[r["DeviceId"]].add(r["ProcessCommandLine"])
    targets = {d for d, cmds in by_dev.items() if len(cmds) > 2 and any("copy" in c for c in cmds)}
    assert targets == set(_story(manifest, "psexec_lateral_movement")["other_device_ids"])
    # Ransomware_Distribution_from_remote_location.md.kql
    titles = {
        r["AlertId"]
        for r in rows["AlertInfo"]
        if r["Title"] == "File dropped and launched from remote location"
    }
    ev = [
        r
        for r in rows["AlertEvidence"]
        if r["AlertId"] in titles
        and (r["FileName"].lower().startswith("psexe") or "accepteula" in r["ProcessCommandLine"])
    ]
    assert ev


def test_ransomware_signs_are_found(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    # Ransomware_Check_for_multiple_signs_of_ransomware_activity.md.kql and Ransomware_Backup_deletion.md.kql
    manifest, rows = tenant_rows
    story = _story(manifest, "ransomware_encryption")
    signs: dict[str, set[str]] = defaultdict(set)
    wevtutil: dict[tuple[str, datetime], set[str]] = defaultdict(set)
    for r in rows["DeviceProcessEvents"]:
        cmd = r["ProcessCommandLine"].lower()
        dev = r["DeviceId"]
        if "bcdedit" in cmd and ("recoveryenabled no" in cmd or "bootstatuspolicy ignoreallfailures" in cmd):
            signs[dev].add("bcdedit")
        if "shadowcopy delete" in cmd:
            signs[dev].add("shadowcopy")
        if "vssadmin" in cmd and ("list shadows" in cmd or "delete shadows" in cmd):
            signs[dev].add("vssadmin")
        if (
            "wbadmin" in cmd
            and "delete" in cmd
            and any(k in cmd for k in ("backup", "catalog", "systemstatebackup"))
        ):
            signs[dev].add("wbadmin")
        if "wevtutil" in cmd and " cl " in f" {cmd} ":
            ts = r["Timestamp"]
            wevtutil[(dev, ts.replace(minute=ts.minute - ts.minute % 5, second=0, microsecond=0))].add(cmd)
    for (dev, _), cmds in wevtutil.items():
        if len(cmds) > 10:
            signs[dev].add("wevtutil")
    assert {d for d, s in signs.items() if len(s) > 2} == {story["device_id"]}
    wmic = [
        r
        for r in rows["DeviceProcessEvents"]
        if r["FileName"].lower() == "wmic.exe"
        and "shadowcopy" in r["ProcessCommandLine"]
        and "delete" in r["ProcessCommandLine"]
    ]
    assert _devices(wmic) == {story["device_id"]}
    renamed = [
        r
        for r in rows["DeviceFileEvents"]
        if r["ActionType"] == "FileRenamed" and r["FileName"].endswith(".hvlock")
    ]
    assert len(renamed) >= 200 and _devices(renamed) == {story["device_id"]}


def test_brute_force_is_found(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    # Lateral_Movement_Account_brute_force.txt.kql (query #1)
    manifest, rows = tenant_rows
    stats: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"ok": 0, "fail": 0, "fa": set(), "sa": set()}
    )
    for r in rows["DeviceLogonEvents"]:
        if r["RemoteIP"] and not r["AccountName"].endswith("$") and r["RemoteIPType"] == "Public":
            s = stats[(r["DeviceName"], r["RemoteIP"])]
            acct = f"{r['AccountDomain']}\\{r['AccountName']}"
            if r["ActionType"] == "LogonSuccess":
                s["ok"] += 1
                s["sa"].add(acct)
            elif r["ActionType"] == "LogonFailed":
                s["fail"] += 1
                s["fa"].add(acct)
    found = {
        k[0]
        for k, s in stats.items()
        if s["fail"] > 10 and s["ok"] > 0 and len(s["fa"]) > 2 and len(s["sa"]) == 1
    }
    assert found == {_story(manifest, "brute_force_logons")["device_name"]}


def test_antivirus_detections_are_found(tenant_rows: tuple[dict[str, Any], Rows]) -> None:
    # Protection_events_Antivirus_detections.txt.kql (queries #1 and #2)
    manifest, rows = tenant_rows
    story = _story(manifest, "antivirus_detections")
    av = [r for r in rows["DeviceEvents"] if r["ActionType"] == "AntivirusDetection"]
    assert _devices(av) == {story["device_id"]}
    titles = {r["AlertId"]: r["Title"] for r in rows["AlertInfo"] if "Defender AV detected" in r["Title"]}
    families: dict[str, set[str]] = defaultdict(set)
    for r in rows["AlertEvidence"]:
        if r["AlertId"] in titles:
            families[r["DeviceName"]].add(titles[r["AlertId"]].split("'")[1])
    assert {d for d, f in families.items() if len(f) > 1} == {story["device_name"]}
