"""Archive rows (Arrow, as `read_part` gives them) -> tantivy JSON documents, built column-wise by DuckDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import duckdb.func
import duckdb.sqltypes
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from huntvault.index.analyzers import get_analyzer, pretokenize
from huntvault.index.fields import DOC_FIELD, FILE_FIELD, KEY_FIELD, KEY_HASH_FIELD, IndexLayout
from huntvault.index.rowcodec import encode_rows, stored_plan
from huntvault.index.sql import KEY_COLUMN, key_expression, key_hash_sql, value_sql

BATCH_ROWS = 65_536
PART_COLUMN = "__hv_part"  # the stable id of each row's archive part
STORED_COLUMN = "__hv_stored"  # each row's stored value (index/rowcodec.py)
TOKEN_CACHE_MAX = 50_000  # distinct values remembered across DuckDB vectors (cleared when full)
_ROWS = "__hv_rows"


class DocumentBuilder:
    """Turns archive rows of `layout.table` into tantivy JSON documents: DuckDB computes every field of
    every row column-wise (vectorised SQL over the Arrow data, no Python per row); each searchable column is
    analyzed once per distinct value by a vectorised function."""

    def __init__(self, layout: IndexLayout, threads: int = 0) -> None:
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
            )
            self._udfs[name] = udf

    def close(self) -> None:
        for udf in self._udfs.values():
            self.con.remove_function(udf)
        self.con.close()

    def sql(self, present: set[str]) -> str:
        """The query building one JSON document per row of `__hv_rows` (columns `present`).

        Pivot values go to their raw fields ('' as absent: `eq ''` means "no value"), searchable ones to
        their analyzed twins; the row's retrievable values, encoded column-wise by `rowcodec.encode_rows`
        (column `__hv_stored`), go to the stored `_doc` bytes from which documents are rebuilt.
        """
        table = self.layout.table
        pieces: list[tuple[str, str]] = [
            (KEY_FIELD, KEY_COLUMN),
            (KEY_HASH_FIELD, key_hash_sql(table, present)),
            (FILE_FIELD, PART_COLUMN),
        ]
        docs: list[str] = []
        if STORED_COLUMN in present:  # a bytes field (base64 in the JSON), encoded from Arrow beforehand
            docs.append(f"',\"{DOC_FIELD}\":\"' || {STORED_COLUMN} || '\"'")
        for spec in self.layout.fields.values():
            if spec.key or not (spec.pivot or spec.searchable):
                continue
            value = value_sql(spec, table, present)
            if spec.storage == "str":
                value = f"nullif({value}, '')"
            if spec.pivot:
                pieces.append((spec.value_field, value))
            if spec.searchable:  # analyzed here, once per distinct value; the writer only splits it
                pieces.append((spec.text_field, f"nullif({self._udfs[spec.analyzer]}({value}), '')"))
        # concat() skips NULL pieces, so absent values leave no key (tantivy wants absent fields, not nulls)
        parts = docs + [f"',\"{name}\":' || CAST(to_json({expr}) AS VARCHAR)" for name, expr in pieces]
        doc = "'{' || substr(concat(" + ", ".join(parts) + "), 2) || '}'"
        return (
            f"SELECT {doc} AS doc FROM (SELECT *, {key_expression(table, present)} AS {KEY_COLUMN} "
            f"FROM {_ROWS})"
        )

    def documents(self, rows: pa.Table) -> Iterator[list[str]]:
        """Batches of tantivy JSON documents for archive rows carrying their part id in `__hv_part`."""
        if self.plan:
            rows = rows.append_column(STORED_COLUMN, encode_rows(rows, self.plan))
        present = set(rows.schema.names)
        self.con.register(_ROWS, rows)
        reader = None
        try:
            reader = self.con.sql(self.sql(present)).to_arrow_reader(BATCH_ROWS)
            for batch in reader:
                yield batch.column(0).to_pylist()
        finally:
            if reader is not None:
                reader.close()
            try:
                self.con.unregister(_ROWS)
            except duckdb.Error:
                pass  # an abandoned result still holds it; the next register replaces it


def _vectorised(analyzer: str) -> Callable[[pa.Array | pa.ChunkedArray], pa.Array]:
    """A DuckDB Arrow function: analyze each distinct value of a vector once, then spread the results."""
    get_analyzer(analyzer)
    cache: dict[str, str] = {}

    def run(values: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
        if len(cache) > TOKEN_CACHE_MAX:
            cache.clear()
        joined = pa.array(pretokenize(encoded.dictionary.to_pylist(), cache, analyzer), pa.string())
        return pc.take(joined, encoded.indices)

    return run


def with_part(data: pa.Table, part: str) -> pa.Table:
    """`data` with the part's stable id as a (dictionary-encoded) column, for `_file`."""
    ids = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(data.num_rows, np.int32)), pa.array([part], pa.string())
    )
    return data.append_column(PART_COLUMN, ids)
