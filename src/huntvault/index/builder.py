"""Parquet part -> tantivy documents, built column-wise in DuckDB and fed to tantivy one JSON line per row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import duckdb.func
import duckdb.sqltypes
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from huntvault.index.fields import (
    BLOB_ACCOUNT_URL,
    EMPTY_FIELD,
    EXTRA_FIELD,
    FILE_FIELD,
    KEY_FIELD,
    FieldSpec,
    IndexLayout,
    pretokenize,
)
from huntvault.schema import CATEGORY_PREFIX, EXPORT_TIME_COLUMN, EXTRA_COLUMN, TENANT_COLUMN, Table

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
BATCH_ROWS = 65_536
#: DuckDB function: a string column -> its standard-analyzer tokens joined by spaces
ANALYZE_UDF = "hv_analyze"
TOKEN_CACHE_MAX = 50_000  # distinct values remembered across DuckDB vectors (cleared when full)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def key_expression(table: Table, present: set[str]) -> str:
    """SQL for the document key: .NET UrlTokenEncode (base64url, padding count appended) of a stable id.

    Tables with a dedupe key: the key columns joined by ';' (datetimes in ISO form) — the same row
    gets the same key however often it is re-indexed, compacted or re-exported. Other tables: the
    SHA-256 of the row's JSON, prefixed `sha256:` (identical rows collapse, as they are identical).
    """
    if table.dedupe_key and all(c in present for c in table.dedupe_key):
        parts = []
        for col in table.dedupe_key:
            column = table.column(col)
            if column is not None and column.type == "datetime":
                parts.append(f"coalesce(strftime({_q(col)}, '{ISO_FORMAT}'), '')")
            else:
                parts.append(f"coalesce(CAST({_q(col)} AS VARCHAR), '')")
        raw = "concat_ws(';', " + ", ".join(parts) + ")"
    else:
        cols = [
            c
            for c in [*(c.name for c in table.columns), TENANT_COLUMN, "_ExportTime", EXTRA_COLUMN]
            if c in present
        ]
        struct = "{" + ", ".join(f"{_lit(c)}: {_q(c)}" for c in cols) + "}"
        raw = f"'sha256:' || sha256(CAST(to_json({struct}) AS VARCHAR))"
    b64 = f"to_base64(encode({raw}))"
    return (
        f"(replace(replace(rtrim({b64}, '='), '+', '-'), '/', '_') "
        f"|| CAST(length({b64}) - length(rtrim({b64}, '=')) AS VARCHAR))"
    )


def _blob_path(table: Table) -> str:
    prefix = _lit(f"{BLOB_ACCOUNT_URL}/{table.container}/tenantId=")
    return (
        f"{prefix} || coalesce({_q(TENANT_COLUMN)}, '') "
        f"|| strftime({_q(EXPORT_TIME_COLUMN)}, '/y=%Y/m=%m/d=%d/h=%H/m=00/PT1H.json')"
    )


#: Fields computed from the table rather than read from a column: path -> index value expression.
COMPUTED: dict[str, Callable[[Table], str]] = {
    "category": lambda t: _lit(CATEGORY_PREFIX + t.name),
    "operationName": lambda t: "'Publish'",
    "metadata_storage_name": lambda t: "'PT1H.json'",
    "metadata_storage_content_type": lambda t: "'application/json'",
    "metadata_storage_path": _blob_path,
    "metadata_storage_last_modified": lambda t: f"epoch_us({_q(EXPORT_TIME_COLUMN)})",
    "metadata_storage_size": lambda t: "NULL",  # the archive does not keep the blob
    "metadata_storage_content_md5": lambda t: "NULL",
}


def _value_sql(spec: FieldSpec, table: Table) -> str:
    """The index value expression of one field (datetimes as epoch microseconds)."""
    computed = COMPUTED.get(spec.path)
    if computed is not None:
        return computed(table)
    col = _q(spec.source)
    return f"epoch_us({col})" if spec.storage == "date" else col


class DocumentBuilder:
    """Turns one Parquet part of `layout.table` into tantivy JSON documents (DuckDB does the per-row work)."""

    def __init__(self, layout: IndexLayout) -> None:
        self.layout = layout
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone='UTC'")
        self._tokens: dict[str, str] = {}
        self.con.create_function(
            ANALYZE_UDF,
            self._analyze,
            [duckdb.sqltypes.VARCHAR],
            duckdb.sqltypes.VARCHAR,
            type=duckdb.func.ARROW,
        )

    def _analyze(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Vectorised: analyze each distinct value of a DuckDB vector once, then spread the results."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
        if len(self._tokens) > TOKEN_CACHE_MAX:
            self._tokens.clear()
        joined = pa.array(pretokenize(encoded.dictionary.to_pylist(), self._tokens), pa.string())
        return pc.take(joined, encoded.indices)

    def close(self) -> None:
        self.con.remove_function(ANALYZE_UDF)  # drops the connection -> self reference cycle
        self.con.close()

    def sql(self, parquets: list[Path], root: Path, present: set[str]) -> str:
        """One query over several parts; `_file` is each row's part path relative to `root`.

        No export-shape copy is built: the raw twins are stored and the document is rebuilt from them
        (`huntvault.index.documents`); `_empty` remembers which strings were '' and `_extra` keeps `_Extra`.
        """
        table = self.layout.table
        prefix_len = len(str(root).rstrip("/")) + 2
        index_parts: list[tuple[str, str]] = [
            (KEY_FIELD, "__key"),
            (FILE_FIELD, f"substr(__hv_file, {prefix_len})"),
        ]
        empty: list[str] = []
        for spec in self.layout.fields.values():
            if spec.path == KEY_FIELD:
                continue
            missing = bool(spec.source) and spec.source not in present
            idx_value = "NULL" if missing else _value_sql(spec, table)
            if spec.storage == "str":
                if spec.source and spec.source in present and spec.path not in COMPUTED:
                    empty.append(f"CASE WHEN {_q(spec.source)} = '' THEN {_lit(spec.path)} END")
                idx_value = f"nullif({idx_value}, '')"  # '' is indexed as absent; `eq ''` means "not present"
            index_parts.append((spec.value_field, idx_value))
            if spec.searchable:  # analyzed here, once per distinct value; the writer splits on spaces
                index_parts.append((spec.text_field, f"nullif({ANALYZE_UDF}({idx_value}), '')"))
        if empty:
            index_parts.append((EMPTY_FIELD, "nullif(concat_ws(chr(10), " + ", ".join(empty) + "), '')"))
        if EXTRA_COLUMN in present:
            extra = _q(EXTRA_COLUMN)
            index_parts.append((EXTRA_FIELD, f"CASE WHEN {extra} IN ('', '{{}}') THEN NULL ELSE {extra} END"))
        # the tantivy document as JSON text; concat() skips NULL pieces, so absent values leave no key
        # (tantivy wants absent fields, not nulls)
        pieces = [f"',\"{name}\":' || CAST(to_json({expr}) AS VARCHAR)" for name, expr in index_parts]
        doc = "'{' || substr(concat(" + ", ".join(pieces) + "), 2) || '}'"
        files = "[" + ", ".join(_lit(str(p)) for p in parquets) + "]"
        return (
            f"SELECT {doc} AS doc FROM (SELECT *, {key_expression(table, present)} AS __key "
            f"FROM read_parquet({files}, filename = '__hv_file', union_by_name = true))"
        )

    def documents(self, parquets: list[Path], root: Path) -> Iterator[list[str]]:
        """Batches of tantivy JSON documents for some Parquet parts under `root` (one DuckDB query)."""
        present: set[str] = set()
        for path in parquets:
            present |= set(pq.read_schema(path).names)
        reader = self.con.sql(self.sql(parquets, root, present)).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            yield batch.column(0).to_pylist()


def part_rows(path: Path) -> int:
    return int(pq.read_metadata(path).num_rows)
