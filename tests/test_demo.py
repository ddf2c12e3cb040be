"""The `make demo` pipeline end to end at a small size: every planted attack is found by its example hunt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from rich.console import Console

from huntvault.demo import STORY_HUNTS, DemoOptions, run
from huntvault.kql import execute


@pytest.mark.slow
def test_demo_pipeline_finds_every_planted_attack(tmp_path: Path) -> None:
    with open(tmp_path / "demo.log", "w") as log:
        state = run(
            DemoOptions(tmp_path / "demo", devices=6, days=1.0, seed=3, serve=False),
            console=Console(file=log, width=120),
        )
    manifest = state.manifest
    assert manifest is not None
    # every story the emulator planted has an example hunt, and the hunt's rows name the story's device
    assert {s["name"] for s in manifest.stories} == set(STORY_HUNTS)
    for story in manifest.stories:
        rows = state.hunt_rows[story["name"]]
        assert rows > 0, f"{story['name']}: its example hunt found nothing"
        from huntvault.demo import sample_query

        result = execute(sample_query(STORY_HUNTS[story["name"]]), state.archive_dir)
        cells = {str(v).lower() for col in result.table.columns for v in col.to_pylist()}
        short = story["device_name"].split(".")[0].lower()
        times = [
            v for col in result.table.columns if pa.types.is_timestamp(col.type) for v in col.to_pylist()
        ]
        start = datetime.fromisoformat(story["start"][:19]).replace(tzinfo=UTC) - timedelta(minutes=5)
        end = datetime.fromisoformat(story["end"][:19]).replace(tzinfo=UTC) + timedelta(minutes=5)
        # a row names the story's device, or (for charts binned by time) falls inside the story's window
        assert any(short in c for c in cells) or any(t and start <= t <= end for t in times), story["name"]
    # the archive holds exactly the export's distinct events, and the forwarder delivered to every sink
    from huntvault.archive import status

    archived = {t.table: t.rows for t in status(state.archive_dir).tables}
    for name, t in manifest.tables.items():
        assert archived.get(name) == t.events, name
    log = (tmp_path / "demo.log").read_text()
    assert "dead-lettered" in log and "0 pending" in log
