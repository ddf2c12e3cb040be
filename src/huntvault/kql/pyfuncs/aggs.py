"""The Python halves of aggregates and their scalar companions: weighted percentiles, t-digests (kept as
the exact sorted values), hll sets, buildschema."""

from __future__ import annotations

import json
import math
from typing import Any


def _nums(values: Any) -> list[float]:
    if not isinstance(values, list):
        return []
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _nearest_rank(ordered: list[Any], p: float) -> Any:
    if not ordered:
        return None
    rank = max(math.ceil(p / 100.0 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def percentilesw(pairs: Any, percents: Any) -> Any:
    """Weighted nearest-rank percentiles of [[value, weight], ...]."""
    items: list[tuple[Any, int]] = []
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] is not None and pair[1] is not None:
            items.append((pair[0], int(pair[1])))
    items.sort(key=lambda kv: kv[0])
    total = sum(w for _, w in items if w > 0)
    out: list[Any] = []
    for p in percents if isinstance(percents, list) else [percents]:
        if total == 0:
            out.append(None)
            continue
        rank = max(math.ceil(float(p) / 100.0 * total), 1)
        seen = 0
        found = None
        for v, w in items:
            if w <= 0:
                continue
            seen += w
            if seen >= rank:
                found = v
                break
        out.append(found if found is not None else items[-1][0])
    return out


def tdigest_merge(digests: Any) -> Any:
    values: list[Any] = []
    for d in digests if isinstance(digests, list) else []:
        if isinstance(d, list):
            values += d
    return sorted(values, key=_order)


def merge_tdigest(*digests: Any) -> Any:
    return tdigest_merge(list(digests))


def _order(v: Any) -> tuple[int, Any]:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return (0, v)
    return (1, str(v))


def tdigest(values: Any) -> Any:
    kept = [v for v in values if v is not None] if isinstance(values, list) else []
    return sorted(kept, key=_order) if kept else None


def percentile_tdigest(digest: Any, percent: Any, kind: Any = None) -> Any:
    ordered = digest if isinstance(digest, list) else []
    return _nearest_rank(ordered, float(percent))


def percentile_array_tdigest(digest: Any, kind: Any, *percents: Any) -> Any:
    """The percentiles in order; a numeric `kind` (int, long, real, decimal) converts each, others keep them."""
    ordered = digest if isinstance(digest, list) else []
    ps: list[Any] = []
    for p in percents:
        ps += p if isinstance(p, list) else [p]
    values = [_nearest_rank(ordered, float(p)) for p in ps]
    if kind in ("int", "long"):
        return [None if v is None else int(float(v)) for v in values]
    if kind in ("real", "decimal"):
        return [None if v is None else float(v) for v in values]
    return values


def rank_tdigest(digest: Any, value: Any) -> Any:
    nums = _nums(digest)
    return sum(1 for v in nums if v <= float(value))


def percentrank_tdigest(digest: Any, value: Any) -> Any:
    nums = _nums(digest)
    if not nums:
        return None
    return 100.0 * sum(1 for v in nums if v <= float(value)) / len(nums)


def hll_merge(*sets: Any) -> Any:
    out: list[Any] = []
    seen: set[str] = set()
    for s in sets:
        for item in s if isinstance(s, list) else []:
            for v in item if isinstance(item, list) else [item]:
                key = json.dumps(v, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    out.append(v)
    return out


def dcount_hll(hll: Any) -> Any:
    return len(hll) if isinstance(hll, list) else None


def _type_of(v: Any) -> Any:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "long"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        inner: Any = None
        for item in v:
            inner = _union(inner, _type_of(item))
        return {"`indexer`": inner} if inner is not None else "dynamic"
    if isinstance(v, dict):
        return {k: _type_of(x) for k, x in v.items()}
    return None


def _union(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None or a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _union(out.get(k), v)
        return out
    options = (a if isinstance(a, list) else [a]) + (b if isinstance(b, list) else [b])
    merged: list[Any] = []
    for o in options:
        if o not in merged:
            merged.append(o)
    return merged


def buildschema(values: Any) -> Any:
    schema: Any = None
    for v in values if isinstance(values, list) else []:
        if v is not None:
            schema = _union(schema, _type_of(v))
    return schema


IMPLS: dict[str, Any] = {
    "percentilesw": percentilesw,
    "tdigest": tdigest,
    "tdigest_merge": tdigest_merge,
    "merge_tdigest": merge_tdigest,
    "percentile_tdigest": percentile_tdigest,
    "percentile_array_tdigest": percentile_array_tdigest,
    "rank_tdigest": rank_tdigest,
    "percentrank_tdigest": percentrank_tdigest,
    "hll_merge": hll_merge,
    "dcount_hll": dcount_hll,
    "buildschema": buildschema,
}
