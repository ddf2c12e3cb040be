"""Archive rows (Arrow, as `read_part` gives them) -> tantivy JSON documents, built column-wise (DuckDB, Arrow)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import duckdb.func
import duckdb.sqltypes
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from huntvault.index.analyzers import get_analyzer, pretokenize
from huntvault.index.fields import DOC_FIELD, FILE_FIELD, KEY_FIELD, KEY_HASH_FIELD, IndexLayout
from huntvault.index.rowcodec import encode_rows, stored_plan
from huntvault.index.sql import KEY_COLUMN, key_expression, key_hash_sql, value_sql

BATCH_ROWS = (
    8_192  # documents per Arrow batch: small enough that its buffers are reused, not page-faulted anew
)
PART_COLUMN = "__hv_part"  # the stable id of each row's archive part
STORED_COLUMN = "__hv_stored"  # each row's stored value (index/rowcodec.py)
TOKEN_CACHE_MAX = 50_000  # distinct values remembered across DuckDB vectors (cleared when full)
_ROWS = "__hv_rows"
_OPEN, _CLOSE, _QUOTE = pa.scalar("{"), pa.scalar("}"), pa.scalar('"')
_DOC_OPEN = pa.scalar(f'"{DOC_FIELD}":"')  # bytes are base64 text in tantivy's JSON


class DocumentBuilder:
    """Turns archive rows of `layout.table` into tantivy JSON documents: DuckDB computes every field of
    every row column-wise (vectorised SQL over the Arrow data, no Python per row); each searchable column is
    analyzed once per distinct value by a vectorised function."""

    def __init__(self, layout: IndexLayout, threads: int = 1) -> None:
        """`threads`: DuckDB's (0: one per core). One by default: the builder runs beside the main thread
        and tantivy's writer threads, and a second DuckDB thread cost about 6 us CPU/doc of coordination
        for little wall time on two cores."""
        self.layout = layout
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone='UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._udfs: dict[str, str] = {}
        self.plan = stored_plan(layout)
        for i, name in enumerate(sorted({f.analyzer for f in layout.searchable})):
            udf = f"hv_analyze_{i}"
            self.con.create_function(
                udf,
                _vectorised(name),
                [duckdb.sqltypes.VARCHAR],
                duckdb.sqltypes.VARCHAR,
                type=duckdb.func.ARROW,
                null_handling=duckdb.func.SPECIAL,  # it returns NULL for a value without tokens
            )
            self._udfs[name] = udf

    def close(self) -> None:
        for udf in self._udfs.values():
            self.con.remove_function(udf)
        self.con.close()

    def pieces(self, present: set[str]) -> list[tuple[str, str]]:
        """(tantivy field, SQL of its JSON value) for each field a document may carry, over rows `present`.

        Pivot values go to their raw fields ('' as absent: `eq ''` means "no value"), searchable ones to
        their analyzed twins; the row's retrievable values, encoded column-wise by `rowcodec.encode_rows`
        (column `__hv_stored`), go to the stored `_doc` bytes from which documents are rebuilt.
        """
        table = self.layout.table
        out: list[tuple[str, str]] = [
            (KEY_FIELD, _json(KEY_COLUMN)),
            (KEY_HASH_FIELD, _json(key_hash_sql(table, present))),
            (FILE_FIELD, _json(PART_COLUMN)),
        ]
        for spec in self.layout.fields.values():
            if spec.key or not (spec.pivot or spec.searchable):
                continue
            value = value_sql(spec, table, present)
            if spec.storage == "str":
                value = f"nullif({value}, '')"
            if spec.pivot:
                out.append((spec.value_field, _json(value)))
            if spec.searchable:  # analyzed here, once per distinct value; the writer only splits it
                out.append((spec.text_field, f"{self._udfs[spec.analyzer]}({value})"))
        return out

    def sql(self, present: set[str]) -> str:
        """The query giving, per row of `__hv_rows`, each piece's JSON value (NULL: absent) and the stored
        value (already base64 text): `documents` joins them into one JSON object per row with Arrow."""
        cols = [expr for _, expr in self.pieces(present)]
        if STORED_COLUMN in present:
            cols.append(STORED_COLUMN)
        return (
            f"SELECT {', '.join(cols)} FROM (SELECT *, {key_expression(self.layout.table, present)} "
            f"AS {KEY_COLUMN} FROM {_ROWS})"
        )

    def documents(self, rows: pa.Table) -> Iterator[list[str]]:
        """Batches of tantivy JSON documents for archive rows carrying their part id in `__hv_part`."""
        if self.plan:
            rows = rows.append_column(STORED_COLUMN, encode_rows(rows, self.plan))
        present = set(rows.schema.names)
        prefixes = [pa.scalar(f'"{name}":') for name, _ in self.pieces(present)]
        self.con.register(_ROWS, rows)
        reader = None
        try:
            reader = self.con.sql(self.sql(present)).to_arrow_reader(BATCH_ROWS)
            for batch in reader:
                yield _join(batch, prefixes, STORED_COLUMN in present).to_pylist()
        finally:
            if reader is not None:
                reader.close()
            try:
                self.con.unregister(_ROWS)
            except duckdb.Error:
                pass  # an abandoned result still holds it; the next register replaces it


def _json(expr: str) -> str:
    return f"CAST(to_json({expr}) AS VARCHAR)"


def _join(batch: pa.RecordBatch, prefixes: list[pa.Scalar], stored: bool) -> pa.Array:
    """One JSON object per row from its pieces' JSON values, column-wise: a NULL piece leaves no key
    (tantivy wants absent fields, not nulls); the stored value is the last column."""
    cols: list[Any] = [
        pc.binary_join_element_wise(prefix, batch.column(i), "") for i, prefix in enumerate(prefixes)
    ]
    if stored:
        cols.append(pc.binary_join_element_wise(_DOC_OPEN, batch.column(len(prefixes)), _QUOTE, ""))
    body = pc.binary_join_element_wise(*cols, ",", null_handling="skip")
    return pc.binary_join_element_wise(_OPEN, body, _CLOSE, "")


def _vectorised(analyzer: str) -> Callable[[pa.Array | pa.ChunkedArray], pa.Array]:
    """A DuckDB Arrow function: analyze each distinct value of a vector once, then spread the results.

    Each result is already the JSON string of the pre-analyzed text (NULL when no token is left), so the
    query does not run to_json over every row of every searchable column."""
    get_analyzer(analyzer)
    cache: dict[str, str] = {}

    def run(values: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
        if len(cache) > TOKEN_CACHE_MAX:
            cache.clear()
        texts = pretokenize(encoded.dictionary.to_pylist(), cache, analyzer)
        quoted = [orjson.dumps(t).decode() if t else None for t in texts]
        return pc.take(pa.array(quoted, pa.string()), encoded.indices)

    return run


def with_part(data: pa.Table, part: str) -> pa.Table:
    """`data` with the part's stable id as a (dictionary-encoded) column, for `_file`."""
    ids = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(data.num_rows, np.int32)), pa.array([part], pa.string())
    )
    return data.append_column(PART_COLUMN, ids)
