"""End to end with the real KQL engine over emulated archives: shipped rules vs planted stories, a clean tenant,
a Sentinel-style rule, late data, crash recovery into the archive and a sink, and the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from huntvault.archive import open_catalog
from huntvault.cli import main
from huntvault.config import SinkConfig
from huntvault.detect import (
    ALERTS_TABLE,
    EVIDENCE_TABLE,
    ArchiveAlertStore,
    ArchiveRunner,
    DetectState,
    MemoryAlertStore,
    Rule,
    Scheduler,
    archive_watermark,
    backtest,
    fixed_watermark,
    load_rule,
    load_rules,
)
from tests.support.detect import FIXTURES, RULES_DIR, EmulatedArchive, build_archive, dt, write_rows

#: shipped rule -> the planted story it must find
RULE_STORIES = {
    "hv-encoded-powershell-download": "phish_powershell_cradle",
    "hv-lsass-memory-access": "lsass_credential_dump",
    "hv-psexec-remote-service": "psexec_lateral_movement",
    "hv-ransomware-mass-rename": "ransomware_encryption",
    "5f7b0c7e-2f1d-4c55-9a83-6f0e2d1c9b41": "ransomware_encryption",
    "hv-scheduled-task-logon": "scheduled_task_persistence",
    "hv-brute-force-public-ip": "brute_force_logons",
    "hv-antivirus-detection": "antivirus_detections",
}
BRUTE_FORCE_IP = "192.0.2.200"


class SimulatedCrash(BaseException):
    pass


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> EmulatedArchive:
    return build_archive(tmp_path_factory.mktemp("detect") / "story")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> EmulatedArchive:
    return build_archive(tmp_path_factory.mktemp("detect") / "clean", clean=True)


def rules_by_id() -> dict[str, Rule]:
    rules, errors = load_rules(RULES_DIR)
    assert errors == []
    return {r.id: r for r in rules}


def around(info: dict[str, Any]) -> tuple[datetime, datetime]:
    start = info["start"].replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return start, info["end"].replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)


def test_every_story_has_a_shipped_rule(story: EmulatedArchive) -> None:
    assert set(story.stories) <= set(RULE_STORIES.values())
    assert set(RULE_STORIES) == set(rules_by_id())


@pytest.mark.parametrize("rule_id", sorted(RULE_STORIES))
def test_each_rule_fires_on_its_story(story: EmulatedArchive, rule_id: str) -> None:
    rule = rules_by_id()[rule_id]
    info = story.stories[RULE_STORIES[rule_id]]
    start, end = around(info)
    rep = backtest(rule, ArchiveRunner(story.path), start, end)
    assert rep.alerts >= 1, rep.to_json()
    for alert in rep.alert_list:
        devices = [value for kind, value in alert.entities if kind == "device"]
        assert devices and (info["device"] in devices or RULE_STORIES[rule_id] == "psexec_lateral_movement")
        first = dt(alert.first_event)
        assert info["start"] - timedelta(minutes=1) <= first <= info["end"] + timedelta(minutes=1)
    assert sum(rep.per_day.values()) == rep.alerts


@pytest.mark.slow
def test_rules_stay_quiet_on_a_clean_tenant(clean: EmulatedArchive) -> None:
    rules = list(rules_by_id().values())
    store = MemoryAlertStore()
    sched = Scheduler(
        rules,
        DetectState(None),
        ArchiveRunner(clean.path),
        store,
        watermark=fixed_watermark(clean.end),
        clock=lambda: clean.end,
        start=clean.start,
        max_windows=1000,
    )
    rep = sched.run_once()
    assert rep.errors == {}
    assert store.alerts == {}
    assert sum(1 for w in rep.windows if w.rule_id == "hv-lsass-memory-access") == 24
    assert len(rep.windows) == sum(int((clean.end - clean.start) / r.every) for r in rules)


def test_sentinel_style_rule_loads_and_runs(story: EmulatedArchive, tmp_path: Path) -> None:
    rule = load_rule(FIXTURES / "sentinel-rundll32-minidump.yaml")
    info = story.stories["lsass_credential_dump"]
    start, end = around(info)
    rep = backtest(rule, ArchiveRunner(story.path), start, end)
    assert rep.alerts == 1  # AlertPerResult; the overlapping window finds the same row again, no second alert
    assert rep.entities["device"] == {info["device"].split(".")[0]: 1}
    (user,) = rep.entities["user"]
    assert user.startswith("adm-")  # the story runs rundll32 as the tenant's admin account
    assert rep.rows >= 2


def test_window_is_imposed_on_a_rule_without_time_filter(story: EmulatedArchive) -> None:
    rule = rules_by_id()["hv-antivirus-detection"]  # the query has no time filter of its own
    runner = ArchiveRunner(story.path)
    from huntvault.detect import window_query

    one_hour = (dt("2026-10-31T00:00:00Z"), dt("2026-10-31T01:00:00Z"))
    got = runner(window_query(rule.query, *one_hour), one_hour[1], one_hour)
    assert got.num_rows == 1  # the first detection (00:39); the second is 30 minutes after it, at 01:09
    everything = runner(rule.query, story.end)
    assert everything.num_rows == 2


def test_late_data_inside_the_lookback_is_caught_end_to_end(tmp_path: Path) -> None:
    def on_time(table: str, row: dict[str, Any]) -> bool:
        return not (table == "DeviceLogonEvents" and row.get("RemoteIP") == BRUTE_FORCE_IP)

    late: list[dict[str, Any]] = []

    def keep(table: str, row: dict[str, Any]) -> bool:
        if not on_time(table, row):
            late.append(row)
            return False
        return True

    arc = build_archive(tmp_path / "late", keep=keep)
    info = arc.stories["brute_force_logons"]
    rule = rules_by_id()["hv-brute-force-public-ip"]
    story_hour = info["start"].replace(minute=0, second=0, microsecond=0)
    now = [story_hour + timedelta(hours=1)]  # the window holding the attack has run ...
    store = MemoryAlertStore()
    runner = ArchiveRunner(arc.path)
    sched = Scheduler(
        [rule],
        DetectState(tmp_path / "state"),
        runner,
        store,
        watermark=lambda: now[0],
        clock=lambda: now[0],
        start=story_hour - timedelta(hours=2),
    )
    sched.run_once()
    assert store.alerts == {}
    write_rows(
        arc.path, {"DeviceLogonEvents": late}, source="late-source"
    )  # ... before its rows were archived
    now[0] = story_hour + timedelta(hours=2)
    rep = sched.run_once()
    assert rep.alerts == 1
    (record,) = store.alerts.values()
    assert record["entities"][0] == {"kind": "device", "value": info["device"]}
    assert {"kind": "ip", "value": BRUTE_FORCE_IP} in record["entities"]


@pytest.mark.slow
def test_crash_mid_run_archive_and_sink_get_each_alert_once(story: EmulatedArchive, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(story.path, archive)
    rules = [rules_by_id()[r] for r in ("hv-antivirus-detection", "hv-encoded-powershell-download")]
    sink_file = tmp_path / "alerts.jsonl"
    sinks = [SinkConfig(name="file", kind="jsonl", path=str(sink_file))]
    state_dir = tmp_path / "state"
    start, end = dt("2026-10-31T00:00:00Z"), dt("2026-10-31T12:00:00Z")
    crashes: list[str] = []

    def crash(point: str, rule: Rule, window_end: datetime) -> None:
        key = f"{rule.id}@{point}"
        # die once at each point of the window that raises the antivirus alert, and after the store for another
        if window_end == dt("2026-10-31T01:00:00Z") and key not in crashes:
            crashes.append(key)
            raise SimulatedCrash(key)

    def attempt(crash_at: Any) -> None:
        state = DetectState(state_dir)
        store = ArchiveAlertStore(archive, state_dir, sinks)
        try:
            Scheduler(
                rules,
                state,
                ArchiveRunner(archive),
                store,
                watermark=fixed_watermark(end),
                clock=lambda: end,
                start=start,
                crash_at=crash_at,
                max_windows=100,
            ).run_once()
        finally:
            store.close()
            state.close()

    for _ in range(3):  # after-query, after-record, after-store of the same window
        with pytest.raises(SimulatedCrash):
            attempt(crash)
    attempt(None)
    assert len(crashes) == 3
    con = open_catalog(archive)
    try:
        ids = [r[0] for r in con.execute(f'SELECT AlertId FROM "{ALERTS_TABLE}"').fetchall()]  # typed column
        evidence = con.execute(f'SELECT count(*) FROM "{EVIDENCE_TABLE}"').fetchall()[0][0]
    finally:
        con.close()
    assert len(ids) == len(set(ids)) == 3  # two antivirus detections (per row) + one PowerShell (per entity)
    assert evidence > 0
    lines = [json.loads(x) for x in sink_file.read_text().splitlines()]
    assert sorted(x["id"] for x in lines) == sorted(ids)
    assert {x["ruleId"] for x in lines} == {r.id for r in rules}


def test_watermark_follows_ingestion(tmp_path: Path) -> None:
    arc = build_archive(tmp_path / "a", devices=2, days=0.25)
    # caught up (no unread bytes): the source covers up to its last commit (capped by the clock), minus the delay
    mark = archive_watermark(arc.path, delay=timedelta(minutes=10), now=lambda: arc.end + timedelta(hours=2))
    assert mark == arc.end + timedelta(hours=1, minutes=50)
    # the clock before the newest event: the newest archived event is what counts
    early = archive_watermark(arc.path, delay=timedelta(minutes=10), now=lambda: arc.start)
    assert early is not None and arc.end - timedelta(minutes=20) < early < arc.end - timedelta(minutes=10)
    assert archive_watermark(tmp_path / "nothing-here") is None
    assert archive_watermark(arc.path, sources=["some-other-source"]) is None


# -- CLI --------------------------------------------------------------------------------------------


def _config(tmp_path: Path, archive: Path, rules: Path, **detect: Any) -> Path:
    lines = [
        "[archive]",
        f'path = "{archive}"',
        "",
        "[detect]",
        f'rules_dir = "{rules}"',
        f'state_dir = "{tmp_path / "detect-state"}"',
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in detect.items()]
    path = tmp_path / "huntvault.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_check(tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["detect", "check", str(RULES_DIR)])
    assert ok.exit_code == 0, ok.output
    assert "8 rules ok, 0 errors" in ok.output
    (tmp_path / "bad.yaml").write_text(
        "id: bad\nname: b\nseverity: Low\nschedule: {every: 1h}\n"
        "query: |\n  DeviceEvents\n  | where Foo == 1\n"
    )
    bad = CliRunner().invoke(main, ["detect", "check", str(tmp_path), "--json"])
    assert bad.exit_code == 1
    (problem,) = json.loads(bad.output)["problems"]
    assert (problem["line"], problem["column"]) == (7, 11) and "Foo" in problem["message"]


def test_cli_backtest_json(story: EmulatedArchive, tmp_path: Path) -> None:
    cfg = _config(tmp_path, story.path, RULES_DIR)
    res = CliRunner().invoke(
        main,
        [
            "--config",
            str(cfg),
            "detect",
            "backtest",
            "hv-brute-force-public-ip",
            "--from",
            "2026-10-31",
            "--to",
            "2026-10-31",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["windows"] == 24 and data["alerts"] == 1
    assert data["alerts_per_day"] == {"2026-10-31": 1}
    assert data["entities"]["ip"] == {BRUTE_FORCE_IP: 1}
    text = CliRunner().invoke(
        main,
        [
            "--config",
            str(cfg),
            "detect",
            "backtest",
            str(RULES_DIR / "brute-force-public-ip.yaml"),
            "--from",
            "2026-10-31T00:00:00Z",
            "--to",
            "2026-10-31T12:00:00Z",
        ],
    )
    assert text.exit_code == 0 and "12 windows" in text.output and "192.0.2.200 (1)" in text.output


@pytest.mark.slow
def test_cli_run_once_then_status(story: EmulatedArchive, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(story.path, archive)
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(RULES_DIR / "antivirus-detection.yaml", rules)
    cfg = _config(
        tmp_path,
        archive,
        rules,
        start_from="2026-10-31T00:00:00Z",
        max_windows_per_cycle=6,
        ingest_delay="0s",
    )
    res = CliRunner().invoke(main, ["--config", str(cfg), "detect", "run", "--once"])
    assert res.exit_code == 0, res.output
    assert res.output.count("hv-antivirus-detection: [") == 6 and "alerts 1" in res.output
    status = CliRunner().invoke(main, ["--config", str(cfg), "detect", "status", "--json"])
    data = json.loads(status.output)["rules"]["hv-antivirus-detection"]
    assert data["last_window_end"] == "2026-10-31T06:00:00+00:00" and data["alerts"] == 2
    assert data["undelivered_windows"] == 0
    again = CliRunner().invoke(main, ["--config", str(cfg), "detect", "--once"])
    assert again.exit_code == 0 and "[2026-10-31T05:00:00+00:00, 2026-10-31T07:00:00+00:00)" in again.output


@pytest.mark.slow
def test_cli_follow_runs_until_sigterm(story: EmulatedArchive, tmp_path: Path) -> None:
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(RULES_DIR / "brute-force-public-ip.yaml", rules)
    archive = tmp_path / "archive"
    shutil.copytree(story.path, archive)
    cfg = _config(
        tmp_path, archive, rules, start_from="2026-10-31T00:00:00Z", max_windows_per_cycle=2, poll_seconds=0.2
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "huntvault.cli", "--config", str(cfg), "detect", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = tmp_path / "detect-state" / "detect.sqlite"
    try:
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and done < 6:
            time.sleep(0.5)
            if db.exists():
                con = sqlite3.connect(db)
                try:
                    done = con.execute("SELECT count(*) FROM windows WHERE status = 'done'").fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0
                finally:
                    con.close()
        assert done >= 6, "the scheduler did not keep cycling"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "hv-brute-force-public-ip: [2026-10-30T23:00:00+00:00, 2026-10-31T01:00:00+00:00)" in out
