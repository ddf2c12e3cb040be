"""manifest.json of an emulated export: exact distinct-event counts per table, injected quirks, stories, params."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from huntvault.durable import write_durably

MANIFEST_NAME = "manifest.json"
FORMAT = "huntvault-emulator-manifest/1"


@dataclass
class TableCount:
    """What the writer put in one table's container."""

    container: str
    known: bool
    events: int = 0  # distinct events
    duplicates: int = 0  # extra copies of already-written lines (at-least-once delivery)
    late: int = 0  # lines appended to their hour's blob after that hour had ended
    blobs: set[str] = field(default_factory=set)

    @property
    def lines(self) -> int:
        return self.events + self.duplicates

    def to_dict(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "known": self.known,
            "events": self.events,
            "duplicates": self.duplicates,
            "lines": self.lines,
            "late_lines": self.late,
            "blobs": len(self.blobs),
        }


@dataclass
class Manifest:
    """The writer's account of what it wrote; `to_dict()` is what manifest.json holds."""

    tenant_id: str
    params: dict[str, Any]
    start: str
    end: str
    tables: dict[str, TableCount] = field(default_factory=dict)
    malformed: list[dict[str, Any]] = field(default_factory=list)
    stories: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    blob_sizes: dict[str, int] = field(default_factory=dict)  # "<container>/<blob>" -> bytes
    drift: dict[str, Any] = field(default_factory=dict)
    follow: dict[str, Any] = field(default_factory=dict)

    @property
    def total_events(self) -> int:
        return sum(t.events for t in self.tables.values())

    @property
    def total_duplicates(self) -> int:
        return sum(t.duplicates for t in self.tables.values())

    def events(self, table: str) -> int:
        t = self.tables.get(table)
        return t.events if t else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tenant_id": self.tenant_id,
            "start": self.start,
            "end": self.end,
            "params": self.params,
            "totals": {
                "events": self.total_events,
                "duplicates": self.total_duplicates,
                "lines": self.total_events + self.total_duplicates,
                "malformed": len(self.malformed),
                "late_lines": sum(t.late for t in self.tables.values()),
                "tables": len(self.tables),
                "blobs": len(self.blob_sizes),
            },
            "tables": {name: self.tables[name].to_dict() for name in sorted(self.tables)},
            "malformed": self.malformed,
            "drift": self.drift,
            "stories": self.stories,
            "alerts": self.alerts,
            "blobs": dict(sorted(self.blob_sizes.items())),
            "follow": self.follow,
        }

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """Write manifest.json into `folder` durably (huntvault.durable: temp name, fsync, rename, fsync folder)."""
        path = Path(folder) / MANIFEST_NAME
        write_durably(path, orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2))
        return path


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest.json of an export folder as plain data."""
    data: dict[str, Any] = orjson.loads((Path(folder) / MANIFEST_NAME).read_bytes())
    return data


__all__ = ["FORMAT", "MANIFEST_NAME", "Manifest", "TableCount", "read_manifest"]
