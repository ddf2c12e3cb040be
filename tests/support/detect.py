"""Helpers for the detection tests and bench: emulated archives (with or without planted stories), rule text."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from huntvault.archive import Archive, Batch, archive_schema, conform, rows_to_arrow

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "rules"
FIXTURES = ROOT / "tests" / "fixtures" / "detect"
END = "2026-11-01T00:00:00Z"
TICKS_PER_HOUR = 36_000_000_000  # 100 ns ticks


@dataclass
class EmulatedArchive:
    """An archive folder filled from the emulator, and what was planted in it."""

    path: Path
    start: datetime
    end: datetime
    rows: int
    devices: int
    stories: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> device, start, end


def build_archive(
    path: Path,
    *,
    devices: int = 6,
    days: float = 1.0,
    seed: int = 1,
    end: str = END,
    events_per_device_day: int = 300,
    clean: bool = False,
    keep: Callable[[str, dict[str, Any]], bool] | None = None,
) -> EmulatedArchive:
    """Write the emulator's rows for the window straight into an archive at `path` (one commit per table).

    `clean=True` leaves out every planted row (stories and their alerts): the same tenant and noise,
    no attack. `keep(table, row)` can hold back rows (to add them later as late data).
    """
    from huntvault.emulator import Exporter, ExportOptions

    opt = ExportOptions(
        days=days,
        devices=devices,
        seed=seed,
        end=end,
        events_per_device_day=events_per_device_day,
        unknown_table="",
        unknown_column="",
        dup_rate=0.0,
        late_rate=0.0,
    )
    ex = Exporter(opt, [], None)
    if clean:
        ex.planted = defaultdict(list)  # the exporter's planted rows (stories + alert tables), by hour
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for hour in range(ex.start_ticks // TICKS_PER_HOUR, -(-ex.end_ticks // TICKS_PER_HOUR)):
        for table, _ticks, row in ex.hour_rows(hour):
            if keep is None or keep(table, row):
                by_table[table].append(row)
    write_rows(path, by_table)
    stories = (
        {}
        if clean
        else {
            s.name: {"device": s.device_name, "start": s.start, "end": s.end, "user": s.user.name}
            for s in ex.tenant.stories
        }
    )
    return EmulatedArchive(
        path, ex.tenant.start, ex.tenant.end, sum(map(len, by_table.values())), devices, stories
    )


def write_rows(path: Path, by_table: dict[str, list[dict[str, Any]]], source: str = "emulator") -> None:
    """Commit rows (wire values) of several tables in one archive commit, as an ingestion source would."""
    batch = Batch()
    for table, rows in sorted(by_table.items()):
        if rows:
            batch.add(table, conform(rows_to_arrow(table, rows), archive_schema(table)))
    batch.checkpoint(source, "test", {"rows": sum(map(len, by_table.values()))})
    with Archive(path) as arc:
        arc.commit(batch)


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def native_rule(
    rule_id: str,
    query: str,
    *,
    every: str = "1h",
    lookback: str = "2h",
    entities: str = "",
    grouping: str = "",
    suppression: str = "",
    extra: str = "",
) -> str:
    """A native rule file's text with `query` as a block scalar."""
    body = "\n".join("  " + line for line in query.strip().splitlines())
    parts = [
        f"id: {rule_id}",
        f"name: Test rule {rule_id}",
        "severity: Medium",
        "tactics: [Execution]",
        "techniques: [T1059.001]",
        "schedule:",
        f"  every: {every}",
        f"  lookback: {lookback}",
        "query: |",
        body,
    ]
    for chunk in (entities, grouping, suppression, extra):
        if chunk:
            parts.append(chunk.strip("\n"))
    return "\n".join(parts) + "\n"


__all__ = [
    "END",
    "FIXTURES",
    "RULES_DIR",
    "EmulatedArchive",
    "build_archive",
    "dt",
    "native_rule",
    "write_rows",
]
