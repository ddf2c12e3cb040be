"""Event Hub replay, jsonl (file and stdin) and the `huntvault ingest` command."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from huntvault.archive import quarantined_lines
from huntvault.cli import main
from huntvault.config import SourceConfig
from huntvault.errors import ConfigError
from huntvault.sources import SOURCE_KINDS, build_source
from huntvault.sources.ingest import source_from_options
from tests.support.ingest import archive_counts, expected_counts


def test_eventhub_replay_counts_and_resume(tmp_path: Path) -> None:
    from huntvault.emulator.export import write_export

    hub = tmp_path / "hub"
    write_export(
        None,
        eventhub_dir=hub,
        manifest_dir=tmp_path / "m",
        devices=1,
        days=0.25,
        seed=2,
        end="2026-07-22T12:00:00Z",
    )
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    bad = hub / "insights-logs-advancedhunting-deviceinfo" / "99999999.json"
    bad.write_bytes(b'{"records":[{"category":"AdvancedHunting-DeviceInfo","properties":{}}, 5]}')
    arc = tmp_path / "a"
    runner = CliRunner()
    res = runner.invoke(main, ["ingest", "--from-replay", str(hub), "--archive", str(arc), "--quiet"])
    assert res.exit_code == 0, res.output
    assert archive_counts(arc) == expected_counts(manifest)
    q = [line.as_json() for line in quarantined_lines(arc)]
    assert sorted((r["offset"], r["reason"]) for r in q) == [
        (0, "Timestamp: missing"),
        (1, "record is a JSON int, not an object"),
    ]
    res = runner.invoke(main, ["ingest", "--from-replay", str(hub), "--archive", str(arc), "--quiet"])
    assert "ingested 0 rows (0 bytes read)" in res.output


def test_jsonl_bare_rows_file_and_stdin(tmp_path: Path) -> None:
    rows = [
        {"Timestamp": f"2026-07-22T10:00:0{i}Z", "DeviceId": "d", "ReportId": i, "RemoteIP": "10.0.0.1"}
        for i in range(5)
    ]
    f = tmp_path / "rows.jsonl"
    f.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\nnot json\n")
    arc = tmp_path / "a"
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "ingest",
            "--from-jsonl",
            str(f),
            "--table",
            "DeviceNetworkEvents",
            "--archive",
            str(arc),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "ingested 5 rows" in res.output and "1 lines quarantined" in res.output
    # appended rows are read from the stored offset; the same rows again from stdin are duplicates
    with f.open("ab") as fh:
        fh.write(orjson.dumps({**rows[0], "ReportId": 99}) + b"\n")
    res = runner.invoke(
        main,
        [
            "ingest",
            "--from-jsonl",
            str(f),
            "--table",
            "DeviceNetworkEvents",
            "--archive",
            str(arc),
            "--quiet",
        ],
    )
    assert "ingested 1 rows" in res.output
    env = {"category": "AdvancedHunting-DeviceNetworkEvents", "tenantId": "t", "properties": rows[1]}
    stdin = b"\n".join(orjson.dumps(r) for r in rows[:3]) + b"\n" + orjson.dumps(env)
    res = runner.invoke(
        main,
        ["ingest", "--from-jsonl", "-", "--table", "DeviceNetworkEvents", "--archive", str(arc), "--quiet"],
        input=stdin,
    )
    assert res.exit_code == 0 and "ingested 0 rows" in res.output and "4 duplicates" in res.output
    assert archive_counts(arc) == {"DeviceNetworkEvents": 6}


def test_source_options_and_registry(tmp_path: Path) -> None:
    assert set(SOURCE_KINDS) == {"local", "azure-blob", "eventhub", "eventhub-replay", "jsonl"}
    cfg = source_from_options([], from_azure="https://acct.blob.core.windows.net/?sv=1&sig=x")
    assert (cfg.kind, cfg.account_url, cfg.sas_token) == (
        "azure-blob",
        "https://acct.blob.core.windows.net/",
        "sv=1&sig=x",
    )
    with pytest.raises(ConfigError):
        source_from_options([], from_dir=str(tmp_path), name="x")
    with pytest.raises(ConfigError):
        source_from_options([SourceConfig(name="a")], name="b")
    with pytest.raises(ConfigError):
        build_source(SourceConfig(name="x", kind="local"))
    src = build_source(SourceConfig(name="x", kind="local", path=str(tmp_path)))
    assert list(src.poll({})) == []


class _Ctx:
    def __init__(self, hub: str, acks: list[int]) -> None:
        self.eventhub_name, self.partition_id, self.acks = hub, "0", acks

    def update_checkpoint(self, event: _Event) -> None:
        self.acks.append(event.sequence_number)


class _Event:
    def __init__(self, seq: int, body: bytes) -> None:
        self.sequence_number, self.offset, self.body = seq, str(seq * 100), [body]


def test_eventhub_source_acks_only_after_commit(tmp_path: Path) -> None:
    import threading

    from huntvault.archive import Archive
    from huntvault.sources import EventHubSource, Ingestor

    src = object.__new__(EventHubSource)  # the consumer client needs a live namespace: feed events directly
    src.name, src.clients, src._pending, src._lock = "eh", [], [], threading.Lock()
    acks: list[int] = []
    ctx = _Ctx("insights-logs-advancedhunting-devicenetworkevents", acks)
    recs = [
        {
            "category": "AdvancedHunting-DeviceNetworkEvents",
            "tenantId": "t",
            "properties": {"Timestamp": f"2026-07-22T10:00:0{i}Z", "DeviceId": "d", "ReportId": i},
        }
        for i in range(3)
    ]
    src._buffer = [(ctx, _Event(1, orjson.dumps({"records": recs}))), (ctx, _Event(2, b"not json"))]
    with Archive(tmp_path / "a") as arc:
        ing = Ingestor(src, arc)
        ing.poll_once()
        assert acks == [] and ing.stats.rows_written == 3 and ing.stats.quarantined == 1
        assert (
            arc.checkpoints("eh")["insights-logs-advancedhunting-devicenetworkevents/0"]["sequence_number"]
            == 2
        )
        ing.poll_once()
        assert acks == [1, 2]


def test_ingest_named_source_from_config(tmp_path: Path) -> None:
    rows = [{"Timestamp": f"2026-07-22T11:00:0{i}Z", "DeviceId": "d", "ReportId": i} for i in range(4)]
    data = tmp_path / "rows.jsonl"
    data.write_bytes(b"\r\n".join(orjson.dumps(r) for r in rows) + b"\r\n")
    cfg = tmp_path / "huntvault.toml"
    cfg.write_text(
        f'[archive]\npath = "{tmp_path / "arc"}"\n\n[[sources]]\nname = "adhoc"\nkind = "jsonl"\n'
        f'path = "{data}"\ntable = "DeviceLogonEvents"\n'
    )
    runner = CliRunner()
    res = runner.invoke(main, ["--config", str(cfg), "ingest", "--source", "adhoc", "--quiet"])
    assert res.exit_code == 0, res.output
    assert archive_counts(tmp_path / "arc") == {"DeviceLogonEvents": 4}
    res = runner.invoke(main, ["--config", str(cfg), "status", "--json"])
    st = json.loads(res.output)
    assert st["sources"][0]["source"] == "adhoc" and st["sources"][0]["rows"] == 4
    res = runner.invoke(main, ["--config", str(cfg), "ingest", "--source", "nope"])
    assert res.exit_code == 2 and "no [[sources]] entry named 'nope'" in res.output
