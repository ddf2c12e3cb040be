"""Facets: Azure facet expressions (count, sort, values, interval, timeoffset) run as tantivy aggregations."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import tantivy

from huntvault.errors import SearchError
from huntvault.index import FieldSpec, IndexLayout
from huntvault.search.filters import micros
from huntvault.search.odata import tokenize

DEFAULT_COUNT = 10
UNLIMITED = 10_000
MAX_BUCKETS = 10_000
#: distinct values each index segment reports to a terms facet: counts are exact up to this many per segment
EXACT_TERMS = 65_536
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
FIXED_UNITS_US: dict[str, int] = {
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
    "week": 7 * 86_400_000_000,
}
CALENDAR_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}
MONDAY_OFFSET_US = 4 * 86_400_000_000  # 1970-01-01 was a Thursday; weeks start on Monday


@dataclass
class FacetSpec:
    expression: str
    field: FieldSpec
    count: int | None = None
    sort: str | None = None
    values: list[Any] = dc_field(default_factory=list)
    interval: float | str | None = None
    timeoffset_us: int = 0
    archive: bool = False  # the index does not hold the field's values: counted on the archive


def _bad(expression: str, why: str) -> SearchError:
    return SearchError(f"Invalid facet expression '{expression}': {why}.\r\nParameter name: facet")


def parse_facet(expression: str, layout: IndexLayout) -> FacetSpec:
    parts = [p.strip() for p in expression.split(",")]
    path = parts[0]
    if layout.is_complex(path):
        raise _bad(expression, f"'{path}' is a complex field; facet on one of its subfields")
    field = layout.field(path, "facet")
    spec = FacetSpec(expression, field, archive=not layout.require(field, "facetable", "facet"))
    for part in parts[1:]:
        name, sep, value = part.partition(":")
        if not sep:
            raise _bad(expression, f"'{part}' is not of the form name:value")
        handler = OPTIONS.get(name.strip())
        if handler is None:
            raise _bad(
                expression, f"unknown facet parameter '{name}' (count, sort, values, interval, timeoffset)"
            )
        handler(spec, value.strip())
    if (spec.values or spec.interval is not None) and (spec.count is not None or spec.sort is not None):
        raise _bad(expression, "'count' and 'sort' cannot be combined with 'interval' or 'values'")
    if spec.values and spec.interval is not None:
        raise _bad(expression, "'values' and 'interval' are mutually exclusive")
    if (spec.values or spec.interval is not None) and spec.field.storage not in ("int", "float", "date"):
        raise _bad(
            expression, f"'values' and 'interval' need a numeric or date field; '{path}' is {spec.field.edm}"
        )
    if spec.timeoffset_us and not (spec.field.storage == "date" and isinstance(spec.interval, str)):
        raise _bad(expression, "'timeoffset' needs a date interval on an Edm.DateTimeOffset field")
    return spec


def _count(spec: FacetSpec, value: str) -> None:
    if not value.isascii() or not value.isdigit():
        raise _bad(spec.expression, f"count must be a non-negative integer, not '{value[:100]}'")
    if len(value) > 6 or int(value) > MAX_BUCKETS:
        raise _bad(spec.expression, f"count must be at most {MAX_BUCKETS} (0 asks for every value)")
    spec.count = int(value)


def _sort(spec: FacetSpec, value: str) -> None:
    if value not in ("count", "-count", "value", "-value"):
        raise _bad(spec.expression, f"sort must be count, -count, value or -value, not '{value}'")
    spec.sort = value


def _values(spec: FacetSpec, value: str) -> None:
    out: list[Any] = []
    for raw in value.split("|"):
        raw = raw.strip()
        toks = tokenize(raw, "facet")
        if len(toks) != 2 or toks[0].kind not in ("number", "datetime"):
            raise _bad(spec.expression, f"'{raw}' is not a number or DateTimeOffset value")
        v = toks[0].value
        out.append(micros(v) if isinstance(v, datetime) else v)
    if out != sorted(out):
        raise _bad(spec.expression, "values must be in ascending order")
    spec.values = out


def _interval(spec: FacetSpec, value: str) -> None:
    if value in FIXED_UNITS_US or value in CALENDAR_MONTHS:
        spec.interval = value
        return
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _bad(
            spec.expression,
            f"interval must be a positive number or minute|hour|day|week|month|quarter|year, not '{value[:100]}'",
        )
    if number <= 0:
        raise _bad(spec.expression, "interval must be greater than 0")
    if spec.field.storage in ("int", "date") and not number.is_integer():
        raise _bad(spec.expression, f"interval must be a whole number on an {spec.field.edm} field")
    spec.interval = number


def _timeoffset(spec: FacetSpec, value: str) -> None:
    m = _OFFSET.match(value)
    if not m:
        raise _bad(spec.expression, f"timeoffset must look like +hh:mm or -hh:mm, not '{value}'")
    sign = 1 if m.group(1) == "+" else -1
    spec.timeoffset_us = sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60) * 1_000_000


OPTIONS: dict[str, Callable[[FacetSpec, str], None]] = {
    "count": _count,
    "sort": _sort,
    "values": _values,
    "interval": _interval,
    "timeoffset": _timeoffset,
}


def _iso(us: float) -> str:
    t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "") + "Z"


def _out(spec: FacetSpec, value: Any) -> Any:
    if spec.field.storage == "date":
        return _iso(value)
    if spec.field.storage == "int":
        return int(value)
    if spec.field.storage == "bool":
        return bool(value)
    return value


class FacetSource(Protocol):
    """Where facet counts come from: the index (tantivy aggregations) or the archive (SQL)."""

    def stats(self, spec: FieldSpec) -> tuple[int, float | None, float | None]: ...

    def terms(self, spec: FieldSpec, size: int, order: str) -> list[tuple[Any, int]]: ...

    def histogram(self, spec: FieldSpec, interval: float, offset: float) -> list[tuple[float, int]]: ...

    def range_counts(self, spec: FieldSpec, ranges: list[dict[str, Any]]) -> list[int]: ...


class IndexFacets:
    """Facet counts from tantivy's aggregations over a query's matches."""

    def __init__(self, searcher: tantivy.Searcher, query: tantivy.Query) -> None:
        self.searcher = searcher
        self.query = query

    def stats(self, spec: FieldSpec) -> tuple[int, float | None, float | None]:
        stats = self.searcher.aggregate(self.query, {"s": {"stats": {"field": spec.value_field}}})["s"]
        count = int(stats.get("count") or 0)
        if not count or stats.get("min") is None or stats.get("max") is None:
            return count, None, None
        return count, float(stats["min"]), float(stats["max"])

    def terms(self, spec: FieldSpec, size: int, order: str) -> list[tuple[Any, int]]:
        by = {
            "count": {"_count": "desc"},
            "-count": {"_count": "asc"},
            "value": {"_key": "asc"},
            "-value": {"_key": "desc"},
        }[order]
        # every segment reports all its values (up to EXACT_TERMS), so the merged counts are exact
        terms = {"field": spec.value_field, "size": size, "order": by, "segment_size": max(size, EXACT_TERMS)}
        res = self.searcher.aggregate(self.query, {"f": {"terms": terms}})
        return [(b["key"], int(b["doc_count"])) for b in res["f"]["buckets"]]

    def histogram(self, spec: FieldSpec, interval: float, offset: float) -> list[tuple[float, int]]:
        agg: dict[str, Any] = {"field": spec.value_field, "interval": interval}
        if offset:
            agg["offset"] = offset
        res = self.searcher.aggregate(self.query, {"f": {"histogram": agg}})
        return [(float(b["key"]), int(b["doc_count"])) for b in res["f"]["buckets"] if b["doc_count"]]

    def range_counts(self, spec: FieldSpec, ranges: list[dict[str, Any]]) -> list[int]:
        """Doc counts per range, matched on the bounds (tantivy adds buckets for any uncovered gap)."""
        res = self.searcher.aggregate(
            self.query, {"f": {"range": {"field": spec.value_field, "ranges": ranges}}}
        )
        by_bounds = {(b.get("from"), b.get("to")): b["doc_count"] for b in res["f"]["buckets"]}

        def bound(v: Any) -> float | None:
            return None if v is None else float(v)

        return [int(by_bounds.get((bound(r.get("from")), bound(r.get("to"))), 0)) for r in ranges]


def run_facet(spec: FacetSpec, source: FacetSource) -> list[dict[str, Any]]:
    if spec.values:
        return _ranges(spec, source, spec.values)
    if isinstance(spec.interval, str) and spec.interval in CALENDAR_MONTHS:
        return _calendar(spec, source)
    if spec.interval is not None:
        interval = FIXED_UNITS_US[spec.interval] if isinstance(spec.interval, str) else spec.interval
        _check_buckets(spec, source, interval)
        offset = 0.0
        if spec.field.storage == "date":
            offset = float(
                ((MONDAY_OFFSET_US if spec.interval == "week" else 0) - spec.timeoffset_us) % interval
            )
        return [
            {"value": _out(spec, key), "count": n}
            for key, n in source.histogram(spec.field, interval, offset)
        ]
    count = DEFAULT_COUNT if spec.count is None else (spec.count or UNLIMITED)
    order = spec.sort or "count"
    buckets = [{"value": _out(spec, key), "count": n} for key, n in source.terms(spec.field, count, order)]
    if order in ("count", "-count"):
        desc = order == "count"
        buckets.sort(key=lambda b: (-b["count"] if desc else b["count"], str(b["value"])))
    return buckets


def _check_buckets(spec: FacetSpec, source: FacetSource, interval: float) -> None:
    """400 when `interval` would cut the matching values' range into more than MAX_BUCKETS buckets."""
    count, low, high = source.stats(spec.field)
    if not count or low is None or high is None:
        return
    if (high - low) / interval >= MAX_BUCKETS:
        raise _bad(spec.expression, f"the interval makes more than {MAX_BUCKETS} buckets; use a larger one")


def _ranges(spec: FacetSpec, source: FacetSource, bounds: list[Any]) -> list[dict[str, Any]]:
    ranges: list[dict[str, Any]] = [{"to": bounds[0]}]
    ranges += [{"from": a, "to": b} for a, b in itertools.pairwise(bounds)]
    ranges.append({"from": bounds[-1]})
    counts = source.range_counts(spec.field, ranges)
    out = []
    for r, n in zip(ranges, counts, strict=True):
        bucket: dict[str, Any] = {}
        if "from" in r:
            bucket["from"] = _out(spec, r["from"])
        if "to" in r:
            bucket["to"] = _out(spec, r["to"])
        bucket["count"] = n
        out.append(bucket)
    return out


def _calendar(spec: FacetSpec, source: FacetSource) -> list[dict[str, Any]]:
    count, low, high = source.stats(spec.field)
    if not count or low is None or high is None:
        return []
    step = CALENDAR_MONTHS[str(spec.interval)]
    offset = timedelta(microseconds=spec.timeoffset_us)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    lo = epoch + timedelta(microseconds=int(low)) + offset
    hi = epoch + timedelta(microseconds=int(high)) + offset
    month0 = (lo.month - 1) // step * step if step < 12 else 0
    cur = datetime(lo.year, month0 + 1, 1, tzinfo=UTC)
    starts: list[datetime] = []
    while cur <= hi and len(starts) < MAX_BUCKETS:
        starts.append(cur)
        m = cur.month - 1 + step
        cur = datetime(cur.year + m // 12, m % 12 + 1, 1, tzinfo=UTC)
    edges = [micros(s - offset) for s in [*starts, cur]]
    ranges = [{"from": a, "to": b} for a, b in itertools.pairwise(edges)]
    counts = source.range_counts(spec.field, ranges)
    return [{"value": _iso(r["from"]), "count": n} for r, n in zip(ranges, counts, strict=True) if n]
