"""Dynamic arrays and property bags in Python: rotate/shift/split/iff/sort, bag paths, zip, jaccard, treepath."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any


def _arr(value: Any) -> list[Any] | None:
    return value if isinstance(value, list) else None


def _truthy(value: Any) -> bool | None:
    """An array_iff condition element: bools, non-zero numbers; anything else is no answer."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return None


def array_reverse(a: Any) -> Any:
    lst = _arr(a)
    return None if lst is None else lst[::-1]


def array_rotate_left(a: Any, n: int) -> Any:
    lst = _arr(a)
    if lst is None or not lst:
        return lst
    k = int(n) % len(lst)
    return lst[k:] + lst[:k]


def array_rotate_right(a: Any, n: int) -> Any:
    return array_rotate_left(a, -int(n))


#: array_shift_left/right called without a default_value
_NO_FILL = object()


def array_shift_left(a: Any, n: int, fill: Any = _NO_FILL) -> Any:
    """Without a default_value the vacated places are "" in an array of strings, else null (the page's rule)."""
    lst = _arr(a)
    if lst is None:
        return None
    if fill is _NO_FILL:
        fill = "" if lst and all(isinstance(v, str) for v in lst) else None
    k = int(n)
    size = len(lst)
    if k >= 0:
        k = min(k, size)
        return lst[k:] + [fill] * k
    k = min(-k, size)
    return [fill] * k + lst[: size - k]


def array_shift_right(a: Any, n: int, fill: Any = _NO_FILL) -> Any:
    return array_shift_left(a, -int(n), fill)


def array_split(a: Any, indexes: Any) -> Any:
    lst = _arr(a)
    if lst is None:
        return None
    points = indexes if isinstance(indexes, list) else [indexes]
    size = len(lst)
    cuts: list[int] = []
    for p in points:
        i = int(p)
        if i < 0:
            i += size
        cuts.append(min(max(i, 0), size))
    out: list[list[Any]] = []
    start = 0
    for cut in cuts:
        out.append(lst[start:cut] if cut >= start else [])
        start = max(start, cut)
    out.append(lst[start:])
    return out


def array_sum(a: Any) -> Any:
    lst = _arr(a)
    if lst is None:
        return None
    total = 0.0
    for v in lst:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None
        total += v
    return total


def array_iff(cond: Any, if_true: Any, if_false: Any) -> Any:
    conds = _arr(cond)
    if conds is None:
        return None

    def pick(src: Any, i: int) -> Any:
        if isinstance(src, list):
            return src[i] if i < len(src) else None
        return src

    out: list[Any] = []
    for i, c in enumerate(conds):
        t = _truthy(c)
        out.append(None if t is None else pick(if_true if t else if_false, i))
    return out


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def array_index_of(a: Any, lookup: Any, start: int = 0, length: int = -1, occurrence: int = 1) -> Any:
    lst = _arr(a)
    if lst is None:
        return None
    size = len(lst)
    s = int(start)
    if s < 0:
        s = max(size + s, 0)
    if s >= size and size:
        return -1
    n = int(length)
    stop = size if n < 0 else min(size, s + n)
    wanted = max(int(occurrence), 1)
    seen = 0
    for i in range(s, stop):
        if _eq(lst[i], lookup):
            seen += 1
            if seen == wanted:
                return i
    return -1


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, int | float):
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    return (3, json.dumps(v, sort_keys=True))


def _sort(desc: bool, args: tuple[Any, ...]) -> Any:
    nulls_last = True
    arrays = list(args)
    if arrays and isinstance(arrays[-1], bool):
        nulls_last = arrays.pop()
    lists = [_arr(x) for x in arrays]
    if not lists or lists[0] is None:
        return None
    first = lists[0]
    present = [i for i, v in enumerate(first) if v is not None]
    missing = [i for i, v in enumerate(first) if v is None]
    present.sort(key=lambda i: _sort_key(first[i]), reverse=desc)
    order = present + missing if nulls_last else missing + present
    out: list[Any] = []
    for lst in lists:
        if lst is None or len(lst) != len(first):
            out.append(None)
        else:
            out.append([lst[i] for i in order])
    return out[0] if len(out) == 1 else out


def array_sort_asc(*args: Any) -> Any:
    return _sort(False, args)


def array_sort_desc(*args: Any) -> Any:
    return _sort(True, args)


def array_slice(a: Any, start: int, end: int) -> Any:
    lst = _arr(a)
    if lst is None:
        return None
    size = len(lst)
    s, e = int(start), int(end)
    if s < 0:
        s += size
    if e < 0:
        e += size
    s = max(s, 0)
    e = min(e, size - 1)
    return lst[s : e + 1] if s <= e else []


def _path(key: Any) -> list[str] | None:
    """A bag key or a JSONPath of property names (`$.a.b`, `$['a']`)."""
    if not isinstance(key, str):
        return None
    if not key.startswith("$"):
        return [key]
    parts: list[str] = []
    i = 1
    while i < len(key):
        if key[i] == ".":
            j = i + 1
            while j < len(key) and key[j] not in ".[":
                j += 1
            parts.append(key[i + 1 : j])
            i = j
        elif key.startswith("['", i) or key.startswith('["', i):
            quote = key[i + 1]
            j = key.index(quote + "]", i + 2)
            parts.append(key[i + 2 : j])
            i = j + 2
        else:
            return None
    return parts or None


def bag_has_key(bag: Any, key: Any) -> Any:
    if not isinstance(bag, dict):
        return None
    path = _path(key)
    if path is None:
        return False
    node: Any = bag
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def bag_remove_keys(bag: Any, keys: Any) -> Any:
    if not isinstance(bag, dict):
        return None
    out = json.loads(json.dumps(bag))
    for key in keys if isinstance(keys, list) else [keys]:
        path = _path(key)
        if not path:
            continue
        node: Any = out
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out


def bag_set_key(bag: Any, key: Any, value: Any) -> Any:
    if not isinstance(bag, dict):
        return None
    path = _path(key)
    if not path:
        return None
    out = json.loads(json.dumps(bag))
    node: dict[str, Any] = out
    for part in path[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[path[-1]] = value
    return out


def bag_zip(keys: Any, values: Any) -> Any:
    ks = _arr(keys)
    if ks is None:
        return None
    vs = _arr(values) or []
    out: dict[str, Any] = {}
    for i, k in enumerate(ks):
        if isinstance(k, str):
            out[k] = vs[i] if i < len(vs) else None
    return out


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def _json_key(value: Any) -> str:
    """An element's identity for the set functions: its JSON text (1 and 1.0 and "1" differ, as in DuckDB's JSON)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _set_op(kind: str) -> Any:
    """set_union / set_intersect / set_difference / array_concat over decoded arrays (the Spark plan; DuckDB's
    list SQL gives the same): a non-array counts as empty, but a non-array first argument of intersect and
    difference is null; every result but concat's keeps each element once, first seen first."""

    def op(*arrays: Any) -> Any:
        lists = [_arr(a) for a in arrays]
        first = lists[0]
        rest = [lst or [] for lst in lists[1:]]
        if kind in ("concat", "union"):
            out = [x for lst in [first or [], *rest] for x in lst]
        elif first is None:
            return None
        else:
            keys = [{_json_key(x) for x in lst} for lst in rest]
            want = kind == "intersect"
            out = [x for x in first if all((_json_key(x) in k) == want for k in keys)]
        if kind == "concat":
            return out
        seen: set[str] = set()
        kept: list[Any] = []
        for x in out:
            key = _json_key(x)
            if key not in seen:
                seen.add(key)
                kept.append(x)
        return kept

    return op


def jaccard_index(a: Any, b: Any) -> Any:
    la, lb = _arr(a), _arr(b)
    if la is None or lb is None:
        return None
    sa, sb = {_canon(v) for v in la}, {_canon(v) for v in lb}
    union = sa | sb
    if not union:
        return math.nan
    return len(sa & sb) / len(union)


def treepath(value: Any) -> Any:
    """The paths of a dynamic value's nodes: `['key']` for properties, `[0]` for any array element."""
    if not isinstance(value, dict | list):
        return []
    out: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                p = f"{path}['{k}']"
                out.append(p)
                walk(v, p)
        elif isinstance(node, list) and node:
            p = f"{path}[0]"
            out.append(p)
            for item in node:
                walk(item, p)

    walk(value, "")
    return list(dict.fromkeys(out))


def repeat(value: Any, count: int) -> Any:
    n = int(count)
    return None if n < 0 else [value] * n


def dynamic_to_json(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


IMPLS: dict[str, Any] = {
    "array_reverse": array_reverse,
    "array_rotate_left": array_rotate_left,
    "array_rotate_right": array_rotate_right,
    "array_shift_left": array_shift_left,
    "array_shift_right": array_shift_right,
    "array_split": array_split,
    "array_sum": array_sum,
    "array_iff": array_iff,
    "array_index_of": array_index_of,
    "array_sort_asc": array_sort_asc,
    "array_sort_desc": array_sort_desc,
    "array_slice": array_slice,
    "bag_has_key": bag_has_key,
    "bag_remove_keys": bag_remove_keys,
    "bag_set_key": bag_set_key,
    "bag_zip": bag_zip,
    "jaccard_index": jaccard_index,
    "set_union": _set_op("union"),
    "set_intersect": _set_op("intersect"),
    "set_difference": _set_op("difference"),
    "array_concat": _set_op("concat"),
    "treepath": treepath,
    "repeat": repeat,
    "dynamic_to_json": dynamic_to_json,
}


#: Kusto's cap on range()'s elements
RANGE_CAP = 1_048_576


def kql_range(start: Any, stop: Any, step: Any = None) -> Any:
    """range(start, stop[, step]): inclusive of stop, numbers, datetimes or timespans, at most RANGE_CAP items."""
    if start is None or stop is None:
        return None
    if step is None:
        step = timedelta(hours=1) if isinstance(start, datetime | timedelta) else 1
    if not step:
        return None
    out: list[Any] = []
    value = start
    forward = step > 0 if not isinstance(step, timedelta) else step > timedelta(0)
    while (value <= stop if forward else value >= stop) and len(out) < RANGE_CAP:
        out.append(value)
        value = value + step
    return out


IMPLS["range"] = kql_range


def bag_drop_empty(bag: Any) -> Any:
    """pack_all(true): the bag without its null and empty-string properties."""
    if not isinstance(bag, dict):
        return bag
    return {k: v for k, v in bag.items() if v is not None and v != ""}


IMPLS["bag_drop_empty"] = bag_drop_empty
