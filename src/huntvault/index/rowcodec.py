"""The stored copy of a row's retrievable values: one compact value per document, encoded column-wise from Arrow."""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from huntvault.index.fields import EXTRA_KEY, IndexLayout
from huntvault.schema import ENVELOPE_COLUMNS, EXTRA_COLUMN, Table

SEP = "\x1f"  # between values
NULL = "\x1e"  # a missing value ('' is a value)
ESC = "\x1b"  # escapes the three control characters inside a value
MAX_BATCH_ROWS = 65_536  # rows per encoded chunk (keeps base64 offsets far below 2 GiB)
_ESCAPES = {ESC: ESC + "0", SEP: ESC + "1", NULL: ESC + "2"}
_UNESCAPE = re.compile("\x1b([012])")
_UNESCAPES = {"0": ESC, "1": SEP, "2": NULL}
_PADS = pa.array(["", SEP, SEP * 2], pa.string())


def _json(text: str) -> Any:
    """`_Extra`: the unknown properties' object (None when empty or not JSON), as the catalog reads it."""
    if text in ("", "{}"):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _bool(text: str) -> Any:
    return {"true": True, "false": False}.get(text, text)


#: How a stored value is read back, by the kind of its column (Arrow printed it as text).
DECODERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _bool,
    "date": int,  # epoch microseconds
    "json": _json,
}

#: KQL column type -> decoder kind.
KQL_KIND: dict[str, str] = {
    "string": "str",
    "guid": "str",
    "dynamic": "str",  # JSON text, returned as the export sent it
    "int": "int",
    "long": "int",
    "timespan": "int",
    "real": "float",
    "decimal": "float",
    "bool": "bool",
    "datetime": "date",
}


@dataclass(frozen=True)
class StoredColumn:
    """One slot of the stored value: its key in the decoded object, the archive column, its decoder kind."""

    key: str
    column: str
    kind: str


def stored_plan(layout: IndexLayout) -> list[StoredColumn]:
    """The slots of `layout`'s stored value, in encoding order (`IndexLayout.stored_columns`)."""
    return [
        StoredColumn(key, column, _kind(layout.table, key, column))
        for key, column in layout.stored_columns().items()
    ]


def _kind(table: Table, key: str, column: str) -> str:
    if key == EXTRA_KEY or column == EXTRA_COLUMN:
        return "json"
    known = table.column(column)
    kql = known.type if known is not None else dict(ENVELOPE_COLUMNS).get(column, "string")
    return KQL_KIND.get(kql, "str")


def _as_text(values: pa.Array) -> pa.Array:
    """One column as text: datetimes as epoch microseconds, the rest as Arrow prints them."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.cast(kind.value_type)
        kind = values.type
    if pa.types.is_timestamp(kind):
        micros = pc.cast(values, pa.timestamp("us", kind.tz), safe=False)
        return pc.cast(pc.cast(micros, pa.int64()), pa.string())
    if pa.types.is_string(kind):
        return values
    return pc.cast(values, pa.string())


def _escaped(text: pa.Array) -> pa.Array:
    if not pa.types.is_string(text.type):
        return text
    for raw in (ESC, SEP, NULL):  # ESC first: the escapes it introduces are not escaped again
        text = pc.replace_substring(text, raw, _ESCAPES[raw])
    return text


def _join(texts: list[pa.Array]) -> tuple[pa.Array, np.ndarray[Any, np.dtype[np.int32]]]:
    joined = pc.binary_join_element_wise(*texts, SEP, null_handling="replace", null_replacement=NULL)
    n = len(joined)
    offsets = np.frombuffer(joined.buffers()[1], np.int32)[joined.offset : joined.offset + n + 1]
    return joined, offsets


def _specials(joined: pa.Array, offsets: np.ndarray[Any, np.dtype[np.int32]]) -> int:
    """How many bytes of the joined rows are between ESC and SEP (one vectorised pass)."""
    data = joined.buffers()[2]
    if data is None:
        return 0
    raw = np.frombuffer(data, np.uint8)[int(offsets[0]) : int(offsets[-1])]
    return int(np.count_nonzero((raw - np.uint8(0x1B)) <= 4))  # uint8 wraps: 0x1b..0x1f


def _encode_batch(batch: pa.RecordBatch, columns: list[str]) -> pa.Array:
    n = batch.num_rows
    names = set(batch.schema.names)
    texts = [_as_text(batch.column(c)) if c in names else pa.nulls(n, pa.string()) for c in columns]
    joined, offsets = _join(texts)
    # every separator and NULL marker is ours unless a value holds one: then escape (rare) and join again
    expected = n * (len(columns) - 1) + sum(t.null_count for t in texts)
    if _specials(joined, offsets) != expected:
        joined, offsets = _join([_escaped(t) for t in texts])
    lengths = np.diff(offsets)
    padded = pc.binary_join_element_wise(joined, _PADS.take(pa.array((-lengths) % 3)), "")
    offsets = np.frombuffer(padded.buffers()[1], np.int32)[padded.offset : padded.offset + n + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    data = padded.buffers()[2]
    encoded = binascii.b2a_base64(memoryview(data)[start:end] if data is not None else b"", newline=False)
    b64_offsets = ((offsets - start) // 3 * 4).astype(np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(b64_offsets.tobytes()), pa.py_buffer(encoded))


def encode_rows(rows: pa.Table, plan: list[StoredColumn]) -> pa.ChunkedArray:
    """Each row's stored value (base64 text, as tantivy's JSON takes bytes), column-wise over `rows`.

    A row's retrievable columns are joined, in the plan's fixed order, by a unit separator (NULL marks a
    missing value; the three control characters are escaped inside values, which almost never hold
    them), padded to a multiple of three bytes and base64-encoded — by Arrow kernels over whole columns
    and one base64 pass per batch (rows padded to 3 bytes encode independently, so each row's base64 is
    a slice of the batch's): no Python runs per row and no JSON is built. `row_decoder` reads it back.
    """
    columns = [slot.column for slot in plan]
    chunks = [_encode_batch(batch, columns) for batch in rows.to_batches(max_chunksize=MAX_BATCH_ROWS)]
    return pa.chunked_array(chunks, pa.string())


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: _UNESCAPES[m.group(1)], text) if ESC in text else text


def row_decoder(plan: list[StoredColumn]) -> Callable[[bytes], dict[str, Any]]:
    """A decoder of stored values for `plan` (built once per layout: the hot path of every result page).

    The row's texts are zipped with the keys at C speed; only typed slots run a conversion."""
    keys = [slot.key for slot in plan]
    typed = [(slot.key, DECODERS[slot.kind]) for slot in plan if slot.kind != "str"]

    def decode(raw: bytes) -> dict[str, Any]:
        text = raw.decode("utf-8")
        if ESC in text:  # rare: a value held a control character
            return _decode_escaped(text, plan)
        out = dict(zip(keys, text.split(SEP), strict=False))
        for key, convert in typed:
            value = out.get(key)
            if value is None or value == NULL:
                continue
            try:
                out[key] = convert(value)
            except ValueError:  # a part whose column had another type: the text as stored
                pass
        if NULL in text:
            out = {k: v for k, v in out.items() if v != NULL}
        return out

    return decode


def _decode_escaped(text: str, plan: list[StoredColumn]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for slot, value in zip(plan, text.split(SEP), strict=False):
        if value == NULL:
            continue
        value = _unescape(value)
        try:
            out[slot.key] = DECODERS[slot.kind](value)
        except ValueError:
            out[slot.key] = value
    return out


def decode_row(raw: bytes, plan: list[StoredColumn]) -> dict[str, Any]:
    """The stored value of one document back as {key: value} (missing values left out, as absent)."""
    return row_decoder(plan)(raw)
