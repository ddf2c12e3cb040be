"""Source progress: each source's stream checkpoints and counters, a small Delta table per source.

A batch's data is committed table by table first; the source's progress commit comes last and carries the
Delta application transaction (`txn`: app id = source, version = batch number). A kill before it leaves
the checkpoint where it was: the source re-reads those lines and the dedupe keys drop what had landed.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from huntvault.archive.location import PROGRESS_DIR, ArchiveLocation
from huntvault.archive.tables import post_commit
from huntvault.errors import ArchiveError

if TYPE_CHECKING:
    from deltalake import DeltaTable

PROGRESS_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("stream", pa.string()),  # "" = the source's counters
        pa.field("value", pa.string()),  # JSON
        pa.field("batch", pa.int64()),
        pa.field("committed", pa.timestamp("us", tz="UTC")),
    ]
)
COMPACT_FILES = 64  # the progress table is rewritten as one file past this many files
_STATS = ""


@dataclass
class SourceStats:
    """A source's running counters (moved forward with its checkpoints)."""

    rows: int = 0
    duplicates: int = 0
    quarantined: int = 0
    last_commit: float | None = None  # epoch seconds
    last_event_ts: int | None = None  # newest event time committed (us)
    lag_bytes: int | None = None  # bytes known but not read at the last commit

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "last_commit": self.last_commit,
            "last_event_ts": self.last_event_ts,
            "lag_bytes": self.lag_bytes,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SourceStats:
        return cls(
            int(obj.get("rows") or 0),
            int(obj.get("duplicates") or 0),
            int(obj.get("quarantined") or 0),
            obj.get("last_commit"),
            obj.get("last_event_ts"),
            obj.get("lag_bytes"),
        )


@dataclass
class SourceProgress:
    """Everything committed for one source: its last batch number, stream checkpoints and counters."""

    source: str
    batch: int = 0
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: SourceStats = field(default_factory=SourceStats)
    files: int = 0


def progress_table(source: str) -> str:
    """The folder (relative to the archive root) of `source`'s progress table."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", source).strip("-")[:40] or "source"
    return f"{PROGRESS_DIR}/{slug}-{hashlib.sha256(source.encode()).hexdigest()[:12]}"


def _open(loc: ArchiveLocation, rel: str) -> DeltaTable | None:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(loc.uri(rel), storage_options=dict(loc.options) or None)
    except TableNotFoundError:
        return None


def _load(dt: DeltaTable, source: str) -> SourceProgress:
    data = pa.table(dt.to_pyarrow_table())
    prog = SourceProgress(source, files=len(dt.file_uris()))
    best: dict[str, tuple[int, str]] = {}
    for stream, value, batch, src in zip(
        data.column("stream").to_pylist(),
        data.column("value").to_pylist(),
        data.column("batch").to_pylist(),
        data.column("source").to_pylist(),
        strict=True,
    ):
        if src != source:
            continue
        prev = best.get(stream)
        if prev is None or batch >= prev[0]:
            best[stream] = (int(batch), value)
        prog.batch = max(prog.batch, int(batch))
    for stream, (_, value) in best.items():
        obj = orjson.loads(value)
        if stream == _STATS:
            prog.stats = SourceStats.from_json(obj)
        else:
            prog.streams[stream] = obj
    return prog


def read_progress(loc: ArchiveLocation, source: str) -> SourceProgress:
    """What `source` has committed (empty progress for a new source)."""
    dt = _open(loc, progress_table(source))
    return SourceProgress(source) if dt is None else _load(dt, source)


def all_progress(loc: ArchiveLocation) -> list[SourceProgress]:
    """The progress of every source that committed to the archive."""
    out: list[SourceProgress] = []
    for name in _progress_tables(loc):
        dt = _open(loc, f"{PROGRESS_DIR}/{name}")
        if dt is None:
            continue
        sources = pa.table(dt.to_pyarrow_table()).column("source").to_pylist()
        if sources:
            out.append(_load(dt, str(sources[0])))
    return sorted(out, key=lambda p: p.source)


def _progress_tables(loc: ArchiveLocation) -> list[str]:
    from huntvault.archive.deltalog import LOG_DIR

    if loc.local is not None:
        base = loc.local / PROGRESS_DIR
        return sorted(p.name for p in base.iterdir() if (p / LOG_DIR).is_dir()) if base.is_dir() else []
    import pyarrow.fs as pafs

    fs = pafs.SubTreeFileSystem(PROGRESS_DIR, loc.filesystem())
    try:
        infos = fs.get_file_info(pafs.FileSelector("", allow_not_found=True))
    except (FileNotFoundError, OSError):
        return []
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)


def commit_progress(
    loc: ArchiveLocation,
    prog: SourceProgress,
    streams: dict[str, dict[str, Any]],
    stats: SourceStats,
    metadata: dict[str, Any],
) -> SourceProgress:
    """Commit the next batch of `prog.source`: its changed stream checkpoints and new counters."""
    from deltalake import write_deltalake
    from deltalake.transaction import CommitProperties, Transaction

    batch = prog.batch + 1
    now = datetime.now(UTC)
    stats = replace(stats, last_commit=time.time())
    names = [*streams, _STATS]
    values = [orjson.dumps(v).decode() for v in streams.values()] + [orjson.dumps(stats.to_json()).decode()]
    data = pa.table(
        {
            "source": [prog.source] * len(names),
            "stream": names,
            "value": values,
            "batch": pa.array([batch] * len(names), pa.int64()),
            "committed": pa.array([now] * len(names), pa.timestamp("us", tz="UTC")),
        },
        schema=PROGRESS_SCHEMA,
    )
    merged = SourceProgress(prog.source, batch, {**prog.streams, **streams}, stats, prog.files + 1)
    overwrite = merged.files > COMPACT_FILES  # one writer per source: rewrite the whole state as one file
    if overwrite:
        data = _state_table(merged, now)
        merged.files = 1
    props = CommitProperties(
        custom_metadata=metadata, app_transactions=[Transaction(f"huntvault:{prog.source}", batch)]
    )
    hooks = post_commit()
    uri = loc.uri(progress_table(prog.source))
    opts = dict(loc.options) or None
    try:
        if overwrite:
            write_deltalake(
                uri,
                data,
                mode="overwrite",
                storage_options=opts,
                commit_properties=props,
                post_commithook_properties=hooks,
            )
        else:
            write_deltalake(
                uri,
                data,
                mode="append",
                storage_options=opts,
                commit_properties=props,
                post_commithook_properties=hooks,
            )
    except Exception as exc:  # delta-rs raises several error types; the commit did not happen
        raise ArchiveError(f"committing the progress of source {prog.source!r} failed: {exc}") from None
    return merged


def _state_table(prog: SourceProgress, now: datetime) -> pa.Table:
    names = [*prog.streams, _STATS]
    values = [orjson.dumps(v).decode() for v in prog.streams.values()]
    values.append(orjson.dumps(prog.stats.to_json()).decode())
    return pa.table(
        {
            "source": [prog.source] * len(names),
            "stream": names,
            "value": values,
            "batch": pa.array([prog.batch] * len(names), pa.int64()),
            "committed": pa.array([now] * len(names), pa.timestamp("us", tz="UTC")),
        },
        schema=PROGRESS_SCHEMA,
    )


__all__ = [
    "PROGRESS_SCHEMA",
    "SourceProgress",
    "SourceStats",
    "all_progress",
    "commit_progress",
    "progress_table",
    "read_progress",
]
