"""Backtest reports people read: the sparkline, the text and JSON reports, `detect backtest --all` over a folder,
and the CLI's answers to bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from huntvault.cli import main
from huntvault.detect import ArchiveRunner, backtest, load_rules, render, sparkline
from tests.support.detect import FIXTURES, RULES_DIR, EmulatedArchive, build_archive, dt


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> EmulatedArchive:
    return build_archive(tmp_path_factory.mktemp("report") / "story", days=3)


def _config(tmp_path: Path, archive: Path, rules: Path) -> Path:
    path = tmp_path / "huntvault.toml"
    path.write_text(f'[archive]\npath = "{archive}"\n\n[detect]\nrules_dir = "{rules}"\n')
    return path


def test_sparkline_scales_buckets_and_marks_empty_days() -> None:
    assert sparkline([]) == ("", 1)
    assert sparkline([0, 1, 8, 4]) == ("_▁█▄", 1)
    assert sparkline([0, 0, 0]) == ("___", 1)
    line, per = sparkline([1] * 200, width=50)
    assert per == 4 and len(line) == 50 and set(line) == {"█"}


def test_report_text_and_json(story: EmulatedArchive) -> None:
    rule = {r.id: r for r in load_rules(RULES_DIR)[0]}["hv-antivirus-detection"]
    rep = backtest(rule, ArchiveRunner(story.path), story.start, story.end)
    assert rep.path == "one-pass" and rep.queries == 1 and rep.windows == 72
    assert rep.days == ["2026-10-29", "2026-10-30", "2026-10-31", "2026-11-01"]
    assert sum(rep.daily) == rep.alerts == 2 and rep.per_day == {"2026-10-31": 2}
    assert rep.estimated_per_day == pytest.approx(2 / 3)
    assert [w.alerts for w in rep.busiest] == [1, 1, 0]  # the third: the second row seen again, no alert
    assert (rep.busiest[0].end, rep.busiest[0].rows) == (
        dt("2026-10-31T02:00:00Z"),
        2,
    )  # most alerts, then rows
    text = render(rep)
    assert "one-pass, 1 queries" in text and "alerts per day  2026-10-29 __█_ 2026-11-01" in text
    assert "estimated alerts per day going forward: 0.67" in text and "busiest windows:" in text
    data = rep.to_json()
    assert data["path"] == "one-pass" and data["estimated_alerts_per_day"] == pytest.approx(0.667)
    assert [d["alerts"] for d in data["daily"]] == [0, 0, 2, 0]
    assert data["busiest_windows"][0]["alerts"] == 1 and len(data["alert_list"]) == 2


@pytest.mark.slow
def test_cli_backtest_all_runs_every_rule_and_names_the_broken_ones(
    story: EmulatedArchive, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    shutil.copy(FIXTURES / "sigma" / "file_event_psexesvc_dropped.yml", rules)
    shutil.copy(FIXTURES / "sigma-broken" / "linux_auditd_no_table.yml", rules)
    shutil.copy(FIXTURES / "sigma-broken" / "device_info_missing_column.yml", rules)
    cfg = _config(tmp_path, story.path, rules)
    args = ["--config", str(cfg), "detect", "backtest", "--all", "--from", "2026-10-31", "--to", "2026-10-31"]
    res = CliRunner().invoke(main, [*args, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["rules"] == 9 and data["paths"] == {"one-pass": 9}
    by_rule = {r["rule"]: r for r in data["reports"]}
    assert by_rule["hv-brute-force-public-ip"]["alerts"] == 1
    assert by_rule["3c1a6f02-5b7e-4d0c-9e55-0a1f2b3c4d10"]["alerts"] == 1  # the Sigma PsExec rule
    assert data["alerts"] == sum(r["alerts"] for r in data["reports"]) >= 9
    errors = data["errors"]
    assert (
        "AzureResourceId" in errors["7d2b8e13-6c8f-4e1d-8f66-1b2c3d4e5f03"]
    )  # compiles nowhere: named, not fatal
    assert any(k.endswith("linux_auditd_no_table.yml") for k in errors)  # cannot convert: named, not fatal
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0
    assert "9 rules backtested" in text.stdout and "about" in text.stdout and "alerts per day" in text.stdout
    assert "hv-brute-force-public-ip" in text.stdout and "error:" in text.stdout


def test_cli_backtest_bad_input_is_one_line_exit_2(story: EmulatedArchive, tmp_path: Path) -> None:
    cfg = _config(tmp_path, story.path, RULES_DIR)
    base = ["--config", str(cfg), "detect", "backtest"]
    cases = [
        ([*base, "--from", "2026-10-31", "--to", "2026-10-31"], "give either RULE or --all"),
        ([*base, "hv-antivirus-detection", "--all", "--from", "2026-10-31", "--to", "2026-10-31"], "either"),
        (
            [*base, "hv-antivirus-detection", "--from", "2026-10-31", "--to", "2026-10-30"],
            "--to must be after",
        ),
        ([*base, "hv-antivirus-detection", "--from", "yesterday", "--to", "2026-10-30"], "not a date"),
        ([*base, "no-such-rule", "--from", "2026-10-31", "--to", "2026-10-31"], "no rule 'no-such-rule'"),
        ([*base, "hv-antivirus-detection", "--from", "2026-10-31", "--to", "2026-10-31", "--mode", "x"], "x"),
    ]
    for argv, words in cases:
        res = CliRunner().invoke(main, argv)
        assert res.exit_code == 2, (argv, res.output)
        assert words in res.output and "Traceback" not in res.output


def test_cli_backtest_mode_window_by_window(story: EmulatedArchive, tmp_path: Path) -> None:
    cfg = _config(tmp_path, story.path, RULES_DIR)
    argv = [
        "--config",
        str(cfg),
        "detect",
        "backtest",
        "hv-antivirus-detection",
        "--from",
        "2026-10-31T00:00:00Z",
    ]
    res = CliRunner().invoke(
        main, [*argv, "--to", "2026-10-31T03:00:00Z", "--mode", "window-by-window", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["path"] == "window-by-window" and data["queries"] == 3 and data["alerts"] == 2
