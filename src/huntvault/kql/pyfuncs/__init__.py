"""Scalar functions impractical in SQL, in Python: one UDF (`kql_fn`) registered on DuckDB and on Spark.

Each family module holds a table `IMPLS` of name -> Python function over typed values (str, int,
float, bool, datetime, timedelta, JSON values for dynamic, None for null). The lowering
(`lowering/pycall.py`) passes the arguments as one JSON array plus their KQL types, and reads the
result back as text of the declared KQL type. Constant arguments are folded at compile time with
the same function, so a folded value and a computed one never differ.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from huntvault.kql.pyfuncs import aggs, arrays, dates, mathfns, mining, nets, paths, text
from huntvault.kql.pyfuncs.dates import iso_seconds

#: the UDF's SQL name: kql_fn(function, types, args_json) -> text
UDF_NAME = "kql_fn"

Impl = Callable[..., Any]


def _merge(*tables: dict[str, Impl]) -> dict[str, Impl]:
    out: dict[str, Impl] = {}
    for table in tables:
        for name, impl in table.items():
            if name in out:
                raise ValueError(f"the Python function {name!r} is defined twice")
            out[name] = impl
    return out


IMPLS: dict[str, Impl] = _merge(
    text.IMPLS, nets.IMPLS, arrays.IMPLS, mathfns.IMPLS, dates.IMPLS, aggs.IMPLS, mining.IMPLS, paths.IMPLS
)

#: the errors an implementation raises on bad input: the value is null, as Kusto's functions answer
BAD_INPUT = (
    ValueError,  # also UnicodeError, binascii.Error, json's decode errors
    TypeError,
    LookupError,
    ArithmeticError,
    AttributeError,
    SyntaxError,  # xml's ParseError
    re.error,
    zlib.error,
    OSError,  # gzip's BadGzipFile
    EOFError,
    RecursionError,
)


def parse_datetime(text_value: str) -> datetime | None:
    """A datetime as the engine writes it in JSON (ISO 8601, Z or an offset)."""
    s = text_value.strip().replace(" ", "T", 1)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        got = datetime.fromisoformat(s)
    except ValueError:
        return None
    return got.replace(tzinfo=UTC) if got.tzinfo is None else got.astimezone(UTC)


def decode(value: Any, kql_type: str) -> Any:
    """A JSON argument as the Python value of its KQL type."""
    if value is None:
        return None
    if kql_type == "datetime":
        return parse_datetime(value) if isinstance(value, str) else None
    if kql_type == "timespan":
        return timedelta(microseconds=int(value))
    if kql_type in ("long", "int"):
        return int(value)
    if kql_type in ("real", "decimal"):
        return float(value)
    return value


def clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    return value


def format_datetime(value: datetime) -> str:
    """ISO 8601 as the engine writes datetimes in text (`...:00Z`, or 7 fractional digits)."""
    micro = value.microsecond
    return iso_seconds(value) + (f".{micro:06d}0Z" if micro else "Z")


def format_timespan(value: timedelta) -> str:
    us = value // timedelta(microseconds=1)
    sign = "-" if us < 0 else ""
    us = abs(us)
    days, rest = divmod(us, 86_400_000_000)
    secs, frac = divmod(rest, 1_000_000)
    hh, rem = divmod(secs, 3600)
    mm, ss = divmod(rem, 60)
    out = f"{sign}{f'{days}.' if days else ''}{hh:02d}:{mm:02d}:{ss:02d}"
    return out + (f".{frac:06d}0" if frac else "")


def encode(value: Any, kql_type: str) -> str | None:
    """A result as the text the lowering casts to its KQL type (JSON for dynamic)."""
    if value is None:
        return None
    if kql_type == "dynamic":
        return json.dumps(clean(value), separators=(",", ":"), ensure_ascii=False)
    if kql_type == "datetime":
        return format_datetime(value) if isinstance(value, datetime) else None
    if kql_type == "timespan":
        return str(value // timedelta(microseconds=1)) if isinstance(value, timedelta) else str(int(value))
    if kql_type == "bool":
        return "true" if value else "false"
    if kql_type in ("long", "int"):
        return str(int(value))
    if kql_type in ("real", "decimal"):
        v = float(value)
        if v != v:
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    return str(value)


def apply(name: str, types: list[str], values: list[Any]) -> Any:
    """Run the implementation on decoded values; bad input gives null."""
    try:
        return IMPLS[name](*[decode(v, t) for v, t in zip(values, types, strict=False)])
    except BAD_INPUT:
        return None


def kql_fn(name: str | None, types: str | None, args: str | None) -> str | None:
    """The UDF body: `types` is `argtypes->result` (comma-separated), `args` a JSON array."""
    if name is None or types is None or args is None:
        return None
    arg_types, _, result = types.partition("->")
    values = json.loads(args)
    got = apply(name, arg_types.split(",") if arg_types else [], values)
    try:
        return encode(got, result)
    except BAD_INPUT:
        return None
