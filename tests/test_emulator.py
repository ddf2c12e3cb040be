"""The export writer: determinism, layout and envelope, schema round trip, manifest exactness, quirks."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from huntvault.cli import main
from huntvault.emulator import Exporter, ExportOptions, read_manifest
from huntvault.emulator.export import DRIFT_TABLE, blob_path, default_end
from huntvault.emulator.sinks import EventHubFileSink, FolderSink
from huntvault.errors import EmulatorError, NormaliseError
from huntvault.schema import EXTRA_COLUMN, container_name, get_table, table_from_container
from huntvault.schema.normalise import normalise_line, parse_datetime
from tests.support.emulator import FIXED_END, export_lines, malformed_positions, small_export, tree_digest

BLOB_RE = re.compile(r"^tenantId=([0-9a-f-]{36})/y=(\d{4})/m=(\d{2})/d=(\d{2})/h=(\d{2})/m=00/PT1H\.json$")
ENVELOPE_KEYS = {
    "time",
    "tenantId",
    "operationName",
    "category",
    "_TimeReceivedBySvc",
    "properties",
    "Tenant",
}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("export")
    small_export(folder, dup_rate=0.01, malformed=3)
    return folder, read_manifest(folder)


@pytest.fixture(scope="module")
def parsed(export: tuple[Path, dict[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
    """(ExportLine, decoded JSON) for every well-formed line."""
    folder, manifest = export
    bad = malformed_positions(manifest)
    return [
        (ln, orjson.loads(ln.raw))
        for ln in export_lines(folder)
        if (ln.container, ln.blob, ln.offset) not in bad
    ]


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    small_export(tmp_path / "a", devices=3, days=0.5)
    small_export(tmp_path / "b", devices=3, days=0.5)
    small_export(tmp_path / "c", devices=3, days=0.5, seed=8)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")


def test_layout_matches_the_reference(export: tuple[Path, dict[str, Any]]) -> None:
    folder, manifest = export
    containers = {p.name for p in folder.iterdir() if p.is_dir()}
    assert containers == {t["container"] for t in manifest["tables"].values()}
    for name, t in manifest["tables"].items():
        assert t["container"] == "insights-logs-advancedhunting-" + name.lower()
    hours = set()
    for ln in export_lines(folder):
        m = BLOB_RE.match(ln.blob)
        assert m, ln.blob
        assert m.group(1) == manifest["tenant_id"]
        hours.add(ln.blob)
        assert ln.raw.endswith(b"\r\n"), "every line ends with CRLF"
    assert len(hours) == 24  # one day, one blob per hour


def test_envelope_and_export_time(
    parsed: list[tuple[Any, dict[str, Any]]], export: tuple[Path, dict[str, Any]]
) -> None:
    _, manifest = export
    without_z = 0
    for ln, obj in parsed:
        assert set(obj) == ENVELOPE_KEYS
        assert obj["operationName"] == "Publish"
        assert obj["Tenant"] == "DefaultTenant"
        assert obj["tenantId"] == manifest["tenant_id"]
        table = obj["category"].removeprefix("AdvancedHunting-")
        assert container_name(table) == ln.container
        schema = get_table(table)
        event_time = parse_datetime(obj["properties"]["EventTime" if table == "AlertEvents" else "Timestamp"])
        received = parse_datetime(obj["_TimeReceivedBySvc"])
        exported = parse_datetime(obj["time"])
        assert event_time < received < exported
        without_z += not obj["_TimeReceivedBySvc"].endswith("Z")
        # blob hour = event hour
        m = BLOB_RE.match(ln.blob)
        assert m and (int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))) == (
            event_time.year,
            event_time.month,
            event_time.day,
            event_time.hour,
        )
        if schema is not None:  # every schema column present, as in real records
            assert {c.name for c in schema.columns} <= set(obj["properties"])
    assert 0 < without_z < len(parsed)


def test_every_line_normalises(
    parsed: list[tuple[Any, dict[str, Any]]], export: tuple[Path, dict[str, Any]]
) -> None:
    _, manifest = export
    tables_seen: Counter[str] = Counter()
    drift_extra = 0
    for ln, _obj in parsed:
        rec = normalise_line(ln.raw)
        tables_seen[rec.table] += 1
        assert rec.known_table == (get_table(rec.table) is not None)
        if rec.table == DRIFT_TABLE and rec.row[EXTRA_COLUMN]:
            assert manifest["drift"]["unknown_column"]["name"] in orjson.loads(rec.row[EXTRA_COLUMN])
            drift_extra += 1
    known = {t for t in tables_seen if get_table(t)}
    # every streamed table the emulator covers, plus the legacy AlertEvents and the unknown table
    for must in (
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "DeviceFileEvents",
        "DeviceRegistryEvents",
        "DeviceLogonEvents",
        "DeviceImageLoadEvents",
        "DeviceEvents",
        "DeviceInfo",
        "DeviceNetworkInfo",
        "DeviceFileCertificateInfo",
        "AlertInfo",
        "AlertEvidence",
        "AlertEvents",
        "EmailEvents",
        "EmailUrlInfo",
        "IdentityLogonEvents",
        "IdentityQueryEvents",
        "CloudAppEvents",
        "UrlClickEvents",
        "IdentityInfo",
    ):
        assert must in known, must
    unknown = manifest["drift"]["unknown_table"]
    assert tables_seen[unknown] > 0 and get_table(unknown) is None
    assert drift_extra > 0


def test_malformed_lines_are_where_the_manifest_says(export: tuple[Path, dict[str, Any]]) -> None:
    folder, manifest = export
    assert len(manifest["malformed"]) == 3
    for m in manifest["malformed"]:
        data = (folder / m["container"] / m["blob"]).read_bytes()
        line = data[m["offset"] : m["offset"] + m["length"]]
        assert line.endswith(b"\r\n")
        assert m["offset"] == 0 or data[m["offset"] - 1 : m["offset"]] == b"\n"
        with pytest.raises(NormaliseError):
            normalise_line(line)


def test_manifest_counts_equal_a_recount(export: tuple[Path, dict[str, Any]]) -> None:
    folder, manifest = export
    bad = malformed_positions(manifest)
    lines: dict[str, list[bytes]] = defaultdict(list)
    sizes: Counter[str] = Counter()
    for ln in export_lines(folder):
        sizes[f"{ln.container}/{ln.blob}"] += len(ln.raw)
        if (ln.container, ln.blob, ln.offset) in bad:
            continue
        lines[table_from_container(ln.container) or ln.container].append(ln.raw)
    for name, t in manifest["tables"].items():
        got = lines.pop(known.name if (known := get_table(name)) else name.lower())
        assert len(set(got)) == t["events"], name
        assert len(got) - len(set(got)) == t["duplicates"], name
    assert not lines
    assert manifest["totals"]["events"] == sum(t["events"] for t in manifest["tables"].values())
    assert dict(sizes) == manifest["blobs"]


def test_duplicates_and_late_appends_are_present(
    export: tuple[Path, dict[str, Any]], parsed: list[tuple[Any, dict[str, Any]]]
) -> None:
    _, manifest = export
    assert manifest["totals"]["duplicates"] > 0
    late = 0
    for ln, obj in parsed:
        m = BLOB_RE.match(ln.blob)
        assert m
        hour_end = parse_datetime(f"{m.group(2)}-{m.group(3)}-{m.group(4)}T{m.group(5)}:00:00Z") + timedelta(
            hours=1
        )
        if parse_datetime(obj["time"]) > hour_end + timedelta(hours=1):
            late += 1
    assert late > 0
    assert manifest["totals"]["late_lines"] > 0


def test_value_quirks(parsed: list[tuple[Any, dict[str, Any]]]) -> None:
    digits: Counter[int] = Counter()
    big_report_ids = empty_strings = zero_pids = json_strings = 0
    for _ln, obj in parsed:
        props = obj["properties"]
        ts = props.get("Timestamp") or props.get("EventTime")
        frac = re.search(r"\.(\d+)Z$", ts)
        digits[len(frac.group(1)) if frac else 0] += 1
        table = obj["category"].removeprefix("AdvancedHunting-")
        if table == "DeviceInfo" and props["ReportId"] >= 10**17:
            big_report_ids += 1
            rec = normalise_line(orjson.dumps(obj))
            assert rec.row["ReportId"] == props["ReportId"]  # kept exact, beyond float64
        if props.get("AppGuardContainerId") == "" or props.get("RemoteIP") == "":
            empty_strings += 1
        if (
            table == "DeviceLogonEvents"
            and props["ActionType"] == "LogonFailed"
            and props["InitiatingProcessId"] == 0
        ):
            zero_pids += 1
        schema = get_table(table)
        if schema:
            for col in schema.columns:
                v = props.get(col.name)
                if col.json_in_string and isinstance(v, str) and v[:1] in ("[", "{"):
                    json_strings += 1
    assert digits[7] > 0 and any(digits[d] for d in range(1, 7)), digits
    assert big_report_ids > 0 and empty_strings > 0 and zero_pids > 0 and json_strings > 0


def test_alert_rows_match_the_tenant_alerts(
    parsed: list[tuple[Any, dict[str, Any]]], export: tuple[Path, dict[str, Any]]
) -> None:
    _, manifest = export
    ids = {a["id"] for a in manifest["alerts"]}
    assert all(a["in_export"] for a in manifest["alerts"])
    info = {o["properties"]["AlertId"] for _, o in parsed if o["category"] == "AdvancedHunting-AlertInfo"}
    evidence = {
        o["properties"]["AlertId"] for _, o in parsed if o["category"] == "AdvancedHunting-AlertEvidence"
    }
    legacy = {o["properties"]["AlertId"] for _, o in parsed if o["category"] == "AdvancedHunting-AlertEvents"}
    assert info == evidence == legacy == ids
    story_alerts = {aid for s in manifest["stories"] for aid in s["alert_ids"]}
    assert story_alerts == ids


def test_eventhub_format(tmp_path: Path) -> None:
    small_export(tmp_path / "blob", devices=2, days=0.25)
    from huntvault.emulator import write_export

    write_export(None, eventhub_dir=tmp_path / "eh", devices=2, days=0.25, seed=7, end=FIXED_END)
    records: list[bytes] = []
    for file in sorted((tmp_path / "eh").glob("insights-logs-advancedhunting-*/*.json")):
        data = file.read_bytes()
        assert len(data) <= 1_000_000
        body = orjson.loads(data)
        assert set(body) == {"records"}
        for rec in body["records"]:
            named = rec["category"][16:]
            assert rec["category"] == "AdvancedHunting-" + (t.name if (t := get_table(named)) else named)
            assert container_name(rec["category"][16:]) == file.parent.name
            normalise_line(orjson.dumps(rec))
            records.append(orjson.dumps(rec))
    blob_records = sorted(orjson.dumps(orjson.loads(ln.raw)) for ln in export_lines(tmp_path / "blob"))
    assert sorted(records) == blob_records
    assert not (tmp_path / "eh" / "manifest.json").exists()  # a replay reader would take it for a message
    res = CliRunner().invoke(
        main,
        [
            "emulate",
            "export",
            "--eventhub-format",
            str(tmp_path / "one"),
            "--eventhub-name",
            "defender",
            "--devices",
            "2",
            "--days",
            "0.25",
            "--seed",
            "7",
            "--end",
            FIXED_END,
        ],
    )
    assert res.exit_code == 0, res.output
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["defender"]
    single = [
        rec
        for f in sorted((tmp_path / "one" / "defender").glob("*.json"))
        for rec in orjson.loads(f.read_bytes())["records"]
    ]
    assert sorted(orjson.dumps(r) for r in single) == blob_records
    assert read_manifest(tmp_path / "eh-manifest")["totals"]["lines"] == len(records)


@pytest.mark.parametrize("end", [FIXED_END, "2026-11-22T19:20:00Z"])
def test_follow_appends_and_keeps_the_manifest_exact(tmp_path: Path, end: str) -> None:
    opt = ExportOptions(devices=2, days=0.25, seed=3, end=end)
    ex = Exporter(opt, [FolderSink(tmp_path)], tmp_path)
    before = ex.run().total_events
    naps: list[float] = []
    manifest = ex.follow(rate=400, max_events=1000, sleep=naps.append)
    assert manifest.total_events == before + 1000
    assert len(naps) >= 2  # paced in steps of about one second
    data = read_manifest(tmp_path)
    assert data["follow"]["events"] == 1000
    lines = [ln.raw for ln in export_lines(tmp_path)]
    assert len(set(lines)) == data["totals"]["events"]
    assert len(lines) - len(set(lines)) == data["totals"]["duplicates"]
    newest = max(
        parse_datetime(orjson.loads(raw)["properties"].get("Timestamp") or "1970-01-01") for raw in lines
    )
    assert newest >= parse_datetime(FIXED_END)


def test_cli_export_and_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "emulate",
            "export",
            "--to",
            str(tmp_path / "x"),
            "--days",
            "0.1",
            "--devices",
            "2",
            "--seed",
            "4",
            "--end",
            FIXED_END,
            "--dup-rate",
            "0.05",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "events in" in res.output
    assert read_manifest(tmp_path / "x")["params"]["dup_rate"] == 0.05
    res = runner.invoke(main, ["emulate", "export", "--days", "1"])
    assert res.exit_code == 2 and "at least one target" in res.output
    res = runner.invoke(main, ["emulate", "export", "--to", str(tmp_path / "y"), "--end", "yesterday"])
    assert res.exit_code == 2 and "--end" in res.output


def test_options_are_validated(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError):
        Exporter(ExportOptions(devices=0), [EventHubFileSink(tmp_path)], None)
    with pytest.raises(EmulatorError):
        Exporter(ExportOptions(unknown_table="DeviceInfo"), [EventHubFileSink(tmp_path)], None)


def test_default_end_and_blob_path() -> None:
    end = default_end()
    assert end.minute == end.second == end.microsecond == 0
    assert blob_path("t", 0) == "tenantId=t/y=1970/m=01/d=01/h=00/m=00/PT1H.json"


def test_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = (
        "import sys; from huntvault.emulator import write_export; "
        f"write_export(sys.argv[1], devices=2, days=0.2, seed=5, end='{FIXED_END}', malformed=1)"
    )
    for n in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": n}
        subprocess.run([sys.executable, "-c", script, str(tmp_path / n)], check=True, env=env)
    assert tree_digest(tmp_path / "1") == tree_digest(tmp_path / "2")


def test_an_existing_export_is_not_appended_to(tmp_path: Path) -> None:
    small_export(tmp_path, devices=1, days=0.1)
    with pytest.raises(EmulatorError, match="--overwrite"):
        small_export(tmp_path, devices=1, days=0.1)
    (tmp_path / "keep.txt").write_text("mine")
    first = tree_digest(tmp_path)
    small_export(tmp_path, devices=1, days=0.1, overwrite=True)
    assert tree_digest(tmp_path) == first  # replaced, not doubled; unrelated files kept
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_user_processes_belong_to_a_logged_on_session(parsed: list[tuple[Any, dict[str, Any]]]) -> None:
    sessions: set[tuple[str, int]] = set()
    user_procs: set[tuple[str, int]] = set()
    for _ln, obj in parsed:
        props = obj["properties"]
        table = obj["category"].removeprefix("AdvancedHunting-")
        if (
            table == "DeviceLogonEvents"
            and props["LogonType"] == "Interactive"
            and props["ActionType"] == "LogonSuccess"
        ):
            sessions.add((props["DeviceId"], props["LogonId"]))
        elif (
            table == "DeviceProcessEvents"
            and props["InitiatingProcessFileName"] == "explorer.exe"
            and props["Timestamp"] >= "2026-11-22T10"  # sessions of the window's last day (logon at 7-9 h)
        ):
            user_procs.add((props["DeviceId"], props["InitiatingProcessLogonId"]))
    assert user_procs and user_procs <= sessions


@pytest.mark.slow
def test_demo_emulate_step_summarises_a_day_for_50_devices(tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    from huntvault import demo

    def emulate() -> str:
        out = StringIO()
        state = demo.DemoState(demo.DemoOptions(tmp_path, devices=50, days=1.0), Console(file=out, width=160))
        demo.step_emulate(state)
        return out.getvalue()

    out = emulate()
    manifest = read_manifest(tmp_path / "export")
    assert manifest["params"]["devices"] == 50 and manifest["params"]["days"] == 1.0
    assert "DeviceProcessEvents" in out and f"{manifest['totals']['events']:,}" in out
    assert "phish_powershell_cradle" in out
    emulate()  # a second run replaces the export instead of appending to it
    lines = [ln.raw for ln in export_lines(tmp_path / "export")]
    assert len(set(lines)) == read_manifest(tmp_path / "export")["totals"]["events"]


def test_a_short_window_keeps_alerts_and_rows_consistent(tmp_path: Path) -> None:
    small_export(
        tmp_path, devices=3, days=0.02
    )  # 29 minutes: stories are squeezed, some alerts fall after end
    manifest = read_manifest(tmp_path)
    written = {
        orjson.loads(ln.raw)["properties"]["AlertId"]
        for ln in export_lines(tmp_path)
        if ln.container == container_name("AlertInfo")
    }
    assert written == {a["id"] for a in manifest["alerts"] if a["in_export"]}
    for ln in export_lines(tmp_path):
        ts = orjson.loads(ln.raw)["properties"].get("Timestamp")
        if ts:
            assert manifest["start"] <= ts[:19] + "Z" <= manifest["end"]
