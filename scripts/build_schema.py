"""Regenerates src/huntvault/schema/tables.json from the reference files in ../shared/reference.

Run by hand when the reference changes: `python scripts/build_schema.py [REFERENCE_DIR]`.
The JSON file is the data file the package ships; this script is only how it was made.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "huntvault" / "schema" / "tables.json"

ARROW = {
    "string": "string",
    "int": "int32",
    "long": "int64",
    "real": "float64",
    "bool": "bool",
    "datetime": "timestamp[us, tz=UTC]",
    "dynamic": "string (JSON text)",
    "guid": "string",
    "timespan": "int64 (100ns ticks)",
    "decimal": "float64",
}

SENTINEL_ONLY = {
    "TimeGenerated",
    "TenantId",
    "SourceSystem",
    "Type",
    "_BilledSize",
    "_IsBillable",
    "_ResourceId",
}

# Tables taken from the Sentinel-flavour CSV (their Defender-flavour columns are not in the markdown).
CSV_PREFIXES = ("Email", "Identity", "CloudAppEvents", "UrlClickEvents", "DeviceTvm", "Behavior")
# ...except those whose Defender flavour differs from the Sentinel one by more than the time column: their
# columns come from their table page (the extra file). IdentityInfo in Sentinel is the UEBA table
# (AccountUPN, AccountSID, MailAddress); Defender's has AccountUpn, OnPremSid, EmailAddress.
FROM_PAGE = {"IdentityInfo"}

# Streamable per defender-export.md section 6 (plus IdentityInfo and the newer categories seen on the wire).
STREAMED = {
    "AlertEvidence",
    "AlertInfo",
    "CloudAppEvents",
    "DeviceEvents",
    "DeviceFileCertificateInfo",
    "DeviceFileEvents",
    "DeviceImageLoadEvents",
    "DeviceInfo",
    "DeviceLogonEvents",
    "DeviceNetworkEvents",
    "DeviceNetworkInfo",
    "DeviceProcessEvents",
    "DeviceRegistryEvents",
    "EmailAttachmentInfo",
    "EmailEvents",
    "EmailPostDeliveryEvents",
    "EmailUrlInfo",
    "IdentityLogonEvents",
    "IdentityQueryEvents",
    "IdentityDirectoryEvents",
    "UrlClickEvents",
    "IdentityInfo",
    # newer categories seen on the wire (defender-export.md section 6, third-party report)
    "MessageEvents",
    "MessageUrlInfo",
    "MessagePostDeliveryEvents",
    "CloudAuditEvents",
    "CloudProcessEvents",
    "CloudStorageAggregatedEvents",
}

SESSION_COLUMNS = [
    ("InitiatingProcessSessionId", "long"),
    ("IsInitiatingProcessRemoteSession", "bool"),
    ("InitiatingProcessRemoteSessionDeviceName", "string"),
    ("InitiatingProcessRemoteSessionIP", "string"),
]

# Tables huntvault itself writes into the archive: the forwarder's Defender REST API alerts (one row per
# alert version, prefixed merge without the Machine* fields) and machines (one row per machine state).
_ALERT = (
    "Timestamp:datetime AlertId:string DeviceId:string id:string incidentId:long investigationId:long "
    "investigationState:string assignedTo:string severity:string status:string classification:string "
    "determination:string detectionSource:string detectorId:string category:string threatFamilyName:string "
    "threatName:string title:string description:string alertCreationTime:datetime firstEventTime:datetime "
    "lastEventTime:datetime lastUpdateTime:datetime resolvedTime:datetime machineId:string "
    "computerDnsName:string rbacGroupName:string aadTenantId:string mitreTechniques:dynamic "
    "relatedUser:dynamic comments:dynamic evidence:dynamic"
)
_MACHINE = (
    "Timestamp:datetime DeviceId:string id:string computerDnsName:string firstSeen:datetime lastSeen:datetime "
    "osPlatform:string version:string osVersion:string osProcessor:string osBuild:long osArchitecture:string "
    "lastIpAddress:string lastExternalIpAddress:string agentVersion:string healthStatus:string "
    "onboardingStatus:string defenderAvStatus:string deviceValue:string rbacGroupId:long rbacGroupName:string "
    "riskScore:string exposureLevel:string isAadJoined:bool aadDeviceId:string machineTags:dynamic "
    "managedBy:string managedByStatus:string mergedIntoMachineId:string isPotentialDuplication:bool "
    "isExcluded:bool exclusionReason:string ipAddresses:dynamic vmMetadata:dynamic"
)
# Detection alerts raised by huntvault's own rules (detect stage) and their evidence rows.
_DETECTION = (
    "Timestamp:datetime AlertId:string RuleId:string Title:string Severity:string Category:string "
    "Tactics:dynamic Techniques:dynamic Grouping:string GroupKey:string WindowStart:datetime WindowEnd:datetime "
    "FirstEventTime:datetime LastEventTime:datetime DeviceName:string Entities:dynamic RowCount:long "
    "DetectionSource:string"
)
_DETECTION_EVIDENCE = (
    "Timestamp:datetime AlertId:string RuleId:string EvidenceIndex:long EntityType:string EntityValue:string "
    "RowKey:string Row:dynamic"
)
HUNTVAULT_TABLES: dict[str, tuple[str, list[str] | None]] = {
    "DefenderApiAlerts": (_ALERT, ["AlertId", "lastUpdateTime"]),
    "DefenderApiMachines": (_MACHINE, ["DeviceId", "Timestamp"]),
    "HuntvaultAlerts": (_DETECTION, ["AlertId", "Timestamp"]),
    "HuntvaultAlertEvidence": (_DETECTION_EVIDENCE, None),
}

#: the advanced-hunting tables the export does not carry (this repository's data file, see its header)
EXTRA = ROOT / "scripts" / "schema" / "advanced-hunting-extra.txt"


#: type names the table pages use besides Kusto's own, and the Kusto type each one is
TYPE_ALIASES = {
    "boolean": "bool",
    "nullable bool": "bool",
    "integer": "int",
    "enum": "string",  # an enumeration shown by name
    "object": "dynamic",
    "array": "dynamic",
}


def parse_extra(path: Path) -> dict[str, tuple[str, list[dict[str, object]]]]:
    """`Name [@TimeColumn] Column:type ...` lines -> {name: (time column, columns)}.

    The time column is Timestamp unless `@Column` names another datetime column; a table without either
    gets a Timestamp first, marked inferred (the archive's day partitions need a time column).
    """
    tables: dict[str, tuple[str, list[dict[str, object]]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, *specs = line.split()
        time_col = "Timestamp"
        if specs and specs[0].startswith("@"):
            time_col = specs.pop(0)[1:]
        cols: list[dict[str, object]] = []
        for spec in specs:
            col, _, kql_type = spec.partition(":")
            kql_type = TYPE_ALIASES.get(kql_type, kql_type)
            if kql_type not in ARROW:
                raise SystemExit(f"{path.name}:{n}: {name}.{col}: unknown type {kql_type!r}")
            if any(c["name"] == col for c in cols):
                raise SystemExit(f"{path.name}:{n}: {name}.{col} is listed twice")
            cols.append({"name": col, "type": kql_type, "json_in_string": kql_type == "dynamic"})
        if not any(c["name"] == time_col and c["type"] == "datetime" for c in cols):
            if time_col != "Timestamp":
                raise SystemExit(f"{path.name}:{n}: {name}: time column {time_col} is not a datetime column")
            cols.insert(
                0, {"name": "Timestamp", "type": "datetime", "json_in_string": False, "inferred": True}
            )
        if name in tables:
            raise SystemExit(f"{path.name}:{n}: {name} is listed twice")
        tables[name] = (time_col, cols)
    return tables


ROW = re.compile(r"^\|\s*\d+\s*\|\s*`([^`]+)`\s*\|\s*(\w+)\s*\|\s*(.*?)\s*\|\s*$")


def parse_markdown(path: Path) -> dict[str, list[dict[str, object]]]:
    tables: dict[str, list[dict[str, object]]] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            name = line[3:].split(" ")[0].strip()
            current = name if re.fullmatch(r"[A-Z][A-Za-z]+", name) and name not in {"Sources"} else None
            if current in {"JSON", "Sentinel", "Machine"}:
                current = None
            continue
        if current is None:
            continue
        m = ROW.match(line)
        if not m:
            continue
        col, kql_type, note = m.group(1), m.group(2), m.group(3)
        kql_type = TYPE_ALIASES.get(kql_type, kql_type)
        json_in_string = note.startswith("**yes**")
        cols = tables.setdefault(current, [])
        if any(c["name"] == col for c in cols):
            continue
        cols.append(
            {"name": col, "type": "dynamic" if json_in_string else kql_type, "json_in_string": json_in_string}
        )
    return tables


def parse_csv(path: Path) -> dict[str, list[dict[str, object]]]:
    tables: dict[str, list[dict[str, object]]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            table = row["table_name"]
            if not table.startswith(CSV_PREFIXES) or table in FROM_PAGE:
                continue
            col, kql_type = row["column_name"], row["column_type"]
            if col in SENTINEL_ONLY:
                continue
            cols = tables.setdefault(
                table, [{"name": "Timestamp", "type": "datetime", "json_in_string": False}]
            )
            if any(c["name"] == col for c in cols):
                continue
            kql_type = TYPE_ALIASES.get(kql_type, kql_type)
            cols.append({"name": col, "type": kql_type, "json_in_string": kql_type == "dynamic"})
    return tables


def dedupe_key(name: str, columns: list[dict[str, object]]) -> list[str] | None:
    names = {str(c["name"]) for c in columns}
    if {"DeviceId", "Timestamp", "ReportId"} <= names:
        return ["DeviceId", "Timestamp", "ReportId"]
    if name == "AlertInfo":
        return ["AlertId", "Timestamp"]
    return None  # content hash of the whole row


def main() -> None:
    ref = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "reference"
    md = parse_markdown(ref / "defender-tables.md")
    # The two tables whose page predates the session columns get them, as the other Device* tables did.
    for name in ("DeviceLogonEvents", "DeviceImageLoadEvents"):
        have = {c["name"] for c in md[name]}
        for col, typ in SESSION_COLUMNS:
            if col not in have:
                md[name].append({"name": col, "type": typ, "json_in_string": False, "inferred": True})
    tables: dict[str, dict[str, object]] = {}
    for name, cols in {**md, **parse_csv(ref / "defender-tables-sentinel-flavour.csv")}.items():
        time_col = "EventTime" if name == "AlertEvents" else "Timestamp"
        if not any(c["name"] == "MachineGroup" for c in cols):
            cols.append(
                {"name": "MachineGroup", "type": "string", "json_in_string": False, "decoration": True}
            )
        tables[name] = {
            "streamed": name in STREAMED,
            "legacy": name == "AlertEvents",
            "time_column": time_col,
            "dedupe_key": dedupe_key(name, cols),
            "columns": cols,
        }
    for name, (time_col, cols) in parse_extra(EXTRA).items():
        if name in tables:
            raise SystemExit(f"{EXTRA.name}: {name} is already in the reference files")
        cols.append({"name": "MachineGroup", "type": "string", "json_in_string": False, "decoration": True})
        tables[name] = {
            "streamed": name in STREAMED,
            "legacy": False,
            "time_column": time_col,
            "dedupe_key": None,
            "columns": cols,
        }
    for name, (spec, key) in HUNTVAULT_TABLES.items():
        cols = [
            {"name": c.split(":")[0], "type": c.split(":")[1], "json_in_string": False} for c in spec.split()
        ]
        # written by huntvault itself, never by the Streaming API: no MachineGroup decoration
        tables[name] = {
            "streamed": False,
            "legacy": False,
            "huntvault": True,
            "time_column": "Timestamp",
            "dedupe_key": key,
            "columns": cols,
        }
    doc = {
        "about": "Defender advanced-hunting tables (Defender flavour): every table of the schema, streamed "
        "ones as the Streaming API exports them, plus huntvault's own. Generated by scripts/build_schema.py "
        "from shared/reference and scripts/schema/advanced-hunting-extra.txt; dynamic columns arrive as JSON "
        "in a string.",
        "kql_to_arrow": ARROW,
        "tables": dict(sorted(tables.items())),
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    n_columns = sum(len(cast("list[object]", t["columns"])) for t in tables.values())
    print(f"{len(tables)} tables, {n_columns} columns -> {OUT}")


if __name__ == "__main__":
    main()
