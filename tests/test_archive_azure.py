"""An archive on Azure Blob Storage (Azurite): the CLI ingests, reports status and hunts it like a local one."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from huntvault.archive import archive_location, changes_since, open_catalog, read_part, table_files
from huntvault.cli import main
from huntvault.config import ArchiveConfig
from tests.support.azurite import Azurite
from tests.support.ingest import archive_counts, expected_counts, small_export

HUNT = "DeviceProcessEvents | summarize n = count() by DeviceName | order by DeviceName asc"


@pytest.mark.slow
def test_cli_on_an_azurite_archive_matches_a_local_one(azurite: Azurite, tmp_path: Path) -> None:
    from azure.storage.blob import BlobServiceClient

    container = f"arc-{uuid.uuid4().hex[:8]}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
    url = f"az://{container}/archive"
    src = tmp_path / "export"
    manifest = small_export(src, devices=1, days=0.2, seed=21)
    cfg = tmp_path / "huntvault.toml"
    cfg.write_text(f'[archive]\nstate_dir = "{tmp_path / "state"}"\n')
    env = {"HUNTVAULT_ARCHIVE_CONNECTION_STRING": azurite.connection_string}
    runner = CliRunner(env=env)
    base = ["--config", str(cfg)]
    for archive in (url, str(tmp_path / "local")):
        res = runner.invoke(main, [*base, "ingest", "--from", str(src), "--archive", archive, "--quiet"])
        assert res.exit_code == 0, res.output
    os.environ.update(env)  # the library reads the archive's credentials from the environment too
    try:
        acfg = ArchiveConfig(path=url, state_dir=str(tmp_path / "state"))
        acfg.connection_string = azurite.connection_string
        loc = archive_location(acfg)
        assert archive_counts(loc) == expected_counts(manifest) == archive_counts(tmp_path / "local")
        st = json.loads(runner.invoke(main, [*base, "status", "--archive", url, "--json"]).output)
        local = json.loads(
            runner.invoke(main, [*base, "status", "--archive", str(tmp_path / "local"), "--json"]).output
        )
        assert st["total_rows"] == local["total_rows"] and st["quarantined"] == local["quarantined"] > 0
        assert st["archive"] == url
        remote_hunt = runner.invoke(main, [*base, "hunt", "--archive", url, "--format", "json", HUNT])
        local_hunt = runner.invoke(
            main, [*base, "hunt", "--archive", str(tmp_path / "local"), "--format", "json", HUNT]
        )
        assert remote_hunt.exit_code == 0, remote_hunt.output
        assert json.loads(remote_hunt.output) == json.loads(local_hunt.output) != []
        # detections: the shipped rules backtested over the export's day give the same report on both
        rules = str(Path(__file__).resolve().parents[1] / "rules")
        reports = []
        for archive in (url, str(tmp_path / "local")):
            args = ["detect", "backtest", "--all", "--from", "2026-07-22", "--to", "2026-07-22"]
            res = runner.invoke(main, [*base, *args, "--rules", rules, "--archive", archive, "--json"])
            assert res.exit_code == 0, res.output
            reports.append(json.loads(res.output))
        assert _alerts(reports[0]) == _alerts(reports[1])
        # the change feed and one part's rows, by stable id, without building a path
        feed = changes_since(loc)
        part = table_files(loc, "DeviceProcessEvents")[0]
        assert part.id in {c.part for c in feed.changes} and read_part(loc, part.id).num_rows == part.rows
        assert (
            open_catalog(loc).sql("SELECT count(*) FROM DeviceProcessEvents").fetchall()[0][0]
            == (manifest["tables"]["DeviceProcessEvents"]["events"])
        )
    finally:
        os.environ.pop("HUNTVAULT_ARCHIVE_CONNECTION_STRING", None)


def test_bad_archive_urls_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner(env={"HUNTVAULT_ARCHIVE_CONNECTION_STRING": ""})
    for url, words in [
        ("az://Bad_Container/x", "archive.path"),
        ("abfss://@/x", "archive.path"),
    ]:
        res = runner.invoke(main, ["status", "--archive", url])
        assert res.exit_code == 2 and words in res.output and "Traceback" not in res.output


def _alerts(report: object) -> object:
    """A backtest report without its timings (what must match between two archives)."""
    if isinstance(report, dict):
        return {k: _alerts(v) for k, v in report.items() if not any(t in k for t in ("second", "time", "ms"))}
    if isinstance(report, list):
        return [_alerts(v) for v in report]
    return report
