"""What the indexer reads from the archive: tables, their live Parquet files, quarantined lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huntvault.archive import (
    QuarantinedLine,
    archived_tables,
    changes_since,
    feed_position,
    quarantined_lines,
    table_files,
)
from huntvault.schema import CONTAINER_PREFIX

QUARANTINE_DIR = "_quarantine"


@dataclass(frozen=True)
class ArchiveFile:
    """One live Parquet part of an archived table: its stable id (path relative to the archive root)."""

    path: str
    rows: int | None = None


class ArchiveView:
    """The live file set of an archive, through the archive's public API (snapshots and change feed).

    The indexer diffs this file set against what it indexed, which covers commits, compaction and
    retention alike.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._position: dict[str, int] | None = None  # change-feed position (None: nothing read yet)

    def changed_tables(self) -> set[str] | None:
        """Tables the archive's change feed touched since the last call; None means "check them all"."""
        if not self._delta():  # a plain folder has no change feed
            return None
        if self._position is None:
            self._position = feed_position(self.root)
            return None
        feed = changes_since(self.root, self._position)
        self._position = feed.position
        if feed.resync:
            return None
        return {c.table for c in feed.changes}

    def _delta(self) -> bool:
        """A Delta archive (its snapshots are the truth); else a plain folder of hand-made Parquet parts."""
        return any((p / "_delta_log").is_dir() for p in self.root.iterdir()) if self.root.is_dir() else False

    def tables(self) -> list[str]:
        if not self.root.is_dir():
            return []
        if self._delta():
            return sorted(archived_tables(self.root))
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(("_", ".")) and any(p.glob("date=*/part-*.parquet"))
        )

    def files(self, table: str) -> list[ArchiveFile]:
        if not self.root.is_dir():
            return []
        if self._delta():
            return [ArchiveFile(p.path, p.rows) for p in table_files(self.root, table)]
        return [
            ArchiveFile(p.relative_to(self.root).as_posix())
            for p in sorted((self.root / table).glob("date=*/part-*.parquet"))
        ]

    def absolute(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    def _quarantined(self, table: str) -> list[QuarantinedLine]:
        if not self.root.is_dir():
            return []
        found = [q for q in quarantined_lines(self.root) if _about_table(q.as_json(), table)]
        return list(reversed(found))  # newest first

    def quarantined(self, table: str, limit: int = 50) -> list[dict[str, Any]]:
        """Quarantined lines of `table` as indexer error items (newest first)."""
        items: list[dict[str, Any]] = []
        for q in self._quarantined(table)[:limit]:
            record = q.as_json()
            items.append(
                {
                    "key": None,
                    "name": f"{q.part}:{q.row}",
                    "errorMessage": str(record.get("reason") or "quarantined line"),
                    "statusCode": 400,
                    "details": json.dumps(
                        {k: record[k] for k in ("source", "stream", "offset", "line") if k in record}
                    ),
                    "documentationLink": None,
                }
            )
        return items

    def quarantined_count(self, table: str) -> int:
        return len(self._quarantined(table))


def _about_table(record: dict[str, Any], table: str) -> bool:
    """Whether a quarantined line belongs to `table`: its table hint, else the stream (blob path) it came from."""
    named = record.get("table_hint") or record.get("table")
    if named:
        return str(named).lower() == table.lower()
    stream = str(record.get("stream") or "")
    return (CONTAINER_PREFIX + table.lower()) in stream.lower() or f"/{table.lower()}/" in stream.lower()
