"""Sigma rules as they are: conversion with pySigma's Kusto backend, metadata, the `huntvault:` extension block,
rules that cannot be converted or compiled (named by `detect check` with file, field and reason), and the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from huntvault.cli import main
from huntvault.config import Config
from huntvault.detect import (
    SigmaDefaults,
    check_rules,
    load_rule,
    load_rule_text,
    load_rules,
    open_scheduler,
    rule_summary,
    sigma_defaults,
)
from huntvault.errors import ConfigError, RuleError, SigmaRuleError
from tests.support.detect import FIXTURES

SIGMA = FIXTURES / "sigma"
BROKEN = FIXTURES / "sigma-broken"

RULE = """\
title: Test rule
id: 0b8f0a9e-0000-4000-8000-000000000001
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    Image|endswith: '\\\\whoami.exe'
  condition: selection
level: {level}
{extra}
"""


def sigma_text(level: str = "medium", extra: str = "") -> str:
    return RULE.format(level=level, extra=extra)


def test_every_fixture_rule_converts_to_kql_on_its_defender_table() -> None:
    rules, errors = load_rules(SIGMA)
    assert errors == []
    assert len(rules) == 14 and {r.shape for r in rules} == {"sigma"}
    by_id = {r.id[-2:]: r for r in rules}
    assert by_id["01"].query.startswith("DeviceProcessEvents\n| where ")
    assert by_id["10"].query.startswith("DeviceFileEvents\n")
    assert by_id["11"].query.startswith("DeviceImageLoadEvents\n")
    assert (
        by_id["12"].query.startswith("DeviceNetworkEvents\n")
        and "ipv4_is_in_range(RemoteIP" in by_id["12"].query
    )
    assert by_id["13"].query.startswith("DeviceRegistryEvents\n")
    assert check_rules(SIGMA).problems == []  # every converted query compiles on huntvault's engine


def test_metadata_level_tags_falsepositives_and_default_schedule() -> None:
    rule = load_rule(SIGMA / "proc_creation_rundll32_comsvcs_minidump.yml")
    assert rule.id == "3c1a6f02-5b7e-4d0c-9e55-0a1f2b3c4d02"
    assert rule.name == "Process Memory Dumped With comsvcs.dll MiniDump"
    assert rule.severity == "High"  # critical: Defender's highest is High
    assert rule.tactics == ("CredentialAccess",) and rule.techniques == ("T1003.001",)
    assert rule.false_positives == ("Unlikely",)
    assert (rule.every, rule.lookback) == (timedelta(hours=1), timedelta(hours=2))
    # the huntvault: block's entities, grouping and suppression
    assert [e.kind for e in rule.entities] == ["device", "user", "file_hash"]
    assert (rule.grouping.mode, rule.grouping.by, rule.suppress_for) == (
        "entity",
        ("device",),
        timedelta(hours=12),
    )
    several = load_rule(SIGMA / "proc_creation_powershell_encoded_command.yml")
    assert several.tactics == ("Execution", "DefenseEvasion") and several.techniques == ("T1059.001", "T1027")
    assert several.severity == "High" and several.grouping.mode == "row"
    # no entities given: the rule's table's usual entity columns
    assert {e.kind: e.columns for e in several.entities}["user"] == (
        "AccountName",
        "InitiatingProcessAccountName",
        "AccountUpn",
    )
    summary = rule_summary(several)
    assert summary["shape"] == "sigma" and summary["every"] == "1h" and summary["lookback"] == "2h"


def test_extension_schedule_and_deprecated_rules_load_disabled() -> None:
    task = load_rule(SIGMA / "proc_creation_schtasks_onlogon_highest.yml")
    assert (task.every, task.lookback) == (timedelta(minutes=30), timedelta(hours=1))
    assert task.tactics == ("Persistence", "PrivilegeEscalation")
    assert not load_rule(SIGMA / "proc_creation_old_rule_deprecated.yml").enabled
    enabled = load_rule_text(
        sigma_text(extra="status: deprecated\nhuntvault:\n  enabled: true\n  every: 4h"), "x.yml"
    )
    assert enabled.enabled and (enabled.every, enabled.lookback) == (timedelta(hours=4), timedelta(hours=4))


def test_configured_defaults_apply_to_rules_without_a_schedule() -> None:
    rule = load_rule_text(sigma_text(), "x.yml", SigmaDefaults(timedelta(minutes=15), timedelta(minutes=45)))
    assert (rule.every, rule.lookback) == (timedelta(minutes=15), timedelta(minutes=45))
    cfg = Config()
    cfg.detect.sigma_every, cfg.detect.sigma_lookback = "10m", "1h"
    assert sigma_defaults(cfg) == SigmaDefaults(timedelta(minutes=10), timedelta(hours=1))
    cfg.detect.sigma_lookback = "soon"
    with pytest.raises(ConfigError, match=r"detect\.sigma_lookback"):
        sigma_defaults(cfg)
    cfg.detect.sigma_lookback, cfg.detect.sigma_every = "1h", "0s"
    with pytest.raises(ConfigError, match=r"detect\.sigma_every.*positive"):
        sigma_defaults(cfg)


def test_levels_and_missing_id() -> None:
    assert load_rule_text(sigma_text("informational"), "a.yml").severity == "Informational"
    assert load_rule_text(sigma_text("low"), "a.yml").severity == "Low"
    no_id = sigma_text().replace("id: 0b8f0a9e-0000-4000-8000-000000000001\n", "")
    assert load_rule_text(no_id, "rules/My Rule.yml").id == "sigma-My-Rule"


def test_a_broken_folder_loads_the_rest_and_check_names_each_bad_rule() -> None:
    rules, errors = load_rules(BROKEN)
    assert sorted(r.id[-2:] for r in rules) == [
        "03",
        "08",
        "10",
    ]  # DeviceInfo converts; check finds its column
    found = {Path(e.path).name: e for e in errors}
    assert set(found) == {
        "proc_creation_unknown_field.yml",
        "linux_auditd_no_table.yml",
        "condition_names_missing_selection.yml",
    }
    assert all(isinstance(e, SigmaRuleError) for e in errors)
    unknown = found["proc_creation_unknown_field.yml"]
    assert (unknown.line, unknown.column, unknown.field) == (
        13,
        5,
        "detection.selection.ServiceSignature|contains",
    )
    assert "ServiceSignature is not a column of DeviceProcessEvents" in unknown.message
    auditd = found["linux_auditd_no_table.yml"]
    assert (auditd.line, auditd.field) == (7, "logsource") and "huntvault: {table: ...}" in auditd.message
    cond = found["condition_names_missing_selection.yml"]
    assert cond.field == "detection.condition" and "'filter_admins'" in cond.message

    report = check_rules(BROKEN)
    assert sorted(r.id[-2:] for r in report.rules) == ["08", "10"]
    by_file = {Path(p.path).name: p for p in report.problems}
    assert len(by_file) == 4 and all(p.severity == "error" for p in report.problems)
    column = by_file["device_info_missing_column.yml"]
    assert column.field == "detection.selection.AzureResourceId|contains"
    assert (column.line, column.column) == (15, 5)
    assert "AzureResourceId" in column.message and "converted KQL line 2" in column.message


def test_bad_extension_blocks_are_rule_errors_with_positions() -> None:
    cases = [
        ("huntvault: 5", "huntvault must be a mapping"),
        ("huntvault:\n  evry: 1h", "unknown key 'evry' in the huntvault block"),
        ("huntvault:\n  every: soon", "not a duration"),
        ("huntvault:\n  table: NoSuchTable", "no archive table 'NoSuchTable'"),
        (
            "huntvault:\n  entities: {device: DeviceName}\n  grouping: {per: entity, by: [ip]}",
            "grouping by 'ip'",
        ),
        ("huntvault:\n  enabled: maybe", "enabled must be true or false"),
    ]
    for extra, words in cases:
        with pytest.raises(RuleError, match=words) as info:
            load_rule_text(sigma_text(extra=extra), "bad.yml")
        assert info.value.line >= 11, (extra, info.value)  # the huntvault: block starts on line 11


def test_unparseable_sigma_is_a_rule_error_not_a_crash() -> None:
    with pytest.raises(SigmaRuleError) as info:
        load_rule_text(sigma_text("severe"), "bad.yml")
    assert info.value.field == "level" and info.value.line == 10
    with pytest.raises(SigmaRuleError, match="correlation rules are not supported"):
        load_rule_text("title: c\ncorrelation:\n  type: event_count\n  rules: [a]\n", "c.yml")
    with pytest.raises(SigmaRuleError) as missing:
        load_rule_text("title: t\nlogsource: {category: process_creation}\n", "t.yml")
    assert missing.value.field == "detection"


def test_scheduler_skips_unconvertible_sigma_rules_but_stops_on_other_errors(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(BROKEN, rules_dir)
    archive = tmp_path / "archive"
    archive.mkdir()
    cfg = Config()
    cfg.archive.path = str(archive)
    cfg.detect.state_dir = str(tmp_path / "state")
    sched = open_scheduler(cfg, str(rules_dir))
    try:
        assert sorted(r.id[-2:] for r in sched.rules) == ["03", "08", "10"]
    finally:
        sched.store.close()
        sched.state.close()
    (rules_dir / "typo.yaml").write_text(
        "id: t\nname: t\nseverity: Low\nschedule: {every: 1h}\nquery: T\nwat: 1\n"
    )
    with pytest.raises(RuleError, match="unknown key 'wat'"):
        open_scheduler(cfg, str(rules_dir))


def test_cli_convert_check_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["detect", "convert", str(SIGMA / "proc_creation_whoami_privileges.yml")])
    assert out.exit_code == 0, out.output
    assert (
        out.output.startswith("DeviceProcessEvents\n| where ")
        and 'FolderPath endswith "\\\\whoami.exe"' in out.output
    )
    as_json = runner.invoke(
        main, ["detect", "convert", str(SIGMA / "file_event_psexesvc_dropped.yml"), "--json"]
    )
    data = json.loads(as_json.output)
    assert data["tactics"] == ["LateralMovement", "Execution"] and data["techniques"] == [
        "T1021.002",
        "T1569.002",
    ]
    assert data["query"].startswith("DeviceFileEvents")
    bad = runner.invoke(main, ["detect", "convert", str(BROKEN / "linux_auditd_no_table.yml")])
    assert bad.exit_code == 2 and "linux_auditd_no_table.yml:7:1:" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    missing = runner.invoke(main, ["detect", "convert", str(tmp_path / "nope.yml")])
    assert missing.exit_code == 2 and "cannot read the rule" in missing.output
    check = runner.invoke(main, ["detect", "check", str(BROKEN), "--json"])
    assert check.exit_code == 1
    problems = json.loads(check.output)["problems"]
    assert {p["field"] for p in problems} == {
        "detection.condition",
        "detection.selection.AzureResourceId|contains",
        "logsource",
        "detection.selection.ServiceSignature|contains",
    }
    text = runner.invoke(main, ["detect", "check", str(BROKEN)])
    assert "[logsource]" in text.output and "2 rules ok, 4 errors" in text.output
    cfg = tmp_path / "huntvault.toml"
    cfg.write_text('[detect]\nsigma_every = "later"\n')
    conf = runner.invoke(main, ["--config", str(cfg), "detect", "check", str(SIGMA)])
    assert conf.exit_code == 2 and "detect.sigma_every" in conf.output
