"""A hunt's result: the Arrow table with KQL types, the chart hint, the SQL, timings; JSON-ready rows."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa

from huntvault.kql.pyfuncs import format_timespan
from huntvault.kql.pyfuncs.dates import iso_seconds

#: a JSON-ready cell: what json.dumps takes (dynamic values come back as parsed JSON)
JsonValue = object


@dataclass
class HuntResult:
    """A query result: the Arrow table, each column's KQL type, the render hint, the SQL and timings."""

    table: pa.Table
    kql_types: dict[str, str]
    chart: dict[str, object] | None = None
    sql: str = ""
    truncated: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    #: fork / facet: every result table by name, in order (the first is this result's table); else empty
    tables: list[tuple[str, HuntResult]] = field(default_factory=list)

    @property
    def columns(self) -> list[tuple[str, str]]:
        return [(n, self.kql_types.get(n, "string")) for n in self.table.column_names]

    def rows(self) -> list[dict[str, JsonValue]]:
        """The rows as JSON-ready dicts: datetimes ISO 8601 with Z, timespans as Kusto text, dynamic parsed."""
        kinds = self.kql_types
        names = self.table.column_names
        return [
            {n: json_value(row[n], kinds.get(n, "string")) for n in names} for row in self.table.to_pylist()
        ]


def json_value(value: object, kind: str) -> JsonValue:
    if value is None:
        return None
    if kind == "dynamic" and isinstance(value, str):
        try:
            parsed: object = json.loads(value)
            return parsed
        except ValueError:
            return value
    if isinstance(value, datetime):
        text = f"{iso_seconds(value)}.{value.microsecond:06d}".rstrip("0").rstrip(".")
        return text + "Z"
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (math.inf, -math.inf):  # JSON has none: Kusto shows ∞ and -∞
        return "∞" if value > 0 else "-∞"
    return value


def finish(table: pa.Table, cols: list[tuple[str, str]]) -> pa.Table:
    """Give the Arrow columns Kusto's names (DuckDB may rename duplicates) and the archive's Arrow types."""
    arrays = []
    fields = []
    for i, (name, kind) in enumerate(cols):
        arr = table.column(i)
        if kind == "timespan":
            arr = arr.cast(pa.int64(), safe=False).cast(pa.duration("us"))
        elif kind == "dynamic" and not pa.types.is_string(arr.type):
            arr = arr.cast(pa.string())
        elif (
            kind == "datetime"
            and pa.types.is_timestamp(arr.type)
            and (arr.type.tz is None or arr.type.unit != "us")
        ):
            arr = arr.cast(pa.timestamp("us", tz="UTC"))
        arrays.append(arr)
        fields.append(pa.field(name, arr.type, metadata={b"kql_type": kind.encode()}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
