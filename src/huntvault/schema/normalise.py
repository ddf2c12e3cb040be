"""Record normalisation: one Streaming API export line (or Event Hub record) into a typed archive row."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from huntvault.errors import NormaliseError
from huntvault.schema.model import (
    EXPORT_TIME_COLUMN,
    EXTRA_COLUMN,
    RECEIVED_COLUMN,
    TENANT_COLUMN,
    Column,
    Table,
    get_table,
    table_from_category,
)

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)

_DT = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?\s*$"
)


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with 0-9 fractional digits (Defender sends 1-7), with or without `Z`; naive means UTC.

    Precision is kept to the microsecond (Arrow/DuckDB); a 7th digit (100 ns) is truncated.
    """
    m = _DT.match(text)
    if not m:
        raise NormaliseError(f"unparsable datetime {text[:60]!r}")
    year, month, day, hour, minute, second, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise NormaliseError(f"invalid datetime {text[:60]!r}: {exc}") from None
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value


def _to_string(value: Any) -> str:
    if value is None:
        return ""  # Kusto strings are never null: a missing string is the empty string
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


def _to_int(lo: int, hi: int) -> Callable[[Any], int | None]:
    def coerce(value: Any) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            out = int(value)
        elif isinstance(value, int):
            out = value
        elif isinstance(value, float):
            if not value.is_integer():
                raise NormaliseError(f"expected an integer, got {value!r}")
            out = int(value)
        elif isinstance(value, str):
            text = value.strip()
            try:
                out = int(text)
            except ValueError:
                try:
                    f = float(text)
                except ValueError:
                    raise NormaliseError(f"expected an integer, got {value[:40]!r}") from None
                if not f.is_integer():
                    raise NormaliseError(f"expected an integer, got {value[:40]!r}") from None
                out = int(f)
        else:
            raise NormaliseError(f"expected an integer, got {type(value).__name__}")
        if not lo <= out <= hi:
            raise NormaliseError(f"integer {out} out of range")
        return out

    return coerce


def _to_real(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise NormaliseError(f"expected a real, got {value[:40]!r}") from None
    raise NormaliseError(f"expected a real, got {type(value).__name__}")


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _to_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise NormaliseError(f"expected a bool, got {value!r:.40}")


def _to_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return parse_datetime(value)
    raise NormaliseError(f"expected a datetime string, got {type(value).__name__}")


def _to_dynamic(value: Any) -> str | None:
    """JSON text. JSON-in-a-string is parsed and re-encoded compactly; `""` and null are null."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return orjson.dumps(value).decode()  # a plain string that is not JSON stays a string
        return orjson.dumps(parsed).decode()
    return orjson.dumps(value).decode()


COERCERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "guid": _to_string,
    "int": _to_int(*_INT32),
    "long": _to_int(*_INT64),
    "timespan": _to_int(*_INT64),
    "real": _to_real,
    "decimal": _to_real,
    "bool": _to_bool,
    "datetime": _to_datetime,
    "dynamic": _to_dynamic,
}


def coerce(column: Column, value: Any) -> Any:
    """One wire value into the column's typed value; NormaliseError names the column when it cannot."""
    try:
        return COERCERS[column.type](value)
    except NormaliseError as exc:
        raise NormaliseError(exc.reason, column.name) from None


@dataclass(frozen=True)
class Record:
    """One normalised export record: its table and its typed row (envelope columns included)."""

    table: str
    row: dict[str, Any]
    known_table: bool


def normalise_properties(table: Table, props: Mapping[str, Any]) -> dict[str, Any]:
    """Typed row for a known table: every schema column (missing ones null/""), unknown keys in `_Extra`."""
    row: dict[str, Any] = {}
    for col in table.columns:
        row[col.name] = coerce(col, props.get(col.name))
    extra = {k: v for k, v in props.items() if k not in table.by_name}
    row[EXTRA_COLUMN] = orjson.dumps(extra).decode() if extra else None
    if row.get(table.time_column) is None:
        raw = props.get(table.time_column)
        raise NormaliseError(
            "missing" if raw in (None, "") else f"unparsable ({raw!r:.40})", table.time_column
        )
    return row


def normalise_unknown(props: Mapping[str, Any], fallback_time: datetime | None) -> dict[str, Any]:
    """Row for a table the schema does not know: its Timestamp (or export time) and the raw properties."""
    raw_ts = props.get("Timestamp")
    ts = _to_datetime(raw_ts) if raw_ts not in (None, "") else fallback_time
    if ts is None:
        raise NormaliseError("missing", "Timestamp")
    return {"Timestamp": ts, EXTRA_COLUMN: orjson.dumps(dict(props)).decode()}


def normalise_record(obj: Mapping[str, Any], table_hint: str | None = None) -> Record:
    """An envelope `{time, tenantId, category, properties, ...}` (or a bare row with `table_hint`)."""
    if not isinstance(obj, Mapping):
        raise NormaliseError(f"record is a JSON {type(obj).__name__}, not an object")
    props = obj.get("properties")
    envelope: Mapping[str, Any] = obj
    if props is None and table_hint is not None and "category" not in obj:
        props, envelope = obj, {}
    if not isinstance(props, Mapping):
        raise NormaliseError("no properties object" if props is None else "properties is not an object")
    category = envelope.get("category")
    if category is not None and not isinstance(category, str):
        raise NormaliseError("category is not a string")
    name = table_from_category(category) if category else table_hint
    if not name:
        raise NormaliseError("no category and no table given")
    export_time = _to_datetime(envelope.get("time")) if envelope.get("time") else None
    received = (
        _to_datetime(envelope.get("_TimeReceivedBySvc")) if envelope.get("_TimeReceivedBySvc") else None
    )
    table = get_table(name)
    row = normalise_properties(table, props) if table else normalise_unknown(props, export_time)
    row[EXPORT_TIME_COLUMN] = export_time
    row[RECEIVED_COLUMN] = received
    row[TENANT_COLUMN] = _to_string(envelope.get("tenantId"))
    return Record(table.name if table else name, row, table is not None)


def normalise_line(line: bytes | str, table_hint: str | None = None) -> Record:
    """One JSON line of the export (CR/LF stripped) into a Record; NormaliseError says why not."""
    text = line.rstrip(b"\r\n") if isinstance(line, bytes) else line.rstrip("\r\n")
    if not text.strip():
        raise NormaliseError("empty line")
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise NormaliseError(f"bad JSON: {exc}") from None
    return normalise_record(obj, table_hint)


__all__ = [
    "COERCERS",
    "Record",
    "coerce",
    "normalise_line",
    "normalise_properties",
    "normalise_record",
    "normalise_unknown",
    "parse_datetime",
]
