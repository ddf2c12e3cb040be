"""What the indexer reads from the archive, only through its public API: tables, parts by stable id, rows."""

from __future__ import annotations

import json
import os
from typing import Any

import pyarrow as pa

from huntvault.archive import (
    ArchiveLocation,
    PartInfo,
    QuarantinedLine,
    archived_tables,
    changes_since,
    feed_position,
    locate,
    quarantined_lines,
    read_part,
    table_files,
)
from huntvault.errors import ArchiveError
from huntvault.schema import CONTAINER_PREFIX

ArchiveRef = str | os.PathLike[str] | ArchiveLocation


class ArchiveView:
    """The live parts of an archive (local folder or object store), known by their stable ids.

    The indexer diffs this part set against what it indexed, which covers commits, compaction and
    retention alike. Nothing here builds a path: a part is read by its id with the archive's `read_part`,
    so a moved archive folder, another spelling of its path or another process see the same ids.
    """

    def __init__(self, archive: ArchiveRef) -> None:
        self.loc = locate(archive)
        self._position: dict[str, int] | None = None  # change-feed position (None: nothing read yet)

    @property
    def url(self) -> str:
        return self.loc.url

    def exists(self) -> bool:
        return self.loc.local is None or self.loc.local.is_dir()

    def changed_tables(self) -> set[str] | None:
        """Tables the archive's change feed touched since the last call; None means "check them all"."""
        if not self.exists():
            return None
        try:
            if self._position is None:
                self._position = feed_position(self.loc)
                return None
            feed = changes_since(self.loc, self._position)
        except ArchiveError:
            return None
        self._position = feed.position
        if feed.resync:
            return None
        return {c.table for c in feed.changes}

    def tables(self) -> list[str]:
        if not self.exists():
            return []
        return sorted(archived_tables(self.loc))

    def parts(self, table: str) -> list[PartInfo]:
        """The committed parts of `table` (stable ids, rows from the Delta log)."""
        if not self.exists():
            return []
        return table_files(self.loc, table)

    def read(self, part: str) -> pa.Table:
        """One part's rows (without the `date` partition column), by its stable id."""
        data = read_part(self.loc, part)
        return data.drop_columns(["date"]) if "date" in data.schema.names else data

    def _quarantined(self, table: str) -> list[QuarantinedLine]:
        if not self.exists():
            return []
        try:
            lines = quarantined_lines(self.loc)
        except ArchiveError:
            return []
        found = [q for q in lines if _about_table(q.as_json(), table)]
        return list(reversed(found))  # newest first

    def quarantined(self, table: str, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        """Quarantined lines of `table` as indexer error items (newest first), and how many there are."""
        lines = self._quarantined(table)
        items: list[dict[str, Any]] = []
        for q in lines[:limit]:
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
        return items, len(lines)


def _about_table(record: dict[str, Any], table: str) -> bool:
    """Whether a quarantined line belongs to `table`: its table hint, else the stream (blob path) it came from."""
    named = record.get("table_hint") or record.get("table")
    if named:
        return str(named).lower() == table.lower()
    stream = str(record.get("stream") or "")
    return (CONTAINER_PREFIX + table.lower()) in stream.lower() or f"/{table.lower()}/" in stream.lower()
