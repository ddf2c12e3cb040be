"""The stored value of a row (index/rowcodec.py): what is encoded column-wise decodes back to the row's values."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from huntvault.index import default_layout, rowcodec
from huntvault.index.fields import EXTRA_KEY, source_codes
from huntvault.index.rowcodec import ESC, NULL, SEP, decode_row, encode_rows, stored_plan
from huntvault.schema import EXPORT_TIME_COLUMN, EXTRA_COLUMN, TENANT_COLUMN, get_table

TABLE = "DeviceProcessEvents"
AWKWARD = [
    "",
    "plain",
    f"a{SEP}b",
    f"{NULL}",
    f"{ESC}0{ESC}1{ESC}",
    f"{ESC}{SEP}{NULL}{ESC}{ESC}",
    '\\"quoted" ünïcode ✓ 𝄞',
    "\x1c\x1d between the separators",
    None,
]


def _rows(names: list[str | None] | list[str], extra: list[str | None]) -> pa.Table:
    n = len(names)
    t0 = datetime(2026, 7, 20, 8, 0, 0, 123456, tzinfo=UTC)
    return pa.table(
        {
            "Timestamp": pa.array([t0] * (n - 1) + [None], pa.timestamp("us", tz="UTC")),
            "DeviceName": pa.array(names, pa.string()),
            "FileSize": pa.array([0, -1, 2**62, None] + [7] * (n - 4), pa.int64()),
            "ProcessId": pa.array([1] * n, pa.int64()),
            "ProcessCommandLine": pa.array(names, pa.large_string()),
            "ActionType": pa.array(names, pa.string()).dictionary_encode(),
            EXPORT_TIME_COLUMN: pa.array([t0] * n, pa.timestamp("ns", tz="UTC")),
            TENANT_COLUMN: pa.array(["t"] * n, pa.string()),
            EXTRA_COLUMN: pa.array(extra, pa.string()),
        }
    )


def _decoded(rows: pa.Table) -> list[dict[str, object]]:
    table = get_table(TABLE)
    assert table is not None
    plan = stored_plan(default_layout(table))
    encoded = encode_rows(rows, plan).to_pylist()
    assert len(encoded) == rows.num_rows
    return [decode_row(base64.b64decode(text), plan) for text in encoded]


def test_values_round_trip_whatever_they_hold() -> None:
    table = get_table(TABLE)
    assert table is not None
    codes = {c: str(k) for c, k in source_codes(table).items()}
    extra = ['{"Tenant":"x"}', "", "{}", "not json", None, "[1,2]", '{"a":{"b":null}}', "1", "null"]
    rows = _rows(AWKWARD, extra)
    out = _decoded(rows)
    micros = int(datetime(2026, 7, 20, 8, 0, 0, 123456, tzinfo=UTC).timestamp() * 1_000_000)
    for i, doc in enumerate(out):
        assert doc.get(codes["DeviceName"]) == AWKWARD[i]  # None: absent, '' kept
        assert doc.get(codes["ProcessCommandLine"]) == AWKWARD[i]
        assert doc.get(codes["ActionType"]) == AWKWARD[i]
        assert doc.get(codes["Timestamp"]) == (micros if i < len(AWKWARD) - 1 else None)
        assert doc[codes[EXPORT_TIME_COLUMN]] == micros  # nanoseconds read as microseconds
        assert doc[codes[TENANT_COLUMN]] == "t"
        assert doc.get(codes["AccountName"]) is None  # a column the rows lack
    assert [d.get(codes["FileSize"]) for d in out[:4]] == [0, -1, 2**62, None]
    assert [d.get(EXTRA_KEY) for d in out] == [
        {"Tenant": "x"},
        None,
        None,
        None,
        None,
        [1, 2],
        {"a": {"b": None}},
        1,
        None,
    ]


@pytest.mark.parametrize("value", [0.1, 1e300, -0.0, 1e-7, 1 / 3, 2.0, math.inf, -math.inf])
def test_floats_and_booleans_decode_exactly(value: float) -> None:
    table = get_table("DeviceNetworkEvents")
    assert table is not None
    layout = default_layout(table)
    plan = stored_plan(layout)
    kinds = {s.column: s.kind for s in plan}
    real = next((c for c, k in kinds.items() if k == "float"), None)
    flag = next((c for c, k in kinds.items() if k == "bool"), None)
    columns: dict[str, pa.Array] = {}
    if real:
        columns[real] = pa.array([value], pa.float64())
    if flag:
        columns[flag] = pa.array([True], pa.bool_())
    if not columns:
        pytest.skip("the table has no real or bool column")
    [text] = encode_rows(pa.table(columns), plan).to_pylist()
    doc = decode_row(base64.b64decode(text), plan)
    keys = {s.column: s.key for s in plan}
    if real:
        assert doc[keys[real]] == value and math.copysign(1, doc[keys[real]]) == math.copysign(1, value)
    if flag:
        assert doc[keys[flag]] is True


def test_empty_and_many_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _decoded(_rows(AWKWARD, [None] * len(AWKWARD)).slice(0, 0)) == []
    monkeypatch.setattr(rowcodec, "MAX_BATCH_ROWS", 1000)
    names = [f"host-{i}" for i in range(2_500)]  # more rows than one encoded chunk
    rows = _rows(names, [None] * len(names))
    out = _decoded(rows)
    table = get_table(TABLE)
    assert table is not None
    key = str(source_codes(table)["DeviceName"])
    assert [d[key] for d in out] == names
