"""What the indexer reads from the archive: tables, their live Parquet files, quarantined lines."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huntvault.schema import CONTAINER_PREFIX

QUARANTINE_DIR = "_quarantine"


@dataclass(frozen=True)
class ArchiveFile:
    """One live Parquet part of an archived table (path relative to the archive root)."""

    path: str
    rows: int | None = None


def _archive_api() -> Any | None:
    """The archive stage's public API when it is installed (huntvault.archive), else None."""
    try:
        mod = importlib.import_module("huntvault.archive")
    except ImportError:
        return None
    if hasattr(mod, "table_files") and hasattr(mod, "archived_tables"):
        return mod
    return None


def _relative(root: Path, path: Any) -> str:
    p = Path(str(getattr(path, "path", path)))
    if p.is_absolute():
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            return p.as_posix()
    return p.as_posix()


class ArchiveView:
    """The live file set of an archive directory.

    Uses `huntvault.archive.archived_tables/table_files` when that stage is present; otherwise reads the
    documented layout `<archive>/<Table>/date=YYYY-MM-DD/part-*.parquet` directly. The indexer diffs
    this file set against what it indexed, which covers commits, compaction and retention alike.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._seq: int | None = None  # last change-feed entry seen (None: nothing read yet)

    def changed_tables(self) -> set[str] | None:
        """Tables the archive's change feed touched since the last call; None means "check them all".

        The first call, and any archive without a manifest (plain folder layout), answers None.
        """
        api = _archive_api()
        if api is None or not hasattr(api, "changes_since"):
            return None
        first = self._seq is None
        changes = api.changes_since(self.root, self._seq or 0)
        if changes:
            self._seq = max(int(c.seq) for c in changes)
        elif first:
            self._seq = 0
        if first or not api.archived_tables(self.root):
            return None
        return {str(c.table) for c in changes}

    def tables(self) -> list[str]:
        api = _archive_api()
        if api is not None:
            listed = sorted(str(t) for t in api.archived_tables(self.root))
            if listed:
                return listed
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(("_", ".")) and any(p.glob("date=*/part-*.parquet"))
        )

    def files(self, table: str) -> list[ArchiveFile]:
        api = _archive_api()
        if api is not None and api.archived_tables(self.root):  # a managed archive: its manifest is the truth
            out = []
            for item in api.table_files(self.root, table):
                rows = getattr(item, "rows", None)
                out.append(ArchiveFile(_relative(self.root, item), int(rows) if rows is not None else None))
            return sorted(out, key=lambda f: f.path)
        base = self.root / table
        return [
            ArchiveFile(p.relative_to(self.root).as_posix())
            for p in sorted(base.glob("date=*/part-*.parquet"))
        ]

    def absolute(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    def quarantined(self, table: str, limit: int = 50) -> list[dict[str, Any]]:
        """Quarantined lines of `table` as indexer error items (newest files first)."""
        qdir = self.root / QUARANTINE_DIR
        if not qdir.is_dir():
            return []
        items: list[dict[str, Any]] = []
        for path in sorted(
            qdir.rglob("*"), key=lambda p: p.stat().st_mtime if p.is_file() else 0, reverse=True
        ):
            if not path.is_file():
                continue
            for lineno, record in _quarantine_records(path):
                if not _about_table(record, table, path):
                    continue
                items.append(
                    {
                        "key": None,
                        "name": f"{QUARANTINE_DIR}/{path.relative_to(qdir).as_posix()}:{lineno}",
                        "errorMessage": str(
                            record.get("reason") or record.get("error") or "quarantined line"
                        ),
                        "statusCode": 400,
                        "details": json.dumps(
                            {k: record[k] for k in ("source", "stream", "offset", "line") if k in record}
                        ),
                        "documentationLink": None,
                    }
                )
                if len(items) >= limit:
                    return items
        return items

    def quarantined_count(self, table: str) -> int:
        qdir = self.root / QUARANTINE_DIR
        if not qdir.is_dir():
            return 0
        return sum(
            1
            for path in qdir.rglob("*")
            if path.is_file()
            for _, rec in _quarantine_records(path)
            if _about_table(rec, table, path)
        )


def _about_table(record: dict[str, Any], table: str, path: Path) -> bool:
    """Whether a quarantined line belongs to `table`: its table hint, else the stream (blob path) it came from."""
    named = record.get("table_hint") or record.get("table")
    if named:
        return str(named).lower() == table.lower()
    stream = str(record.get("stream") or "")
    return (CONTAINER_PREFIX + table.lower()) in stream.lower() or f"/{table.lower()}/" in stream.lower()


def _quarantine_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    rec = {"reason": "unparsable quarantine record", "line": line[:200]}
                if isinstance(rec, dict):
                    yield lineno, rec
    except OSError:
        return
