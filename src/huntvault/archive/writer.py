"""The archive writer: typed batches into Delta tables, deduplicated, committed exactly once with checkpoints."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from huntvault.archive.deltalog import log_versions, read_commit
from huntvault.archive.keys import KeyIndex, KeyMaker, dedupe_positions, key_spec
from huntvault.archive.location import QUARANTINE_TABLE, ArchiveLocation, locate
from huntvault.archive.progress import SourceProgress, SourceStats, commit_progress, read_progress
from huntvault.archive.quarantine import QuarantineRecord, quarantine_table
from huntvault.archive.tables import (
    PARTITION,
    PartInfo,
    WrittenPart,
    archive_schema,
    commit_adds,
    create_table,
    open_table,
    read_part_table,
    snapshot_parts,
    time_column,
    write_part,
)
from huntvault.durable import write_durably
from huntvault.errors import ArchiveError, NormaliseError
from huntvault.schema import (
    ENVELOPE_COLUMNS,
    EXPORT_TIME_COLUMN,
    EXTRA_COLUMN,
    RECEIVED_COLUMN,
    TENANT_COLUMN,
    get_table,
    normalise_properties,
    normalise_unknown,
    parse_datetime,
)

if TYPE_CHECKING:
    from deltalake import DeltaTable

_ENVELOPE_NAMES = {n for n, _ in ENVELOPE_COLUMNS}
INTENT_DIR = "intents"  # in the state folder: the part names a commit in flight is writing


@dataclass
class Batch:
    """What one commit makes durable: typed rows per table, quarantined lines, and the checkpoints they cover."""

    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    checkpoints: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=dict
    )  # source -> stream -> value
    lag_bytes: dict[str, int] = field(default_factory=dict)  # source -> bytes known but not yet read
    rows: int = 0
    nbytes: int = 0  # Arrow bytes buffered
    input_bytes: int = 0  # raw bytes the batch covers
    started: float = field(default_factory=time.monotonic)

    def add(self, table: str, data: pa.Table) -> None:
        if data.num_rows:
            self.tables.setdefault(table, []).append(data)
            self.rows += data.num_rows
            self.nbytes += data.nbytes

    def checkpoint(self, source: str, stream: str, value: dict[str, Any]) -> None:
        self.checkpoints.setdefault(source, {})[stream] = value

    def empty(self) -> bool:
        return not self.tables and not self.quarantine and not self.checkpoints


@dataclass
class CommitResult:
    """What a commit did."""

    rows: int = 0  # rows written
    duplicates: int = 0  # rows dropped as already archived (or repeated in the batch)
    quarantined: int = 0
    parts: list[str] = field(default_factory=list)  # stable part ids
    per_table: dict[str, int] = field(default_factory=dict)


@dataclass
class _TableResult:
    rows: int = 0
    duplicates: int = 0
    parts: list[PartInfo] = field(default_factory=list)
    newest: int | None = None


class Archive:
    """A Delta Lake archive: `<root>/<Table>/` Delta tables partitioned by `date`, plus per-source progress.

    Commits are per table (Delta's optimistic concurrency: writers of other tables, or other processes,
    never block a commit; a conflicting commit is retried). Within one state folder a table's commits are
    serialised by its dedupe-key index. Readers never lock.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | ArchiveLocation,
        compression: str = "zstd",
        writers: int = 2,
    ) -> None:
        self.loc = locate(root)
        if self.loc.local is not None:
            self.loc.local.mkdir(parents=True, exist_ok=True)
        self.loc.state_dir.mkdir(parents=True, exist_ok=True)
        self.root = self.loc.local if self.loc.local is not None else self.loc.url
        self.compression = compression
        self._tables: dict[str, DeltaTable] = {}
        self._indexes: dict[str, KeyIndex] = {}
        self._progress: dict[str, SourceProgress] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._makers: list[KeyMaker] = []
        self._pool = ThreadPoolExecutor(max_workers=max(1, writers), thread_name_prefix="hv-part")
        self.remove_orphans()

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        self._pool.shutdown()
        for index in self._indexes.values():
            index.close()
        for maker in self._makers:
            maker.close()
        self._indexes.clear()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _maker(self) -> KeyMaker:
        found: KeyMaker | None = getattr(self._local, "maker", None)
        if found is None:
            found = self._local.maker = KeyMaker()
            with self._lock:
                self._makers.append(found)
        return found

    def index(self, table: str) -> KeyIndex:
        with self._lock:
            found = self._indexes.get(table)
            if found is None:
                found = self._indexes[table] = KeyIndex(self.loc.state_dir, table)
            return found

    def table(self, table: str, create: bool = False) -> DeltaTable | None:
        """The Delta table of `table` (cached handle, brought to the latest version)."""
        dt = self._tables.get(table)
        if dt is None:
            dt = open_table(self.loc, table)
            if dt is None and create:
                dt = create_table(self.loc, table)
            if dt is not None:
                self._tables[table] = dt
        else:
            dt.update_incremental()
        return dt

    def remove_orphans(self) -> list[str]:
        """Delete the part and temp files of commits that never happened (a writer killed mid-commit).

        Before writing parts, a writer records their names in an intent file of the local state folder
        (under the table's lock) and removes it after the Delta commit. An intent left behind whose table
        lock is free names files that are orphans unless the snapshot has them. Object-store files of a
        writer on another machine are not touched (Delta vacuum removes them after the grace period).
        """
        folder = self.loc.state_dir / INTENT_DIR
        if not folder.is_dir():
            return []
        removed: list[str] = []
        for intent in sorted(folder.glob("*.json")):
            try:
                plan = orjson.loads(intent.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                intent.unlink(missing_ok=True)
                continue
            table = str(plan.get("table", ""))
            with self.index(table).locked(wait=False) as got:
                if got:
                    removed.extend(self._remove_planned(table, [str(p) for p in plan.get("parts", [])]))
                    intent.unlink(missing_ok=True)
        return removed

    def _remove_planned(self, table: str, planned: list[str]) -> list[str]:
        dt = self.table(table)
        live = {p.path for p in snapshot_parts(dt, table)} if dt is not None else set()
        fs = self.loc.filesystem()
        removed: list[str] = []
        for rel in planned:
            if rel in live:
                continue
            if self.loc.local is not None:
                final = self.loc.local / rel
                for tmp in final.parent.glob(f".{final.name}.*.tmp"):
                    tmp.unlink(missing_ok=True)
                if final.exists():
                    final.unlink()
                    removed.append(rel)
            else:
                try:
                    fs.delete_file(rel)
                    removed.append(rel)
                except (FileNotFoundError, OSError):
                    pass
        return removed

    def _intent(self, table: str, token: str, parts: list[str]) -> Path:
        path = self.loc.state_dir / INTENT_DIR / f"{token}.{table}.json"
        write_durably(path, orjson.dumps({"table": table, "parts": parts}))
        return path

    # -- checkpoints -----------------------------------------------------------------------------

    def progress(self, source: str) -> SourceProgress:
        with self._lock:
            found = self._progress.get(source)
        if found is None:
            found = read_progress(self.loc, source)
            with self._lock:
                self._progress[source] = found
        return found

    def checkpoints(self, source: str) -> dict[str, dict[str, Any]]:
        """The committed checkpoint of every stream of `source` (stream -> JSON object)."""
        return dict(self.progress(source).streams)

    # -- writing ---------------------------------------------------------------------------------

    def append_rows(
        self,
        table: str,
        rows: pa.Table | Sequence[Mapping[str, Any]],
        source: str = "api",
        checkpoint: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> CommitResult:
        """Archive `rows` of `table` and advance `source`'s checkpoint (stream -> value) in one commit.

        Rows may be dicts of wire values (normalised like export properties; envelope columns
        `_ExportTime`, `_TimeReceivedBySvc`, `_TenantId` are taken when present) or an Arrow table
        already in the archive schema. Rows already archived (same dedupe key) are skipped, so a
        retry after a crash does not duplicate anything.
        """
        batch = Batch()
        data = rows if isinstance(rows, pa.Table) else rows_to_arrow(table, rows)
        batch.add(table, conform(data, archive_schema(table)))
        for stream, value in (checkpoint or {}).items():
            batch.checkpoint(source, stream, dict(value))
        batch.checkpoints.setdefault(source, {})
        return self.commit(batch)

    def commit(self, batch: Batch) -> CommitResult:
        """Make a batch durable exactly once.

        Each table's new rows (dedupe keys checked and recorded under the table's lock) are written as
        parts and committed to its Delta table, tables in parallel; then each source's progress commit
        records the checkpoints and counters. A kill before a table's commit leaves orphan files (removed
        at the next open); a kill before the progress commit makes the source re-read lines whose rows
        the dedupe keys then drop. Checkpoints never run ahead of data.
        """
        result = CommitResult()
        if batch.empty():
            return result
        token = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        meta: dict[str, str] = {"huntvault.commit": token}
        if batch.checkpoints:
            meta["huntvault.sources"] = orjson.dumps(sorted(batch.checkpoints)).decode()
        jobs: list[tuple[str, pa.Table]] = []
        for table, pieces in sorted(batch.tables.items()):
            jobs.append((table, pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]))
        if batch.quarantine:
            jobs.append((QUARANTINE_TABLE, quarantine_table(batch.quarantine)))
        outcomes = list(self._pool.map(lambda job: self._commit_table(job[0], job[1], token, meta), jobs))
        newest: int | None = None
        for (table, _), out in zip(jobs, outcomes, strict=True):
            result.parts.extend(p.path for p in out.parts)
            if table == QUARANTINE_TABLE:
                result.quarantined = out.rows
                continue
            result.rows += out.rows
            result.duplicates += out.duplicates
            if out.rows:
                result.per_table[table] = result.per_table.get(table, 0) + out.rows
            if out.newest is not None:
                newest = out.newest if newest is None else max(newest, out.newest)
        self._commit_progress(batch, result, newest, meta)
        return result

    def _commit_progress(
        self, batch: Batch, result: CommitResult, newest: int | None, meta: dict[str, Any]
    ) -> None:
        sources = set(batch.checkpoints) | set(batch.lag_bytes)
        for src in sorted(sources):
            prog = self.progress(src)
            stats = SourceStats(**vars(prog.stats))
            if len(batch.checkpoints) == 1 and src in batch.checkpoints:  # rows belong to the only source
                stats.rows += result.rows
                stats.duplicates += result.duplicates
                stats.quarantined += result.quarantined
                if newest is not None:
                    stats.last_event_ts = max(newest, stats.last_event_ts or newest)
            if src in batch.lag_bytes:
                stats.lag_bytes = batch.lag_bytes[src]
            merged = commit_progress(self.loc, prog, batch.checkpoints.get(src, {}), stats, meta)
            with self._lock:
                self._progress[src] = merged

    def _commit_table(self, table: str, data: pa.Table, token: str, meta: dict[str, Any]) -> _TableResult:
        index = self.index(table)
        out = _TableResult()
        with index.locked():
            dt = self.table(table, create=True)
            assert dt is not None
            self.catch_up(table, dt, index)
            before = dt.version()
            data, dates, out.duplicates = self._dedupe(table, data, index)
            if data.num_rows == 0:
                return out
            days = sorted(pc.unique(dates).to_pylist())
            planned = [f"{table}/{PARTITION}={d}/part-{token}-{i}.parquet" for i, d in enumerate(days)]
            intent = self._intent(table, token, planned)
            parts = self._write_parts(table, data, dates, token)
            dt = self._tables[table] = commit_adds(self.loc, dt, table, [p.add for p in parts], meta)
            intent.unlink(missing_ok=True)
            dt.update_incremental()
            if dt.version() == before + 1:  # nobody else committed in between: the index covers it
                index.set_covered(dt.version(), str(dt.metadata().id))
            out.parts = [p.info for p in parts]
            out.rows = data.num_rows
            for p in out.parts:
                if p.max_ts is not None:
                    out.newest = p.max_ts if out.newest is None else max(out.newest, p.max_ts)
        return out

    def _dedupe(self, table: str, data: pa.Table, index: KeyIndex) -> tuple[pa.Table, pa.Array, int]:
        """Drop rows whose key repeats in `data` or is already archived; record the new keys (in the held
        index transaction). Returns the kept rows (batch order), their days and how many were dropped."""
        spec = key_spec(table, data.schema, time_column(table))
        first = self._maker().first_keys(table, spec, data)
        rows, days = dedupe_positions(index, first, data.num_rows)
        dropped = data.num_rows - len(rows)
        if table == QUARANTINE_TABLE:
            stamp = pc.strftime(data.column("Timestamp"), format="%Y-%m-%d", locale="C")
            days = pa.array(np.asarray(stamp.to_pylist(), dtype=object)[rows].tolist(), pa.string())
        if not dropped:
            return data, days, 0
        keep = np.zeros(data.num_rows, np.bool_)
        keep[rows] = True
        return data.filter(pa.array(keep, pa.bool_())), days, dropped

    def _write_parts(self, table: str, data: pa.Table, dates: pa.Array, token: str) -> list[WrittenPart]:
        out: list[WrittenPart] = []
        days = sorted(pc.unique(dates).to_pylist())
        for i, day in enumerate(days):
            if day is None:
                raise ArchiveError(f"{table}: rows without a {time_column(table)} cannot be archived")
            piece = data if len(days) == 1 else data.filter(pc.equal(dates, day))
            out.append(write_part(self.loc, table, day, f"part-{token}-{i}.parquet", piece, self.compression))
        return out

    def catch_up(self, table: str, dt: DeltaTable, index: KeyIndex) -> None:
        """Bring the table's dedupe keys up to the Delta version `dt` is at (inside the held lock).

        Versions the index has not seen are read back from the log (appends add their rows' keys,
        retention deletes drop their days); when the log no longer reaches back that far, or a part
        was already vacuumed, the index is rebuilt from the snapshot.
        """
        latest = dt.version()
        table_id = str(dt.metadata().id)
        covered = index.covered(table_id)
        if covered >= latest:
            return
        fs = self.loc.filesystem()
        versions = [v for v in log_versions(fs, table) if covered < v <= latest]
        try:
            if not versions or versions[0] != covered + 1:
                raise ArchiveError("the Delta log does not reach back to the index's version")
            for version in versions:
                commit = read_commit(fs, table, version)
                if commit.operation == "DELETE":
                    for day in {f.date for f in commit.files if f.action == "remove" and f.data_change}:
                        index.drop_day(day)
                    continue
                for f in commit.files:
                    if f.action == "add" and f.data_change:
                        self._index_part(table, f"{table}/{f.path}", index)
        except ArchiveError:
            index.clear()
            for part in snapshot_parts(dt, table):
                self._index_part(table, part.path, index)
        index.set_covered(latest, table_id)

    def _index_part(self, table: str, part: str, index: KeyIndex) -> None:
        data = read_part_table(self.loc, part, columns=None).drop_columns([PARTITION])
        data = conform(data, archive_schema(table))
        spec = key_spec(table, data.schema, time_column(table))
        index.add_keys(self._maker().first_keys(table, spec, data))


def conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """`data` with exactly `schema`'s columns in order (missing ones null, strings ""), cast where needed."""
    if data.schema.equals(schema):
        return data
    cols = []
    for f in schema:
        if f.name in data.schema.names:
            col = data.column(f.name)
            if col.type != f.type:
                try:
                    col = col.cast(f.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise ArchiveError(
                        f"column {f.name}: cannot store {col.type} as {f.type}: {exc}"
                    ) from None
        elif pa.types.is_string(f.type) and f.name not in _ENVELOPE_NAMES:
            col = pa.chunked_array([pa.array([""] * data.num_rows, f.type)])
        else:
            col = pa.chunked_array([pa.nulls(data.num_rows, f.type)])
        cols.append(col)
    unknown = [n for n in data.schema.names if n not in schema.names]
    if unknown:
        raise ArchiveError(
            f"columns not in the archive schema: {', '.join(unknown)} (put them in {EXTRA_COLUMN})"
        )
    return pa.table(cols, schema=schema)


def rows_to_arrow(table: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Dicts of wire values into the archive schema, with the normaliser's typing (NormaliseError on bad rows)."""
    known = get_table(table)
    typed: list[dict[str, Any]] = []
    for i, raw in enumerate(rows):
        props = {k: v for k, v in raw.items() if k not in _ENVELOPE_NAMES}
        try:
            row = normalise_properties(known, props) if known else normalise_unknown(props, None)
            for name in (EXPORT_TIME_COLUMN, RECEIVED_COLUMN):
                value = raw.get(name)
                row[name] = parse_datetime(value) if isinstance(value, str) and value else value
            row[TENANT_COLUMN] = str(raw.get(TENANT_COLUMN) or "")
        except NormaliseError as exc:
            raise NormaliseError(f"row {i}: {exc}") from None
        typed.append(row)
    return pa.Table.from_pylist(typed, schema=archive_schema(table))


__all__ = ["Archive", "Batch", "CommitResult", "conform", "rows_to_arrow"]
