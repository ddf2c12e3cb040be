"""The planted stories are found by the real corpus hunting queries, run by the KQL engine over the export.

The export is normalised line by line and laid out as one Parquet file per table and day (the archive's
`<Table>/date=YYYY-MM-DD/*.parquet` shape), then each story's queries from ../shared/corpus/kql/m365d/
run unchanged (files holding several queries are split at their `// Query #n` headers).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from huntvault.emulator import read_manifest
from huntvault.kql import execute
from huntvault.schema import get_table
from huntvault.schema.normalise import normalise_line
from tests.support.emulator import export_lines, malformed_positions, small_export

NOW = datetime(2026, 11, 22, 19, 30, tzinfo=UTC)  # half an hour after the export's end

#: (story, corpus file, which `// Query #n` part; 0 = the whole file)
CASES: list[tuple[str, str, int]] = [
    ("phish_powershell_cradle", "Execution_PowerShell_downloads.txt.kql", 0),
    ("phish_powershell_cradle", "Campaigns_snip3-encoded-powershell-structure.md.kql", 0),
    ("phish_powershell_cradle", "Execution_powershell-activity-after-email-from-malicious-sender.md.kql", 0),
    ("phish_powershell_cradle", "Credential_Access_logon-attempts-after-malicious-email.md.kql", 0),
    ("lsass_credential_dump", "Credential_Access_procdump-lsass-credentials.md.kql", 0),
    ("lsass_credential_dump", "Credential_Access_doppelpaymer-procdump.md.kql", 0),
    ("scheduled_task_persistence", "Persistence_scheduled_task_creation.txt.kql", 0),
    ("psexec_lateral_movement", "Lateral_Movement_remote-file-creation-with-psexec.md.kql", 0),
    ("psexec_lateral_movement", "Lateral_Movement_doppelpaymer-psexec.md.kql", 0),
    ("psexec_lateral_movement", "Ransomware_Distribution_from_remote_location.md.kql", 0),
    ("ransomware_encryption", "Ransomware_Check_for_multiple_signs_of_ransomware_activity.md.kql", 0),
    ("ransomware_encryption", "Ransomware_Backup_deletion.md.kql", 0),
    (
        "ransomware_encryption",
        "Ransomware_Clearing_of_forensic_evidence_from_event_logs_using_wevtutil.md.kql",
        0,
    ),
    ("brute_force_logons", "Lateral_Movement_Account_brute_force.txt.kql", 1),
    ("antivirus_detections", "Protection_events_Antivirus_detections.txt.kql", 1),
    ("antivirus_detections", "Protection_events_Antivirus_detections.txt.kql", 2),
]


def query_part(text: str, part: int) -> str:
    if not part:
        return text
    pieces = re.split(r"(?m)^(?=// Query #\d)", text)
    return next(p for p in pieces if p.startswith(f"// Query #{part}"))


@pytest.fixture(scope="module")
def hunt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("corpus")
    small_export(root / "export", devices=12, seed=21, dup_rate=0, malformed=2)
    manifest = read_manifest(root / "export")
    bad = malformed_positions(manifest)
    rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for ln in export_lines(root / "export"):
        if (ln.container, ln.blob, ln.offset) in bad:
            continue
        rec = normalise_line(ln.raw)
        if rec.known_table:
            table = get_table(rec.table)
            assert table is not None
            day = rec.row[table.time_column].strftime("%Y-%m-%d")
            rows[(rec.table, day)].append(rec.row)
    for (name, day), part in rows.items():
        table = get_table(name)
        assert table is not None
        folder = root / "archive" / name / f"date={day}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(part, schema=table.arrow_schema()), folder / "part-0.parquet")
    return root / "archive", manifest


@pytest.mark.parametrize(("story", "query", "part"), CASES)
def test_corpus_query_finds_the_story(
    hunt: tuple[Path, dict[str, Any]], shared_dir: Path, story: str, query: str, part: int
) -> None:
    archive, manifest = hunt
    s = next(x for x in manifest["stories"] if x["name"] == story)
    text = query_part((shared_dir / "corpus" / "kql" / "m365d" / query).read_text(encoding="utf-8"), part)
    result = execute(text, archive, now=NOW).rows()
    assert result, f"{query} found nothing"
    allowed = {s["device_id"], s["device_name"], *s["other_device_ids"]}
    for row in result:
        device = row.get("DeviceId") or row.get("DeviceName")
        if device is not None:
            assert device in allowed, f"{query} also matched background device {device}"
