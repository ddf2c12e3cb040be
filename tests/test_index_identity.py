"""The index follows the archive by part identity: one archive indexed through the server, through the CLI
with another spelling of its path, after the folder moved, and by two processes at once, never duplicates
or loses a document; `huntvault index --verify` finds and repairs what differs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner
from fastapi.testclient import TestClient

from huntvault.archive import table_files
from huntvault.cli import main
from huntvault.config import Config
from huntvault.index import IndexStore
from huntvault.web import create_app
from tests.support.search import ADMIN_KEY, INDEX, generate_table, write_archive

TABLE = "DeviceProcessEvents"
ALERTS = "insights-logs-advancedhunting-alertinfo"


def archive_rows(archive: Path | str, table: str) -> int:
    return sum(p.rows for p in table_files(archive, table))


def cli(config: Path, *args: str) -> Any:
    out = CliRunner().invoke(main, ["--config", str(config), *args])
    assert out.exit_code in (0, 1), out.output
    return out


def verify(config: Path, archive: str) -> dict[str, Any]:
    out = cli(config, "index", "--archive", archive, "--verify", "--no-repair", "--json")
    return dict(json.loads(out.output))


def test_server_then_cli_with_another_spelling_then_a_moved_folder(tmp_path: Path) -> None:
    archive = tmp_path / "data" / "archive"
    write_archive(archive, TABLE, generate_table(TABLE, 150, seed=1, spacing_s=3000))
    write_archive(archive, "AlertInfo", generate_table("AlertInfo", 20, seed=2))
    index = tmp_path / "index"
    config = tmp_path / "huntvault.toml"
    config.write_text(f'[index]\npath = "{index.as_posix()}"\n', encoding="utf-8")

    cfg = Config()
    cfg.index.path = str(index)
    cfg.server.admin_key = ADMIN_KEY
    with TestClient(create_app(cfg, archive_dir=archive)) as client:  # 1. the server
        for name, table in ((INDEX, TABLE), (ALERTS, "AlertInfo")):
            count = client.get(f"/indexes/{name}/docs/$count", headers={"api-key": ADMIN_KEY}).text
            assert int(count) == archive_rows(archive, table)

    # 2. the CLI, the archive spelled differently (relative, through '..', trailing slash), after a commit
    write_archive(archive, TABLE, generate_table(TABLE, 40, seed=3, spacing_s=3000))
    spelled = os.path.relpath(tmp_path / "data" / "x" / ".." / "archive", Path.cwd()) + "/"
    out = cli(config, "index", "--archive", spelled, "--json")
    assert json.loads(out.output)[INDEX]["filesAdded"] >= 1  # only the new commit's parts
    report = verify(config, spelled)
    assert report[INDEX]["ok"] and report[INDEX]["documents"] == archive_rows(archive, TABLE) == 190
    assert report[ALERTS]["ok"] and report[ALERTS]["documents"] == 20

    # 3. the folder moved (another parent, another name), and one more commit
    moved = tmp_path / "elsewhere" / "archive-moved"
    moved.parent.mkdir()
    shutil.move(archive, moved)
    write_archive(moved, TABLE, generate_table(TABLE, 25, seed=4, spacing_s=3000))
    out = cli(config, "index", "--archive", str(moved), "--json")
    synced = json.loads(out.output)
    assert synced[INDEX]["itemsProcessed"] == 25 and synced[INDEX]["filesRemoved"] == 0
    report = verify(config, str(moved))
    assert report[INDEX]["ok"] and report[INDEX]["documents"] == archive_rows(moved, TABLE) == 215
    assert report[INDEX]["indexBytesPerDocument"] > 0 and report[INDEX]["archiveBytesPerRow"] > 0


def test_two_processes_indexing_the_same_commits_never_duplicate(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    index = tmp_path / "index"
    write_archive(archive, TABLE, generate_table(TABLE, 60, seed=5, spacing_s=3000))
    store = IndexStore(index, archive)
    store.sync()
    for seed in (6, 7):
        write_archive(archive, TABLE, generate_table(TABLE, 400, seed=seed, spacing_s=600))
        config = tmp_path / "huntvault.toml"
        config.write_text(f'[index]\npath = "{index.as_posix()}"\n', encoding="utf-8")
        other = subprocess.Popen(  # a second process: `huntvault index` on the same folder, same moment
            [
                sys.executable,
                "-m",
                "huntvault.cli",
                "--config",
                str(config),
                "index",
                "--archive",
                str(archive),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        store.sync()
        out, _ = other.communicate(timeout=120)  # reaps it and closes its pipe
        assert other.returncode == 0, out
        store.sync()
    reports = store.verify(repair=False)
    assert reports[INDEX].ok and reports[INDEX].documents == archive_rows(archive, TABLE) == 860


def test_verify_finds_lost_doubled_and_orphaned_documents_and_repairs_them(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    write_archive(archive, TABLE, generate_table(TABLE, 120, seed=8, spacing_s=3600))
    config = tmp_path / "huntvault.toml"
    config.write_text(f'[index]\npath = "{(tmp_path / "index").as_posix()}"\n', encoding="utf-8")
    store = IndexStore(tmp_path / "index", archive)
    store.sync()
    gen = store.get(INDEX).active
    parts = sorted(gen.parts)
    lost, doubled = parts[0], parts[1]
    # damage the index behind the indexer's back: one part's documents lost, another's added twice,
    # and a document from a part the archive never had
    writer = gen._writer_index().writer(heap_size=50_000_000, num_threads=1)
    writer.delete_documents_by_term("_file", lost)
    from huntvault.index.builder import DocumentBuilder, with_part

    builder = DocumentBuilder(gen.layout)
    for batch in builder.documents(with_part(store.view.read(doubled), doubled)):
        for doc in batch:
            writer.add_json(doc)
    builder.close()
    writer.add_json(
        orjson.dumps({"id": "b3JwaGFu0", "_file": f"{TABLE}/date=2000-01-01/part-gone.parquet"}).decode()
    )
    writer.commit()
    writer.wait_merging_threads()

    report = verify(config, str(archive))[INDEX]
    assert not report["ok"] and report["orphans"] == [f"{TABLE}/date=2000-01-01/part-gone.parquet"]
    mismatched = {m["part"]: (m["documents"], m["rows"]) for m in report["mismatched"]}
    assert mismatched[lost][0] == 0 and mismatched[doubled][0] == 2 * mismatched[doubled][1]
    failing = cli(config, "index", "--archive", str(archive), "--verify", "--no-repair")
    assert failing.exit_code == 1 and "DIFFERS" in failing.output

    repaired = cli(config, "index", "--archive", str(archive), "--verify")
    assert repaired.exit_code == 0 and "repaired" in repaired.output
    again = verify(config, str(archive))[INDEX]
    assert again["ok"] and again["documents"] == 120
