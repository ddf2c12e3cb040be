"""`huntvault index` and `huntvault search QUERYSTRING` (the portal's query-string form)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from huntvault.cli import main
from tests.support.search import crafted_table, write_archive


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("search-cli")
    write_archive(root / "archive", "DeviceProcessEvents", crafted_table(60))
    cfg = root / "huntvault.toml"
    cfg.write_text(
        f'[archive]\npath = "{(root / "archive").as_posix()}"\n[index]\npath = "{(root / "index").as_posix()}"\n'
    )
    return cfg, root


def test_index_command_reports_each_index(setup: tuple[Path, Path]) -> None:
    cfg, _ = setup
    out = CliRunner().invoke(main, ["--config", str(cfg), "index", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["insights-logs-advancedhunting-deviceprocessevents"]["status"] == "success"


def test_search_portal_query_string_json(setup: tuple[Path, Path]) -> None:
    cfg, _ = setup
    qs = "search=mimikatz&$select=properties/DeviceName,properties/FileName&$count=true"
    out = CliRunner().invoke(
        main, ["--config", str(cfg), "search", qs, "--index", "DeviceProcessEvents", "--json"]
    )
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert res["@odata.count"] == 1
    assert res["value"][0]["properties"] == {"DeviceName": "alpha-host", "FileName": "mimikatz.exe"}


def test_search_text_output_over_every_index(setup: tuple[Path, Path]) -> None:
    cfg, _ = setup
    out = CliRunner().invoke(
        main, ["--config", str(cfg), "search", "search=airport&$select=properties/ReportId&$count=true"]
    )
    assert out.exit_code == 0, out.output
    assert "insights-logs-advancedhunting-deviceprocessevents: 2 hit(s) of 2" in out.output
    assert "properties/ReportId=1001" in out.output


def test_search_bad_query_is_a_clear_cli_error(setup: tuple[Path, Path]) -> None:
    cfg, _ = setup
    out = CliRunner().invoke(
        main,
        ["--config", str(cfg), "search", "$filter=properties/FileSize gt", "--index", "DeviceProcessEvents"],
    )
    assert out.exit_code == 2
    assert "at position 22" in out.output and "$filter" in out.output


def test_search_without_index_skips_indexes_lacking_the_fields(tmp_path: Path) -> None:
    from tests.support.search import generate_table

    write_archive(tmp_path / "archive", "DeviceProcessEvents", crafted_table(20))
    write_archive(tmp_path / "archive", "AlertEvents", generate_table("AlertEvents", 7, seed=2))
    cfg = tmp_path / "huntvault.toml"
    cfg.write_text(
        f'[archive]\npath = "{(tmp_path / "archive").as_posix()}"\n'
        f'[index]\npath = "{(tmp_path / "index").as_posix()}"\n'
    )
    qs = "search=*&$select=properties/EventTime,properties/ComputerName&$count=true"
    out = CliRunner().invoke(main, ["--config", str(cfg), "search", qs])
    assert out.exit_code == 0, out.output
    assert "insights-logs-advancedhunting-alertevents: 7 hit(s) of 7" in out.output
    assert "skipped insights-logs-advancedhunting-deviceprocessevents: no field 'properties/EventTime'" in (
        out.output + (out.stderr or "")
    )
    assert "indexed insights-logs-advancedhunting-alertevents" in out.output + (out.stderr or "")
    none = CliRunner().invoke(main, ["--config", str(cfg), "search", "$select=properties/Nope", "--no-sync"])
    assert none.exit_code == 2 and "properties/Nope" in none.output
