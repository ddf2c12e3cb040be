"""Rule files: durations, the native and Sentinel shapes, errors with file positions, `detect check`, windowing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from huntvault.detect import (
    check_rules,
    load_rule,
    load_rule_text,
    load_rules,
    parse_duration,
    tables_read,
    window_query,
)
from huntvault.errors import DetectError, RuleError
from tests.support.detect import FIXTURES, RULES_DIR, dt, native_rule


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("30m", timedelta(minutes=30)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1d", timedelta(days=1)),
        ("90s", timedelta(seconds=90)),
        ("PT1H", timedelta(hours=1)),
        ("P1D", timedelta(days=1)),
        ("PT5M", timedelta(minutes=5)),
        ("P1DT12H", timedelta(days=1, hours=12)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "1h 2", "soon", 5])
def test_bad_durations(text: object) -> None:
    with pytest.raises(DetectError):
        parse_duration(text)


def test_native_rule_fields() -> None:
    rule = load_rule(RULES_DIR / "encoded-powershell-download.yaml")
    assert rule.shape == "native"
    assert rule.id == "hv-encoded-powershell-download"
    assert rule.severity == "High"
    assert rule.every == timedelta(hours=1) and rule.lookback == timedelta(hours=2)
    assert rule.techniques == ("T1059.001", "T1027", "T1105")
    assert [e.kind for e in rule.entities] == ["device", "user", "file_hash", "process"]
    device = rule.entity("device")
    assert device is not None and device.columns == ("DeviceName",)
    assert rule.grouping.mode == "entity" and rule.grouping.by == ("device", "user")
    assert rule.suppress_for == timedelta(hours=24)
    assert rule.query.startswith("DeviceProcessEvents\n")
    # the query block starts on the line after `query: |`, indented two spaces
    assert rule.query_position.line == 14 and rule.query_position.column == 3


def test_sentinel_rule_loads_as_is() -> None:
    rule = load_rule(FIXTURES / "sentinel-rundll32-minidump.yaml")
    assert rule.shape == "sentinel"
    assert rule.id == "8d1c4a52-77e0-4b9e-a3f6-2c5e90b1d7aa"
    assert rule.every == timedelta(hours=1) and rule.lookback == timedelta(hours=2)
    assert rule.tactics == ("CredentialAccess",) and rule.techniques == ("T1003.001",)
    assert rule.trigger.operator == ">" and rule.trigger.threshold == 0
    assert rule.grouping.mode == "row"  # eventGroupingSettings: AlertPerResult
    assert rule.suppress_for == timedelta(0)  # suppressionEnabled: false
    kinds = {e.kind: e.columns for e in rule.entities}
    assert kinds == {
        "user": ("AccountName", "AccountDomain"),
        "device": ("HostName", "DnsDomain"),
        "file_hash": ("SHA256",),
    }  # the Algorithm identifier is not a value column
    assert {e.sentinel_type for e in rule.entities} == {"Account", "Host", "FileHash"}


def test_sentinel_defaults_and_options() -> None:
    text = """
id: 0f0e0d0c-1111-2222-3333-444455556666
name: Many failures
severity: medium
queryFrequency: PT30M
queryPeriod: P1D
triggerOperator: GreaterThan
triggerThreshold: 5
suppressionEnabled: true
suppressionDuration: 5h
tactics: [CredentialAccess]
relevantTechniques: [T1110]
query: DeviceLogonEvents | where ActionType == "LogonFailed"
"""
    rule = load_rule_text(text, "x.yaml")
    assert rule.every == timedelta(minutes=30) and rule.lookback == timedelta(days=1)
    assert rule.severity == "Medium"
    assert rule.grouping.mode == "window"  # Sentinel's default: one alert per run (SingleAlert)
    assert rule.trigger.fires(6) and not rule.trigger.fires(5)
    assert rule.suppress_for == timedelta(hours=5) and rule.suppress_by_rule


@pytest.mark.parametrize(
    ("body", "line", "column", "words"),
    [
        (
            "id: a\nname: b\nseverity: Critical\nschedule: {every: 1h}\nquery: DeviceEvents\n",
            3,
            11,
            "severity",
        ),
        (
            "id: a\nname: b\nseverity: Low\nschedule: {every: 1h, lookbak: 2h}\nquery: DeviceEvents\n",
            4,
            23,
            "lookbak",
        ),
        ("id: a\nname: b\nseverity: Low\nschedule: {every: soon}\nquery: DeviceEvents\n", 4, 19, "duration"),
        ("id: a\n name: b\n", 2, 6, "invalid YAML"),
        (
            "id: a\nname: b\nseverity: Low\nschedule: {every: 1h}\nquery: DeviceEvents\nentities:\n  host: DeviceName\n",
            7,
            3,
            "entity kind",
        ),
        ("id: a\nname: b\nseverity: Low\nschedule: {every: 1h}\n", 1, 1, "query"),
        ("id: a b\nname: b\nseverity: Low\nschedule: {every: 1h}\nquery: DeviceEvents\n", 1, 5, "id"),
        (
            "id: a\nname: b\nseverity: Low\ntechniques: [T1059, Execution]\nschedule: {every: 1h}\nquery: DeviceEvents\n",
            4,
            21,
            "MITRE",
        ),
        (
            "id: a\nname: b\nseverity: Low\nqueryFrequency: 1h\nquery: DeviceEvents\nentityMappings:\n  - entityType: IP\n",
            7,
            5,
            "fieldMappings",
        ),
    ],
)
def test_errors_carry_positions(body: str, line: int, column: int, words: str) -> None:
    with pytest.raises(RuleError) as info:
        load_rule_text(body, "r.yaml")
    err = info.value
    assert (err.path, err.line, err.column) == ("r.yaml", line, column), str(err)
    assert words in str(err)


def test_duplicate_ids_are_reported(tmp_path: Path) -> None:
    text = native_rule("same", "DeviceEvents | take 1")
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yml").write_text(text)
    rules, errors = load_rules(tmp_path)
    assert [r.id for r in rules] == ["same"]
    assert len(errors) == 1 and "duplicate rule id" in str(errors[0]) and errors[0].path.endswith("b.yml")


def test_shipped_rules_pass_check() -> None:
    report = check_rules(RULES_DIR)
    assert report.problems == []
    assert len(report.rules) == len(list(RULES_DIR.glob("*.yaml"))) >= 7


def test_check_maps_kql_errors_to_file_positions(tmp_path: Path) -> None:
    (tmp_path / "block.yaml").write_text(
        native_rule(
            "block",
            "DeviceProcessEvents\n| where FileName =~ 'x.exe'\n| project Timestamp, DeviceNme",
            entities="entities:\n  device: DeviceName",
        )
    )
    (tmp_path / "quoted.yaml").write_text(
        "id: quoted\nname: q\nseverity: Low\nschedule: {every: 1h}\n"
        "query: \"DeviceEvents | where (ActionType == 'x'\"\n"
    )
    (tmp_path / "entity.yaml").write_text(
        native_rule(
            "entity", "DeviceEvents | project Timestamp, DeviceName", entities="entities:\n  ip: RemoteIP"
        )
    )
    (tmp_path / "fine.yaml").write_text(
        native_rule(
            "fine", "DeviceEvents | project Timestamp, DeviceName", entities="entities:\n  device: DeviceName"
        )
    )
    report = check_rules(tmp_path)
    by_rule = {p.rule_id: p for p in report.problems}
    assert [r.id for r in report.rules] == ["fine"]
    block = by_rule["block"]
    # `query: |` is line 9, so KQL line 3 is file line 12; the column counts the two-space indent
    assert (block.line, block.column) == (12, 24) and "DeviceNme" in block.message
    quoted = by_rule["quoted"]
    assert quoted.line == 5 and quoted.column > 8 and "expected" in quoted.message
    entity = by_rule["entity"]
    assert (entity.line, entity.column) == (12, 7) and "RemoteIP" in entity.message


def test_tables_read_ignores_strings_and_comments() -> None:
    q = (
        '// DeviceFileEvents is not read\nDeviceProcessEvents | where ProcessCommandLine has "DeviceEvents"\n'
        '| join (DeviceNetworkEvents | where RemoteUrl == @"DeviceLogonEvents") on DeviceId'
    )
    assert tables_read(q) == ["DeviceProcessEvents", "DeviceNetworkEvents"]


def test_window_query_shadows_each_table_on_one_line() -> None:
    q = "DeviceEvents | join DeviceInfo on DeviceId\n| take 5"
    out = window_query(q, dt("2026-10-31T10:00:00Z"), dt("2026-10-31T12:00:00Z"))
    first, rest = out.split("\n", 1)
    assert rest == q
    assert first.count("let ") == 2
    assert (
        "let DeviceEvents = DeviceEvents | where Timestamp >= datetime(2026-10-31T10:00:00.000000Z)" in first
    )
    assert "Timestamp < datetime(2026-10-31T12:00:00.000000Z)" in first
    assert window_query("print 1", dt("2026-10-31T10:00:00Z"), dt("2026-10-31T12:00:00Z")) == "print 1"
