"""The archive writer: typed batches into Parquet parts, deduplicated, committed exactly once with checkpoints."""

from __future__ import annotations

import base64
import fcntl
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from huntvault.archive import manifest as mf
from huntvault.errors import ArchiveError, NormaliseError
from huntvault.schema import (
    ENVELOPE_COLUMNS,
    EXPORT_TIME_COLUMN,
    EXTRA_COLUMN,
    KQL_TO_ARROW,
    RECEIVED_COLUMN,
    TENANT_COLUMN,
    get_table,
)
from huntvault.schema.normalise import normalise_properties, normalise_unknown, parse_datetime

LOCK_FILE = "writer.lock"
_ENVELOPE_NAMES = {n for n, _ in ENVELOPE_COLUMNS}


def unknown_table_schema() -> pa.Schema:
    """Archive schema of a table the schema data file does not know: Timestamp, then the envelope columns."""
    return pa.schema(
        [pa.field("Timestamp", KQL_TO_ARROW["datetime"])]
        + [pa.field(n, KQL_TO_ARROW[t]) for n, t in ENVELOPE_COLUMNS]
    )


def archive_schema(table: str) -> pa.Schema:
    """The Parquet schema of `table` in the archive (known tables per tables.json, unknown ones minimal)."""
    known = get_table(table)
    return known.arrow_schema() if known else unknown_table_schema()


def time_column(table: str) -> str:
    known = get_table(table)
    return known.time_column if known else "Timestamp"


@dataclass(frozen=True)
class QuarantineRecord:
    """One line that could not be archived, with where it came from and why."""

    source: str
    stream: str  # blob path, file, partition...
    offset: int  # byte offset of the line in the stream (record index for Event Hub messages)
    reason: str
    line: bytes
    table_hint: str | None = None

    def to_json(self) -> bytes:
        text = self.line.decode("utf-8", errors="replace")
        obj: dict[str, Any] = {
            "source": self.source,
            "stream": self.stream,
            "offset": self.offset,
            "reason": self.reason,
            "table_hint": self.table_hint,
            "line": text,
        }
        if text.encode("utf-8") != self.line:
            obj["line_base64"] = base64.b64encode(self.line).decode()
        return orjson.dumps(obj)


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
    parts: list[str] = field(default_factory=list)
    per_table: dict[str, int] = field(default_factory=dict)


def _fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _durable_write(final: Path, write: Any) -> int:
    """Write through `write(tmp_path)`, fsync, rename to `final`, fsync the folder; returns the size."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp")
    write(tmp)
    fd = os.open(str(tmp), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    return final.stat().st_size


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


class Archive:
    """A Parquet archive folder: `<root>/<Table>/date=YYYY-MM-DD/part-*.parquet` plus its manifest.

    One process commits at a time (an advisory lock is held from the first part written until the
    manifest transaction commits); readers never need the lock.
    """

    def __init__(self, root: str | os.PathLike[str], compression: str = "zstd") -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.compression = compression
        self.con: sqlite3.Connection = mf.connect(self.root, create=True)
        self.key_format = mf.key_format(self.con)
        self._duck = duckdb.connect()
        self._duck.execute("SET TimeZone = 'UTC'")
        self._duck.execute("SET threads = 2")
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hv-part")
        with self.locked():
            self.remove_orphans()

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        self._pool.shutdown()
        self.con.close()
        self._duck.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The writer lock (blocking): held while parts are written and committed."""
        path = self.root / mf.STATE_DIR / LOCK_FILE
        fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def remove_orphans(self) -> list[str]:
        """Delete part/quarantine/temp files the manifest does not know (left by a crash). Call under the lock."""
        known = mf.known_paths(self.con)
        removed: list[str] = []
        for top in self.root.iterdir():
            if not top.is_dir() or top.name == mf.STATE_DIR:
                continue
            for day in top.iterdir():
                if not day.is_dir() or not day.name.startswith("date="):
                    continue
                for f in day.iterdir():
                    rel = _rel(self.root, f)
                    if (
                        f.is_file()
                        and rel not in known
                        and (f.name.endswith(".tmp") or f.name.startswith(("part-", "q-")))
                    ):
                        f.unlink()
                        removed.append(rel)
                if not any(day.iterdir()):
                    day.rmdir()
        return removed

    # -- checkpoints -----------------------------------------------------------------------------

    def checkpoints(self, source: str) -> dict[str, dict[str, Any]]:
        """The committed checkpoint of every stream of `source` (stream -> JSON object)."""
        return mf.get_checkpoints(self.con, source)

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

        Inside one manifest transaction: the batch's dedupe keys are inserted (which tells which rows
        are new), the new rows are written as parts (temp name, fsync, rename), then the parts, the
        checkpoints and the source counters are recorded and the transaction commits. A crash before
        the commit leaves only orphan files, removed at the next open.
        """
        result = CommitResult()
        if batch.empty():
            return result
        txn = f"{time.time_ns():x}-{uuid.uuid4().hex[:6]}"
        with self.locked(), mf.transaction(self.con):
            stats: dict[str, mf.SourceStats] = {s: mf.SourceStats() for s in batch.checkpoints}
            todo: list[tuple[str, pa.Table, pa.Array]] = []
            for table, pieces in sorted(batch.tables.items()):
                data = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
                data, dates, dups = self._dedupe(table, data)
                result.duplicates += dups
                if data.num_rows:
                    todo.append((table, data, dates))
            written: list[mf.PartInfo] = []
            for parts in self._pool.map(lambda job: self._write_parts(job[0], job[1], job[2], txn), todo):
                written.extend(parts)
            newest: int | None = None
            for part in written:
                result.rows += part.rows
                result.per_table[part.table] = result.per_table.get(part.table, 0) + part.rows
                if part.max_ts is not None:
                    newest = part.max_ts if newest is None else max(newest, part.max_ts)
            qpart = self._write_quarantine(batch.quarantine, txn)
            if qpart is not None:
                written.append(qpart)
                result.quarantined = qpart.rows
            # Per-source stats: rows are attributed to the only source of the batch when there is one.
            if len(stats) == 1:
                only = next(iter(stats.values()))
                only.rows, only.duplicates, only.quarantined = (
                    result.rows,
                    result.duplicates,
                    result.quarantined,
                )
                only.last_event_ts = newest
            for src, lag in batch.lag_bytes.items():
                stats.setdefault(src, mf.SourceStats()).lag_bytes = lag
            for part in written:
                mf.add_part(self.con, part)
            for src, streams in batch.checkpoints.items():
                mf.put_checkpoints(self.con, src, streams)
            for src, st in stats.items():
                mf.bump_source(self.con, src, st)
            result.parts = [p.path for p in written]
        return result

    def _dedupe(self, table: str, data: pa.Table) -> tuple[pa.Table, pa.Array, int]:
        """Drop rows whose key is repeated in `data` or already archived; record the new keys (in the open
        transaction). Returns the kept rows (in their batch order), their UTC dates, and how many were dropped.

        Column-wise: DuckDB computes the keys, keeps each key's first row and sorts by (date, key) for
        the B-tree; SQLite takes the keys in `executemany` chunks (`manifest.insert_new_keys`).
        """
        total = data.num_rows
        first = self._first_keys(table, data)
        rows = first.column("i").to_numpy()
        keys = first.column("k").to_pylist()
        days = first.column("d")
        pids = mf.partition_column(self.con, table, days.to_pylist())
        known = mf.insert_new_keys(self.con, pids, keys)
        if known:
            fresh = np.ones(len(keys), np.bool_)
            fresh[known] = False
            rows, days = rows[fresh], days.filter(pa.array(fresh, pa.bool_()))
        order = np.argsort(rows, kind="stable")  # back to batch order
        days = days.take(pa.array(order))
        if len(rows) == total:
            return data, days, 0
        keep = np.zeros(total, np.bool_)
        keep[rows] = True
        return data.filter(pa.array(keep, pa.bool_())), days, total - len(rows)

    def _first_keys(self, table: str, data: pa.Table) -> pa.Table:
        """Per distinct dedupe key of `data`: its first row `i`, 16-byte key `k`, UTC date `d`; by (d, k).

        The key hashes (table, dedupe-key columns) where the table has a dedupe key, else the row's
        content (every column but the envelope's): the event time then half the MD5 in the current
        format (`manifest.KEYS_TIME_MD5`), the whole MD5 in archives made before it.
        """
        known = get_table(table)
        tcol = time_column(table)

        def val(name: str) -> str:
            typ = data.schema.field(name).type
            q = f'"{name}"'
            if pa.types.is_timestamp(typ):
                return f"coalesce(epoch_us({q})::VARCHAR, '\\N')"
            return f"coalesce({q}::VARCHAR, '\\N')"

        if known is not None and known.dedupe_key:
            parts = [val(c) for c in known.dedupe_key]
        else:
            names = [n for n in data.schema.names if n not in _ENVELOPE_NAMES or n == EXTRA_COLUMN]
            parts = [val(n) for n in names]
        lit = table.replace("'", "''")
        digest = f"md5(concat_ws(chr(31), '{lit}', {', '.join(parts)}))"
        if self.key_format == mf.KEYS_TIME_MD5:
            when = f'coalesce(epoch_us("{tcol}"), 0)'
            ordered = f"lpad(to_hex(CAST({when} AS HUGEINT) + 9223372036854775808), 16, '0')"
            key_sql = f"unhex({ordered} || left({digest}, 16))"
        else:
            key_sql = f"unhex({digest})"
        date_sql = f"strftime(timezone('UTC', \"{tcol}\"), '%Y-%m-%d')"
        view = data.append_column("__hv_i", pa.array(np.arange(data.num_rows, dtype=np.int64)))
        self._duck.register("hv_batch", view)
        try:
            return self._duck.sql(
                f"SELECT min(i) AS i, k, arg_min(d, i) AS d FROM "
                f"(SELECT __hv_i AS i, {key_sql} AS k, {date_sql} AS d FROM hv_batch) "
                f"GROUP BY k ORDER BY d, k"
            ).to_arrow_table()
        finally:
            self._duck.unregister("hv_batch")

    def _write_parts(self, table: str, data: pa.Table, dates: pa.Array, txn: str) -> list[mf.PartInfo]:
        tcol = time_column(table)
        out: list[mf.PartInfo] = []
        days = sorted(pc.unique(dates).to_pylist())
        for i, day in enumerate(days):
            piece = data if len(days) == 1 else data.filter(pc.equal(dates, day))
            final = self.root / table / f"date={day}" / f"part-{txn}-{i}.parquet"

            def write(tmp: Path, piece: pa.Table = piece) -> None:
                pq.write_table(piece, str(tmp), compression=self.compression)

            size = _durable_write(final, write)
            mm = pc.min_max(piece.column(tcol))
            lo, hi = mm["min"].value, mm["max"].value
            out.append(
                mf.PartInfo(_rel(self.root, final), table, day, piece.num_rows, size, _us(lo), _us(hi))
            )
        return out

    def _write_quarantine(self, records: list[QuarantineRecord], txn: str) -> mf.PartInfo | None:
        if not records:
            return None
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        final = self.root / mf.QUARANTINE_DIR / f"date={day}" / f"q-{txn}.jsonl"
        body = b"".join(r.to_json() + b"\n" for r in records)

        def write(tmp: Path) -> None:
            tmp.write_bytes(body)

        size = _durable_write(final, write)
        return mf.PartInfo(_rel(self.root, final), mf.QUARANTINE_TABLE, day, len(records), size, None, None)


def _us(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(value)


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
    schema = archive_schema(table)
    return pa.Table.from_pylist(typed, schema=schema)


__all__ = [
    "Archive",
    "Batch",
    "CommitResult",
    "QuarantineRecord",
    "archive_schema",
    "conform",
    "rows_to_arrow",
    "time_column",
    "unknown_table_schema",
]
