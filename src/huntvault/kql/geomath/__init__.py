"""Kusto's geospatial functions in pure Python, behind one UDF (kql_geo) registered on DuckDB and Spark."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

from huntvault.kql.geomath import cells, constructive, measures, wkt

__all__ = ["GEO_FUNCTIONS", "UDF_NAME", "kql_geo"]

#: the UDF's SQL name: kql_geo(function, args_json) -> text (a JSON document for dynamic results)
UDF_NAME = "kql_geo"


def _merge(
    *tables: dict[str, Callable[[list[object]], object]],
) -> dict[str, Callable[[list[object]], object]]:
    out: dict[str, Callable[[list[object]], object]] = {}
    for table in tables:
        for name, fn in table.items():
            if name in out:
                raise ValueError(f"the geo function {name!r} is defined twice")
            out[name] = fn
    return out


GEO_FUNCTIONS = _merge(cells.FUNCTIONS, measures.FUNCTIONS, constructive.FUNCTIONS, wkt.FUNCTIONS)


def _clean(v: object) -> object:
    """Non-finite numbers become null (JSON has none)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


def kql_geo(name: str | None, args: str | None) -> str | None:
    """Run one geo function over its JSON-encoded arguments; the result as text (null stays null).

    Strings come back as they are, numbers and booleans as JSON text, dynamic values as JSON.
    Any bad input gives null (Kusto's answer for invalid coordinates and shapes), never an error.
    """
    if name is None or args is None:
        return None
    fn = GEO_FUNCTIONS.get(name)
    if fn is None:
        return None
    try:
        values = json.loads(args)
        if not isinstance(values, list):
            return None
        out = fn(values)
    except (ValueError, TypeError, ArithmeticError, IndexError, KeyError, RecursionError):
        return None
    if out is None:
        return None
    if isinstance(out, str):
        return out
    if isinstance(out, float) and not math.isfinite(out):
        return None
    return json.dumps(_clean(out), separators=(",", ":"))
