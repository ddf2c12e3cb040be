"""The Delta transaction log read as data: versions of a table and the add/remove actions of each commit."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow.fs as pafs

LOG_DIR = "_delta_log"
_COMMIT = re.compile(r"^(\d{20})\.json$")


@dataclass(frozen=True)
class FileAction:
    """One add or remove action: the file (relative to the table folder), its day and row count."""

    action: str  # 'add' | 'remove'
    path: str
    date: str
    rows: int | None
    data_change: bool
    size: int | None = None


@dataclass(frozen=True)
class Commit:
    """One version of a Delta table: what it did, its custom metadata, and its file actions."""

    version: int
    operation: str
    info: dict[str, Any] = field(default_factory=dict)
    files: tuple[FileAction, ...] = ()


def log_versions(fs: pafs.FileSystem, table: str) -> list[int]:
    """The commit versions whose JSON is still in `<table>/_delta_log` (sorted); [] for no table."""
    try:
        infos = fs.get_file_info(pafs.FileSelector(f"{table}/{LOG_DIR}", allow_not_found=True))
    except (FileNotFoundError, OSError):
        return []
    out = []
    for info in infos:
        m = _COMMIT.match(info.base_name)
        if m and info.type == pafs.FileType.File:
            out.append(int(m.group(1)))
    return sorted(out)


def _rows(stats: Any) -> int | None:
    if not stats:
        return None
    try:
        n = orjson.loads(stats).get("numRecords")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return int(n) if n is not None else None


def read_commit(fs: pafs.FileSystem, table: str, version: int) -> Commit:
    """The actions of one commit of `table` (the JSON commit file of the Delta protocol)."""
    with fs.open_input_stream(f"{table}/{LOG_DIR}/{version:020d}.json") as fh:
        body = fh.read()
    operation = ""
    info: dict[str, Any] = {}
    files: list[FileAction] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        action = orjson.loads(line)
        if "commitInfo" in action:
            info = action["commitInfo"] or {}
            operation = str(info.get("operation", ""))
        for kind in ("add", "remove"):
            item = action.get(kind)
            if item:
                parts = item.get("partitionValues") or {}
                files.append(
                    FileAction(
                        kind,
                        str(item["path"]),
                        str(parts.get("date") or ""),
                        _rows(item.get("stats")),
                        bool(item.get("dataChange", True)),
                        int(item["size"]) if item.get("size") is not None else None,
                    )
                )
    return Commit(version, operation, info, tuple(files))


__all__ = ["LOG_DIR", "Commit", "FileAction", "log_versions", "read_commit"]
