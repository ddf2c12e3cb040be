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
from huntvault.index.fields import DOC_FIELD, FILE_FIELD, KEY_FIELD, KEY_HASH_FIELD, IndexLayout, all_fields
from huntvault.index.sql import KEY_COLUMN, key_expression, key_hash_sql, literal, quote, value_sql
from huntvault.schema import EXTRA_COLUMN

BATCH_ROWS = 65_536
PART_COLUMN = "__hv_part"  # the stable id of each row's archive part
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
        self.dates = {f.source: True for f in all_fields(layout.table) if f.source and f.storage == "date"}
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
        their analyzed twins, and every retrievable column, once, into the stored `_doc` object (datetimes
        as epoch microseconds, `_Extra` embedded as JSON) from which documents are rebuilt.
        """
        table = self.layout.table
        pieces: list[tuple[str, str]] = [
            (KEY_FIELD, KEY_COLUMN),
            (KEY_HASH_FIELD, key_hash_sql(table, present)),
            (FILE_FIELD, PART_COLUMN),
        ]
        stored = self._stored(present)
        docs: list[str] = []
        if stored:  # a bytes field (base64 in the JSON): stored without any tokenizer pass
            docs.append(
                f"',\"{DOC_FIELD}\":\"' || to_base64(encode(CAST(to_json({stored}) AS VARCHAR))) || '\"'"
            )
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

    def _stored(self, present: set[str]) -> str:
        """The struct of the retrievable columns (keyed as `IndexLayout.stored_columns` says), or ''."""
        items: list[str] = []
        for key, column in self.layout.stored_columns().items():
            if column not in present:
                continue
            col = quote(column)
            if column == EXTRA_COLUMN:
                value = f"CASE WHEN {col} IN ('', '{{}}') THEN NULL WHEN json_valid({col}) THEN CAST({col} AS JSON) END"
            elif self.dates.get(column):
                value = f"epoch_us({col})"
            else:
                value = col
            items.append(f"{literal(key)}: {value}")
        return "{" + ", ".join(items) + "}" if items else ""

    def documents(self, rows: pa.Table) -> Iterator[list[str]]:
        """Batches of tantivy JSON documents for archive rows carrying their part id in `__hv_part`."""
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
