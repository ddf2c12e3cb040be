"""Test helpers for emulated exports: small exports on demand, and walking an export folder's lines."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huntvault.emulator import Manifest, write_export

#: A fixed end so tests never depend on the wall clock.
FIXED_END = "2026-11-22T19:00:00Z"


def small_export(dest: Path, **options: Any) -> Manifest:
    """A small, fast export (5 devices, 1 day, fixed end) into `dest`; options override the defaults."""
    params: dict[str, Any] = {"devices": 5, "days": 1.0, "seed": 7, "end": FIXED_END}
    params.update(options)
    return write_export(dest, **params)


@dataclass(frozen=True)
class ExportLine:
    """One line of an export blob and where it sits."""

    container: str
    blob: str
    offset: int
    raw: bytes


def blob_files(folder: Path) -> Iterator[tuple[str, str, Path]]:
    """(container, blob name, file) for every PT1H.json under an export folder, sorted."""
    for file in sorted(folder.glob("insights-logs-advancedhunting-*/**/PT1H.json")):
        rel = file.relative_to(folder)
        container = rel.parts[0]
        yield container, "/".join(rel.parts[1:]), file


def export_lines(folder: Path) -> Iterator[ExportLine]:
    """Every line (CRLF kept) of every blob of an export folder, with its byte offset."""
    for container, blob, file in blob_files(folder):
        offset = 0
        data = file.read_bytes()
        for raw in data.splitlines(keepends=True):
            yield ExportLine(container, blob, offset, raw)
            offset += len(raw)


def malformed_positions(manifest: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {(m["container"], m["blob"], m["offset"]) for m in manifest["malformed"]}


def tree_digest(folder: Path) -> str:
    """A digest of every file's relative path and bytes (manifest included)."""
    h = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(file.relative_to(folder)).encode())
        h.update(file.read_bytes())
    return h.hexdigest()
