"""Every advanced-hunting table is in the catalog: a hunt naming one binds, `getschema` gives its documented
columns, and it returns zero rows from an archive that does not carry it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from huntvault.kql import execute
from huntvault.kql.backends import DuckDBBackend
from huntvault.schema import get_table, tables
from tests.support.kql import NOW, sample_rows, write_archive

ROOT = Path(__file__).resolve().parents[1]
TABLE_LIST = ROOT / "tests" / "fixtures" / "advanced_hunting_tables.txt"
EXTRA = ROOT / "scripts" / "schema" / "advanced-hunting-extra.txt"

#: one table per family the table pages added, with its time column
FAMILIES = {
    "CloudAuditEvents": "Timestamp",  # Defender for Cloud
    "CloudDnsEvents": "Timestamp",
    "CloudProcessEvents": "Timestamp",
    "CloudStorageAggregatedEvents": "Timestamp",
    "CloudPolicyEnforcementEvents": "Timestamp",
    "EntraIdSignInEvents": "Timestamp",  # Entra ID
    "EntraIdSpnSignInEvents": "Timestamp",
    "GraphApiAuditEvents": "Timestamp",
    "OAuthAppInfo": "Timestamp",  # app governance
    "MessageEvents": "Timestamp",  # Teams (Defender for Office 365)
    "MessagePostDeliveryEvents": "Timestamp",
    "MessageUrlInfo": "Timestamp",
    "CallActivityEvents": "ActivityTimestamp",
    "CampaignInfo": "Timestamp",
    "FileMaliciousContentInfo": "Timestamp",
    "DataSecurityBehaviors": "Timestamp",  # Purview insider risk
    "DataSecurityEvents": "Timestamp",
    "DeviceBaselineComplianceAssessment": "Timestamp",  # baseline compliance (no Timestamp documented)
    "DeviceBaselineComplianceAssessmentKB": "Timestamp",
    "DeviceBaselineComplianceProfiles": "Timestamp",
    "DisruptionAndResponseEvents": "Timestamp",  # attack disruption
    "AIAgentsInfo": "Timestamp",  # AI agents
    "AgentsInfo": "Timestamp",
    "IdentityInfo": "Timestamp",  # the Defender flavour, from its page
}


def listed_tables() -> list[str]:
    lines = TABLE_LIST.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def documented(name: str) -> list[tuple[str, str]]:
    """The table's line in the extra file (the transcription of its page), read here independently of
    scripts/build_schema.py; page type names other than Kusto's as that script maps them."""
    alias = {"boolean": "bool", "integer": "int", "enum": "string", "object": "dynamic", "array": "dynamic"}
    for line in EXTRA.read_text(encoding="utf-8").splitlines():
        if line.startswith(name + " "):
            specs = [s for s in line.split()[1:] if not s.startswith("@")]
            return [(s.split(":")[0], alias.get(s.split(":")[1], s.split(":")[1])) for s in specs]
    raise AssertionError(f"{name} is not in {EXTRA.name}")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> DuckDBBackend:
    """An archive carrying a few Device* rows and none of the tables under test."""
    return DuckDBBackend(write_archive(tmp_path_factory.mktemp("archive"), sample_rows()))


def test_every_table_of_the_schema_reference_is_in_the_catalog() -> None:
    names = listed_tables()
    assert len(names) == len(set(names)) >= 65
    missing = [n for n in names if get_table(n) is None]
    assert not missing
    assert all(not tables()[n].own for n in names)
    # the catalog holds those, the legacy AlertEvents and huntvault's own tables, nothing else
    others = sorted(set(tables()) - set(names))
    assert others == sorted(["AlertEvents", *(n for n, t in tables().items() if t.own)])


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_table_binds_with_its_documented_columns_and_no_rows(name: str, backend: DuckDBBackend) -> None:
    result = execute(f"{name} | take 1", backend=backend, now=NOW).table
    assert result.num_rows == 0
    schema = execute(f"{name} | getschema | project ColumnName, ColumnType", backend=backend, now=NOW).table
    got = [(r["ColumnName"], r["ColumnType"]) for r in schema.to_pylist()]
    doc = documented(name)
    time_col = FAMILIES[name]
    if time_col not in dict(doc):  # the page has no time column: one is added first, marked inferred
        doc.insert(0, (time_col, "datetime"))
    assert got == [*doc, ("MachineGroup", "string")]  # every Defender table carries the export's decoration
    assert get_table(name).time_column == time_col  # type: ignore[union-attr]


def test_types_the_pages_spell_otherwise_are_kusto_types(backend: DuckDBBackend) -> None:
    def column_type(table: str, column: str) -> str:
        q = f"{table} | getschema | where ColumnName == '{column}' | project ColumnType"
        rows = execute(q, backend=backend, now=NOW).table.to_pylist()
        assert len(rows) == 1, (table, column)
        return str(rows[0]["ColumnType"])

    assert column_type("OAuthAppInfo", "ConsentedUsersCount") == "int"  # `integer`
    assert column_type("OAuthAppInfo", "IsAdminConsented") == "bool"  # `boolean`
    assert column_type("CloudStorageAggregatedEvents", "OperationNamesList") == "dynamic"  # `object`
    assert column_type("DisruptionAndResponseEvents", "DataSources") == "dynamic"  # `array`
    assert column_type("DataSecurityBehaviors", "ActionCategory") == "string"  # `enum`
    assert column_type("DeviceBaselineComplianceAssessment", "IsCompliant") == "bool"  # `nullable bool`
    assert column_type("AIAgentsInfo", "AIAgentId") == "guid"


def test_hunts_over_absent_tables_run_like_over_empty_ones(backend: DuckDBBackend) -> None:
    """Time windows, summaries, joins with a table that has rows, and unions all bind and run."""
    devices = execute("DeviceProcessEvents | distinct DeviceName | count", backend=backend).table.to_pylist()
    assert devices[0]["Count"] > 0
    queries = {
        "CallActivityEvents | where ActivityTimestamp > ago(1d) | count": [{"Count": 0}],
        "EntraIdSignInEvents | where Timestamp > ago(7d) | summarize n = count() by AccountUpn": [],
        "CloudAuditEvents | where OperationName startswith 'Microsoft.Compute/' "
        "| extend Status = RawEventData['status'] | project Timestamp, Status": [],
        "DeviceProcessEvents | summarize by DeviceName "
        "| join kind=leftanti (DisruptionAndResponseEvents | distinct DeviceName) on DeviceName "
        "| count": devices,  # an anti-join with no rows keeps every device
        "union MessageEvents, MessageUrlInfo, MessagePostDeliveryEvents | count": [{"Count": 0}],
        "IdentityInfo | where AccountUpn =~ 'a@b.c' | project OnPremSid, EmailAddress, CloudSid": [],
    }
    for query, rows in queries.items():
        assert execute(query, backend=backend, now=NOW).table.to_pylist() == rows, query


def test_identity_info_is_the_defender_table_and_answers_to_sentinel_names(backend: DuckDBBackend) -> None:
    """The Defender columns are the table's; Sentinel's UEBA spellings bind to them, as TimeGenerated does."""
    cols = [c.name for c in get_table("IdentityInfo").columns]  # type: ignore[union-attr]
    assert {"AccountUpn", "OnPremSid", "EmailAddress", "CloudSid"} <= set(cols)
    assert not {"AccountUPN", "AccountSID", "MailAddress", "AccountCloudSID"} & set(cols)
    q = "IdentityInfo | where TimeGenerated > ago(1d) | project AccountUPN, AccountSID, MailAddress, AccountCloudSID"
    result = execute(q, backend=backend, now=NOW).table
    assert result.column_names == ["AccountUPN", "AccountSID", "MailAddress", "AccountCloudSID"]
    assert result.num_rows == 0


def test_a_misspelt_table_is_still_an_error_with_its_position(backend: DuckDBBackend) -> None:
    from huntvault.errors import KqlSemanticError

    with pytest.raises(KqlSemanticError, match=r"line 2, column 7: unknown table 'CloudAuditEvent'"):
        execute("let n = 1;\nunion CloudAuditEvent", backend=backend, now=NOW)


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_schema", ROOT / "scripts" / "build_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_file_is_what_the_build_script_makes(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = load_build_script()
    out = tmp_path / "tables.json"
    monkeypatch.setattr(build, "OUT", out)
    monkeypatch.setattr("sys.argv", ["build_schema.py", str(shared_dir / "reference")])
    build.main()
    shipped = json.loads((ROOT / "src" / "huntvault" / "schema" / "tables.json").read_text(encoding="utf-8"))
    assert json.loads(out.read_text(encoding="utf-8")) == shipped


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("T Timestamp:datetime A:strin", r"extra\.txt:1: T\.A: unknown type 'strin'"),
        ("T Timestamp:datetime A:string A:long", r"extra\.txt:1: T\.A is listed twice"),
        ("T @When When:string", r"extra\.txt:1: T: time column When is not a datetime column"),
        ("T A:string\nT B:string", r"extra\.txt:2: T is listed twice"),
    ],
)
def test_the_build_script_names_the_line_of_a_bad_entry(tmp_path: Path, line: str, message: str) -> None:
    build = load_build_script()
    path = tmp_path / "extra.txt"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=message):
        build.parse_extra(path)
