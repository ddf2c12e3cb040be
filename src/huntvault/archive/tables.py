"""One Delta table per archive table: schemas, table handles, part files written and committed, snapshots."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.fs as pafs

from huntvault.archive.deltalog import LOG_DIR
from huntvault.archive.location import QUARANTINE_TABLE, STATE_DIR, ArchiveLocation
from huntvault.archive.quarantine import QUARANTINE_SCHEMA
from huntvault.durable import fsync_dir, writing_durably
from huntvault.errors import ArchiveError
from huntvault.schema import ENVELOPE_COLUMNS, KQL_TO_ARROW, get_table

if TYPE_CHECKING:  # deltalake is imported where a table is opened (a hunt naming no table needs none)
    from deltalake import DeltaTable
    from deltalake.transaction import AddAction, PostCommitHookProperties

PARTITION = "date"  # every table is partitioned by day (UTC event day; ingestion day for the quarantine)


def post_commit() -> PostCommitHookProperties:
    """Checkpoint the log every `delta.checkpointInterval` commits; clean it per the table's retention."""
    from deltalake.transaction import PostCommitHookProperties

    return PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=None)


def unknown_table_schema() -> pa.Schema:
    """Archive schema of a table the schema data file does not know: Timestamp, then the envelope columns."""
    return pa.schema(
        [pa.field("Timestamp", KQL_TO_ARROW["datetime"])]
        + [pa.field(n, KQL_TO_ARROW[t]) for n, t in ENVELOPE_COLUMNS]
    )


def archive_schema(table: str) -> pa.Schema:
    """The Parquet schema of `table` in the archive (known tables per tables.json, unknown ones minimal)."""
    if table == QUARANTINE_TABLE:
        return QUARANTINE_SCHEMA
    known = get_table(table)
    return known.arrow_schema() if known else unknown_table_schema()


def time_column(table: str) -> str:
    known = get_table(table)
    return known.time_column if known else "Timestamp"


def delta_schema(table: str) -> pa.Schema:
    """The Delta table schema: the archive schema plus the `date` partition column."""
    return archive_schema(table).append(pa.field(PARTITION, pa.date32()))


@dataclass(frozen=True)
class PartInfo:
    """One committed part file; `path` is its stable id: relative to the archive root, '/' separated."""

    path: str
    table: str
    date: str
    rows: int
    bytes: int
    min_ts: int | None
    max_ts: int | None

    @property
    def id(self) -> str:
        return self.path


def _log_files(fs: pafs.FileSystem, table: str) -> list[pafs.FileInfo]:
    try:
        return list(fs.get_file_info(pafs.FileSelector(f"{table}/{LOG_DIR}", allow_not_found=True)))
    except (FileNotFoundError, OSError):
        return []


def list_tables(loc: ArchiveLocation, quarantine: bool = False) -> list[str]:
    """The Delta tables of the archive (folders holding a `_delta_log`), sorted."""
    if loc.local is not None:
        if not loc.local.is_dir():
            return []
        names = [p.name for p in loc.local.iterdir() if (p / LOG_DIR).is_dir()]
    else:
        fs = loc.filesystem()
        try:
            tops = fs.get_file_info(pafs.FileSelector("", allow_not_found=True))
        except (FileNotFoundError, OSError):
            return []
        names = [
            i.base_name for i in tops if i.type == pafs.FileType.Directory and _log_files(fs, i.base_name)
        ]
    return sorted(
        n for n in names if n != STATE_DIR and not n.startswith(".") and (quarantine or n != QUARANTINE_TABLE)
    )


def open_table(loc: ArchiveLocation, table: str) -> DeltaTable | None:
    """The Delta table of `table` at its latest version, None when it does not exist yet."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(loc.table_uri(table), storage_options=dict(loc.options) or None)
    except TableNotFoundError:
        return None
    except OSError as exc:
        raise ArchiveError(f"cannot read the Delta table {loc.table_uri(table)}: {exc}") from None


def create_table(loc: ArchiveLocation, table: str) -> DeltaTable:
    """Create the Delta table of `table` (a concurrent creator's table is taken as it is)."""
    from deltalake import DeltaTable

    try:
        return DeltaTable.create(
            loc.table_uri(table),
            delta_schema(table),
            mode="ignore",
            partition_by=[PARTITION],
            name=table,
            storage_options=dict(loc.options) or None,
        )
    except Exception:  # another writer created it between our check and our commit
        found = open_table(loc, table)
        if found is None:
            raise
        return found


def _ts_us(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(value)


def _iso_ms(us: int, up: bool) -> str:
    """A Delta stats timestamp (milliseconds): rounded down for a minimum, up for a maximum."""
    ms = -((-us) // 1000) if up else us // 1000
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[
        :-3
    ] + "Z"


@dataclass(frozen=True)
class WrittenPart:
    """A part file written but not yet committed."""

    info: PartInfo
    add: AddAction


def write_part(
    loc: ArchiveLocation, table: str, day: str, name: str, data: pa.Table, compression: str
) -> WrittenPart:
    """Write one Parquet part of `table` (without the partition column) durably; returns its add action."""
    import pyarrow.compute as pc  # here, not at import: a hunt that reads nothing does not load them
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    rel_in_table = f"{PARTITION}={day}/{name}"
    rel = f"{table}/{rel_in_table}"
    if loc.local is not None:
        final = loc.local / rel
        with writing_durably(final) as fh:
            pq.write_table(data, fh, compression=compression)
        size = final.stat().st_size
    else:
        fs = loc.filesystem()
        with fs.open_output_stream(rel) as out:
            pq.write_table(data, out, compression=compression)
        size = int(fs.get_file_info(rel).size or 0)
    tcol = time_column(table)
    lo = hi = None
    stats: dict[str, Any] = {"numRecords": data.num_rows}
    if tcol in data.schema.names and data.num_rows:
        mm = pc.min_max(data.column(tcol))
        lo, hi = _ts_us(mm["min"].value), _ts_us(mm["max"].value)
        if lo is not None and hi is not None:
            stats["minValues"] = {tcol: _iso_ms(lo, False)}
            stats["maxValues"] = {tcol: _iso_ms(hi, True)}
    add = AddAction(
        rel_in_table,
        size,
        {PARTITION: day},
        int(time.time() * 1000),
        True,
        orjson.dumps(stats).decode(),
    )
    return WrittenPart(PartInfo(rel, table, day, data.num_rows, size, lo, hi), add)


COMMIT_ATTEMPTS = 8


def commit_adds(
    loc: ArchiveLocation, dt: DeltaTable, table: str, adds: list[AddAction], metadata: dict[str, Any]
) -> DeltaTable:
    """One Delta commit appending `adds` to `table`; returns the table handle to keep using.

    A blind append never conflicts in Delta's rules: delta-rs retries it on a concurrent writer's
    version, and when a store answers a race with an error instead, the table is re-read and the commit
    is tried again unless the snapshot already holds our files (the commit did land). Never lost, never twice.
    """
    from deltalake.transaction import CommitProperties

    wanted = {a.path for a in adds}
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            dt.create_write_transaction(
                adds,
                "append",
                delta_schema(table),
                partition_by=[PARTITION],
                commit_properties=CommitProperties(custom_metadata=metadata, max_commit_retries=100),
                post_commithook_properties=post_commit(),
            )
            break
        except Exception as exc:  # delta-rs raises several error types for a lost race
            fresh = open_table(loc, table)
            if fresh is None:
                raise ArchiveError(f"{table}: the Delta table disappeared during a commit: {exc}") from None
            dt = fresh
            live = set(pa.table(dt.get_add_actions(flatten=True)).column("path").to_pylist())
            if wanted <= live:
                break
            if attempt == COMMIT_ATTEMPTS - 1:
                raise ArchiveError(
                    f"{table}: the Delta commit failed {COMMIT_ATTEMPTS} times: {exc}"
                ) from None
            time.sleep(0.05 * (attempt + 1))
    if loc.local is not None:
        fsync_dir(loc.local / table / LOG_DIR)
    return dt


def snapshot_parts(dt: DeltaTable, table: str) -> list[PartInfo]:
    """The live parts of a Delta snapshot, in path (date) order."""
    actions = pa.table(dt.get_add_actions(flatten=True))
    names = actions.schema.names
    tcol = time_column(table)
    cols = {n: actions.column(n).to_pylist() for n in names}
    out: list[PartInfo] = []
    dates = cols.get(f"partition.{PARTITION}") or [None] * actions.num_rows
    lows = cols.get(f"min.{tcol}") or [None] * actions.num_rows
    highs = cols.get(f"max.{tcol}") or [None] * actions.num_rows
    for i, path in enumerate(cols.get("path", [])):
        day = dates[i]
        out.append(
            PartInfo(
                f"{table}/{path}",
                table,
                day.isoformat() if hasattr(day, "isoformat") else str(day or ""),
                int(cols["num_records"][i] or 0) if "num_records" in cols else 0,
                int(cols["size_bytes"][i] or 0),
                _ts_us(lows[i]),
                _ts_us(highs[i]),
            )
        )
    return sorted(out, key=lambda p: p.path)


def part_uri(loc: ArchiveLocation, part: str) -> str:
    """Where an engine reads a part: a local path, or the object-store URI."""
    return loc.uri(part)


def read_part_table(loc: ArchiveLocation, part: str, columns: list[str] | None = None) -> pa.Table:
    """One part's rows as Arrow, with its `date` partition column (local and object-store archives)."""
    import pyarrow.parquet as pq

    table, _, rest = part.partition("/")
    day = rest.split("/", 1)[0].partition("=")[2]
    try:
        if loc.local is not None:
            data = pq.read_table(str(loc.local / part), columns=columns)
        else:
            data = pq.read_table(part, columns=columns, filesystem=loc.filesystem())
    except (OSError, pa.ArrowInvalid) as exc:
        raise ArchiveError(f"cannot read archive part {part}: {exc}") from None
    if columns is None or PARTITION in columns:
        value = datetime.strptime(day, "%Y-%m-%d").date() if day and day != "-" else None
        data = data.append_column(PARTITION, pa.array([value] * data.num_rows, pa.date32()))
    del table
    return data


__all__ = [
    "PARTITION",
    "PartInfo",
    "WrittenPart",
    "archive_schema",
    "commit_adds",
    "create_table",
    "delta_schema",
    "list_tables",
    "open_table",
    "part_uri",
    "read_part_table",
    "snapshot_parts",
    "time_column",
    "unknown_table_schema",
    "write_part",
]
