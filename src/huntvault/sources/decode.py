"""Export lines into typed Arrow tables: a DuckDB fast path for plain lines, the normaliser for everything else.

The fast path parses with DuckDB and accepts a line only when every value has a plain shape whose
typed value provably equals what `normalise_line` gives (a JSON string for a string column, at most
18 digits for a long, an ISO `...Z` timestamp, ...). Any other line (unknown keys or table, numbers
with exponents, JSON-in-string needing care, bad JSON...) goes through `normalise_line` itself, so
typed values and quarantine decisions are exactly the normaliser's.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from huntvault.archive import QuarantineRecord, archive_schema
from huntvault.errors import NormaliseError
from huntvault.schema import (
    CATEGORY_PREFIX,
    COERCERS,
    EXPORT_TIME_COLUMN,
    EXTRA_COLUMN,
    RECEIVED_COLUMN,
    TENANT_COLUMN,
    Table,
    get_table,
    normalise_line,
)

#: Defender's own timestamp shape: 7 fractional digits, `Z` or nothing, hour below 24
_OWN_TS_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-9]{2}:[0-9]{2}\.[0-9]{7}Z?"
_TS_RE = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])(\.[0-9]{1,9})?Z?$"


@dataclass
class Decoded:
    """The typed rows (per table) and quarantined lines of one chunk."""

    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    rows: int = 0
    fast_rows: int = 0

    def add(self, table: str, data: pa.Table) -> None:
        if data.num_rows:
            self.tables.setdefault(table, []).append(data)
            self.rows += data.num_rows


def split_lines(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, newline and CR stripped) byte positions of each complete line in `data`."""
    buf = np.frombuffer(data, np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.empty(len(nl), np.int64)
    if len(nl):
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
    ends = nl.astype(np.int64)
    if len(nl):
        cr = buf[np.maximum(ends - 1, 0)] == 13
        cr &= ends > starts
        ends = ends - cr.astype(np.int64)
    return starts, ends


def complete_length(data: bytes) -> int:
    """How many leading bytes of `data` are complete lines (up to and including the last newline)."""
    pos = data.rfind(b"\n")
    return pos + 1


class Decoder:
    """Turns chunks of complete export lines into typed Arrow tables plus quarantine records."""

    def __init__(self, fast: bool = True, threads: int = 1) -> None:
        # one DuckDB thread per decoder: the ingestor runs DECODE_WORKERS decoders at once, and more
        # threads than cores only added switching (measured 6% slower at 1M events on 2 cores)
        self.fast = fast
        self._con = duckdb.connect()
        self._con.execute(f"SET threads = {max(threads, 1)}")
        self._con.execute("SET TimeZone = 'UTC'")
        self._sql: dict[str, str] = {}
        self._screens: dict[str, str] = {}
        self._views: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hv-screen")

    def close(self) -> None:
        self._pool.shutdown()
        self._con.close()

    # -- entry points -----------------------------------------------------------------------------

    def decode(
        self,
        data: bytes,
        base_offset: int,
        source: str,
        stream: str,
        table_hint: str | None = None,
        expect_table: str | None = None,
        segments: list[tuple[int, str, int]] | None = None,
    ) -> Decoded:
        """Decode `data` (complete lines only) found at byte `base_offset` of `stream`.

        `segments` (start in `data`, stream, offset in that stream), sorted by start, attribute the
        lines of `data` joined from several streams (quarantine records name the right one).
        """
        segs = segments or [(0, stream, base_offset)]
        out = Decoded()
        starts, ends = split_lines(data)
        if not len(starts):
            return out
        keep = ends > starts
        if not keep.all():
            starts, ends = starts[keep], ends[keep]
        table = get_table(expect_table) if expect_table else None
        slow: list[int]
        if self.fast and table is not None and table_hint is None and len(starts) >= 8:
            slow = self._fast(data, starts, ends, table, out)
        else:
            slow = list(range(len(starts)))
        if slow:
            self._slow(data, starts, ends, slow, segs, source, table_hint, out)
        return out

    # -- the normaliser path ----------------------------------------------------------------------

    def _slow(
        self,
        data: bytes,
        starts: np.ndarray,
        ends: np.ndarray,
        idx: list[int],
        segs: list[tuple[int, str, int]],
        source: str,
        table_hint: str | None,
        out: Decoded,
    ) -> None:
        rows: dict[str, list[dict[str, Any]]] = {}
        seg_starts = [s[0] for s in segs]
        for i in idx:
            start = int(starts[i])
            line = data[start : int(ends[i])]
            if not line.strip():
                continue
            try:
                rec = normalise_line(line, table_hint)
            except NormaliseError as exc:
                seg_start, stream, offset = segs[bisect.bisect_right(seg_starts, start) - 1]
                out.quarantine.append(
                    QuarantineRecord(source, stream, offset + start - seg_start, str(exc), line, table_hint)
                )
                continue
            rows.setdefault(rec.table, []).append(rec.row)
        for name, items in rows.items():
            out.add(name, pa.Table.from_pylist(items, schema=archive_schema(name)))

    # -- the DuckDB path --------------------------------------------------------------------------

    def _fast(
        self, data: bytes, starts: np.ndarray, ends: np.ndarray, table: Table, out: Decoded
    ) -> list[int]:
        n = len(starts)
        offsets = np.empty(n + 1, np.int64)
        offsets[:-1] = starts
        offsets[-1] = ends[-1]
        # Values run from one line's start to the next line's start (the CR/LF between them is JSON whitespace).
        arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
        try:
            arr.validate(full=True)
        except pa.ArrowInvalid:
            # Not UTF-8 somewhere: those lines become `null` here (never accepted) and go to the normaliser.
            pieces = []
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                raw = data[s:e]
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    raw = b"null"
                pieces.append(raw)
            arr = pa.array(pieces, pa.large_binary()).cast(pa.large_string())
        # Lines whose raw text shows anything the typed transform might read differently from the
        # normaliser (see `screen_regex`) never reach DuckDB: the normaliser takes them.
        odd = self._screen_lines(arr, self._screen(table))
        lines = pa.table({"line": arr, "idx": pa.array(np.arange(n, dtype=np.int64))})
        if pc.any(odd).as_py():
            lines = lines.filter(pc.invert(odd))
        # several record batches let DuckDB scan the lines on all its threads
        lines = pa.Table.from_batches(lines.to_batches(max_chunksize=8192), schema=lines.schema)
        self._con.register("hv_lines", lines)
        sql = self._view(table)
        try:
            try:
                res = self._con.sql(sql).to_arrow_table()
            except duckdb.Error:
                # Some line is not JSON: find them (they go to the normaliser) and convert the rest.
                valid = (
                    self._con.sql("SELECT json_valid(line) AS v FROM hv_lines").to_arrow_table().column("v")
                )
                lines = lines.filter(pc.fill_null(valid, False))
                self._con.unregister("hv_lines")
                self._con.register("hv_lines", lines)
                try:
                    res = self._con.sql(sql).to_arrow_table()
                except duckdb.Error:
                    return list(range(n))
        finally:
            self._con.unregister("hv_lines")
        extra, dup = _key_flags(res.column("__k"), [c.name for c in table.columns])
        ok = pc.fill_null(res.column("__ok"), False).to_numpy(zero_copy_only=False) & ~dup
        res = res.drop_columns(["__k"]).append_column("__extra", pa.array(extra, pa.bool_()))
        good = res.filter(pa.array(ok, pa.bool_()))
        taken = set(good.column("__idx").to_pylist())
        slow = [i for i in range(n) if i not in taken]
        if good.num_rows:
            good, bad_dyn = self._finish(table, good, data, starts, ends)
            if bad_dyn:
                slow = sorted(set(slow) | bad_dyn)
            out.add(table.name, good)
            out.fast_rows += good.num_rows
        return slow

    def _finish(
        self, table: Table, res: pa.Table, data: bytes, starts: np.ndarray, ends: np.ndarray
    ) -> tuple[pa.Table, set[int]]:
        """Dynamic columns and `_Extra` through the normaliser's own code; the archive schema applied."""
        schema = archive_schema(table.name)
        idx = res.column("__idx").to_pylist()
        bad: set[int] = set()
        cols: dict[str, Any] = {}
        dyn = COERCERS["dynamic"]
        for f in schema:
            col = res.column(f.name)
            column = table.column(f.name)
            if f.name == EXTRA_COLUMN:
                cols[f.name] = self._extra(
                    table, res.column("__extra").to_pylist(), idx, data, starts, ends, bad
                )
            elif column is not None and column.type == "dynamic":
                values = col.to_pylist()
                conv: list[str | None] = []
                for i, raw in enumerate(values):
                    if raw is None:
                        conv.append(None)
                        continue
                    try:
                        conv.append(dyn(orjson.loads(raw)))
                    except (orjson.JSONDecodeError, NormaliseError):
                        bad.add(idx[i])
                        conv.append(None)
                cols[f.name] = pa.array(conv, pa.string())
            elif col.type != f.type:
                cols[f.name] = col.cast(f.type)
            else:
                cols[f.name] = col
        tbl = pa.table(cols, schema=schema)
        if bad:
            mask = pa.array([i not in bad for i in idx], pa.bool_())
            tbl = tbl.filter(mask)
        return tbl, bad

    @staticmethod
    def _extra(
        table: Table,
        flags: list[bool | None],
        idx: list[int],
        data: bytes,
        starts: np.ndarray,
        ends: np.ndarray,
        bad: set[int],
    ) -> pa.Array:
        """`_Extra` exactly as the normaliser builds it, for the (few) rows with properties the schema lacks."""
        out: list[str | None] = []
        for flag, i in zip(flags, idx, strict=True):
            if not flag:
                out.append(None)
                continue
            try:
                props = orjson.loads(data[int(starts[i]) : int(ends[i])])["properties"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                bad.add(
                    i
                )  # e.g. NaN in an unknown property: DuckDB reads it, the normaliser refuses the line
                out.append(None)
                continue
            extra = {k: v for k, v in props.items() if k not in table.by_name}
            out.append(orjson.dumps(extra).decode() if extra else None)
        return pa.array(out, pa.string())

    def _screen_lines(self, arr: pa.Array, pattern: str) -> pa.Array:
        """The screen over the lines, in two halves on two threads (pyarrow releases the GIL)."""
        n = len(arr)
        if n < 4_000:
            return pc.match_substring_regex(arr, pattern)
        half = n // 2
        parts = list(
            self._pool.map(lambda sl: pc.match_substring_regex(sl, pattern), [arr[:half], arr[half:]])
        )
        return pa.concat_arrays(parts)

    def _screen(self, table: Table) -> str:
        found = self._screens.get(table.name)
        if found is None:
            found = self._screens[table.name] = screen_regex(table)
        return found

    def _view(self, table: Table) -> str:
        """The query over `hv_lines` for `table`: a temp view made once (later batches skip parsing the SQL)."""
        found = self._views.get(table.name)
        if found is None:
            name = f"hv_decode_{len(self._views)}"
            self._con.execute(f"CREATE TEMP VIEW {name} AS {self._sql.get(table.name) or self._build(table)}")
            found = self._views[table.name] = f"SELECT * FROM {name}"
        return found

    def _build(self, table: Table) -> str:
        """One typed `json_transform` per line, then the few checks the screen cannot make."""
        props = {c.name: _TRANSFORM_TYPES[c.type] for c in table.columns}
        struct = {
            "time": "VARCHAR",
            "tenantId": "VARCHAR",
            "category": "VARCHAR",
            "_TimeReceivedBySvc": "VARCHAR",
            "properties": props,
        }
        cols = [(f"r{i}", c) for i, c in enumerate(table.columns)]
        # L2: named values; regex groups for the time columns (parsed once)
        l2 = ["idx", "k", "e.category AS e_cat", "e.tenantId AS e_tenant"]
        l2 += ["e.time AS e_time", "e._TimeReceivedBySvc AS e_recv"]
        l2 += [f"e.properties.{_ident(c.name)} AS {r}" for r, c in cols]
        times = [r for r, c in cols if c.type == "datetime"] + ["e_time", "e_recv"]
        l3 = ["*"]
        l4 = ["*"] + [f"{_time_sql(r)} AS v_{r}" for r in times]
        out: list[str] = []
        checks: list[str] = []
        for r, c in cols:
            if c.type in ("string", "guid"):
                out.append(f"coalesce({r}, '') AS {_ident(c.name)}")
            elif c.type == "datetime":
                out.append(f"v_{r} AS {_ident(c.name)}")
                checks.append(f"({r} IS NULL OR {r} = '' OR v_{r} IS NOT NULL)")
            elif c.type == "int":
                out.append(f"{r}::INTEGER AS {_ident(c.name)}")
                checks.append(f"({r} IS NULL OR {r} BETWEEN -2147483648 AND 2147483647)")
            elif c.type == "dynamic":
                out.append(f"{r}::VARCHAR AS {_ident(c.name)}")
            else:
                out.append(f"{r} AS {_ident(c.name)}")
        for r in ("e_time", "e_recv"):
            checks.append(f"({r} IS NULL OR {r} = '' OR v_{r} IS NOT NULL)")
        checks += [
            f"e_cat = {_lit(CATEGORY_PREFIX + table.name)}",
            "k IS NOT NULL",
            f"v_r{[c.name for c in table.columns].index(table.time_column)} IS NOT NULL",
        ]
        out += [
            f"v_e_time AS {_ident(EXPORT_TIME_COLUMN)}",
            f"v_e_recv AS {_ident(RECEIVED_COLUMN)}",
            f"coalesce(e_tenant, '') AS {_ident(TENANT_COLUMN)}",
            f"CAST(NULL AS VARCHAR) AS {_ident(EXTRA_COLUMN)}",
        ]
        ok = " AND ".join(f"coalesce({c}, false)" for c in checks)
        l1 = (
            f"SELECT idx, json_transform(line, {_lit(json.dumps(struct))}) AS e, "
            f"json_keys(line, '$.properties') AS k FROM hv_lines"
        )
        sql = f"SELECT {', '.join(l2)} FROM ({l1})"
        sql = f"SELECT {', '.join(l3)} FROM ({sql})"
        sql = f"SELECT {', '.join(l4)} FROM ({sql})"
        # the property keys come out as a list: uniqueness and unknown keys are checked in Arrow (`_key_flags`)
        sql = f"SELECT idx AS __idx, {', '.join(out)}, k AS __k, ({ok}) AS __ok FROM ({sql})"
        self._sql[table.name] = sql
        return sql


def _key_flags(keys: pa.ChunkedArray, known: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `keys` (list of property keys): has a key the schema lacks; has a key twice (NULL lists: neither)."""
    arr = keys.combine_chunks() if keys.num_chunks != 1 else keys.chunk(0)
    n = len(arr)
    extra = np.zeros(n, np.bool_)
    dup = np.zeros(n, np.bool_)
    flat = arr.flatten()
    if not len(flat):
        return extra, dup
    parents = pc.list_parent_indices(arr).to_numpy().astype(np.int64)
    pos = pc.index_in(flat, value_set=pa.array(known, flat.type))
    ids = pos.to_numpy(zero_copy_only=False)  # float with NaN where the key is unknown
    unknown = pos.is_null().to_numpy(zero_copy_only=False)
    words = len(known)
    if unknown.any():
        extra[parents[unknown]] = True
        enc = flat.filter(pa.array(unknown, pa.bool_())).dictionary_encode()
        ids = np.where(unknown, 0, np.nan_to_num(ids)).astype(np.int64)
        ids[unknown] = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64) + words
        words += len(enc.dictionary)
    else:
        ids = ids.astype(np.int64)
    codes = parents * words + ids
    if n * words <= 1 << 24:
        dup[np.flatnonzero(np.bincount(codes, minlength=n * words) > 1) // words] = True
    else:
        codes.sort()
        same = codes[1:] == codes[:-1]
        dup[codes[1:][same] // words] = True
    return extra, dup


def _time_sql(r: str) -> str:
    """Text `r` to TIMESTAMP exactly as `parse_datetime` (UTC, microseconds, 7th digit truncated), else NULL.

    Defender's own shape (`YYYY-MM-DDTHH:MM:SS.fffffff` with or without `Z`, all digits, hour < 24,
    year > 0) is cut to microseconds and cast; other shapes go through the strict ISO pattern.
    """
    # one RE2 full match (cheaper than the translate/LIKE/substr checks it replaced)
    own = f"regexp_full_match({r}, {_lit(_OWN_TS_RE)})"
    groups = f"regexp_extract({r}, {_lit(_TS_RE)}, ['dt', 'h', 'frac'])"
    other = f"try_cast(({groups}).dt || left(({groups}).frac, 7) AS TIMESTAMP)"
    # year 0 is no date for Python (DuckDB would read it as 1 BC)
    return f"CASE WHEN left({r}, 4) = '0000' THEN NULL WHEN {own} THEN try_cast(left({r}, 26) AS TIMESTAMP) ELSE {other} END"


#: KQL type -> what DuckDB's json_transform reads (exact for the plain shapes the screen lets through)
_TRANSFORM_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "guid": "VARCHAR",
    "long": "BIGINT",
    "timespan": "BIGINT",
    "int": "BIGINT",
    "real": "DOUBLE",
    "decimal": "DOUBLE",
    "bool": "BOOLEAN",
    "datetime": "VARCHAR",
    "dynamic": "JSON",
}

# Anything orjson refuses but DuckDB's reader accepts: trailing commas, NaN/Infinity, overflowing exponents.
_LENIENT = (
    r",\s*[\]}]|[:,\[]\s*[-+]?(?i:nan|inf(?:inity)?)\s*[,}\]]"
    r"|[:,\[]\s*-?[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]{3}"
)


def _alt(names: list[str]) -> str:
    return "(?:" + "|".join(re.escape(n) for n in names) + ")"


def screen_regex(table: Table) -> str:
    """RE2 pattern matching every line the typed transform might read differently from the normaliser.

    A line matches when a key of a typed column (or of the envelope) is followed by a value of
    another shape than the plain one: not a string for string/datetime columns, not a plain
    integer of at most 18 digits for long/int, not true/false for bool, not a plain decimal for
    real; or when the line holds a literal only a lenient JSON reader accepts. False positives
    only send a line to the (exact, slower) normaliser.
    """
    by_kind: dict[str, list[str]] = {}
    for c in table.columns:
        by_kind.setdefault(c.type, []).append(c.name)
    texts = by_kind.get("string", []) + by_kind.get("guid", []) + by_kind.get("datetime", [])
    texts += ["time", "tenantId", "category", "_TimeReceivedBySvc"]
    ints = by_kind.get("long", []) + by_kind.get("timespan", []) + by_kind.get("int", [])
    bools = by_kind.get("bool", [])
    reals = by_kind.get("real", []) + by_kind.get("decimal", [])
    parts = [_LENIENT, f'"{_alt(texts)}"\\s*:\\s*[^"\\sn]']
    if ints:
        parts.append(f'"{_alt(ints)}"\\s*:\\s*(?:[^-0-9n\\s]|-?[0-9]+[.eE]|-?[0-9]{{19}})')
    if bools:
        parts.append(f'"{_alt(bools)}"\\s*:\\s*[^tfn\\s]')
    if reals:
        parts.append(f'"{_alt(reals)}"\\s*:\\s*(?:[^-0-9n\\s]|-?[0-9.]+[eE]|-?[0-9]{{19}})')
    return "|".join(parts)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def iter_records_as_lines(records: list[Any]) -> Iterator[bytes]:
    """Event Hub `records` entries as export lines (the same decoder then applies)."""
    for rec in records:
        yield orjson.dumps(rec)


__all__ = ["Decoded", "Decoder", "complete_length", "iter_records_as_lines", "split_lines"]
