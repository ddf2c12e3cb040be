"""Pattern mining in Python: `reduce` (term patterns over strings), `autocluster`, `basket`, `diffpatterns`
and `diffpatterns_text` (patterns of discrete values), over the rows a tabular lowering hands in as JSON.

Every function takes the rows (a JSON list) and the options (a JSON object) and returns the output rows
as lists, in the order the result shows them. A pattern's unrestricted columns are null here; the SQL
that reads the rows back puts the wildcard of the column's type in their place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from itertools import combinations
from typing import Any

Item = tuple[int, str]  # (column index, the value as JSON text)
Pattern = frozenset[Item]

# ------------------------------------------------------------------ reduce


def _terms(text: str, separators: str | None) -> list[tuple[bool, str]]:
    """The text as (is_term, piece) runs: terms are runs of non-separator characters."""
    out: list[tuple[bool, str]] = []

    def is_sep(ch: str) -> bool:
        if separators is None:
            return not (ch.isascii() and ch.isalnum())
        return ch in separators

    for ch in text:
        term = not is_sep(ch)
        if out and out[-1][0] == term:
            out[-1] = (term, out[-1][1] + ch)
        else:
            out.append((term, ch))
    return out


def _reduce_pattern(
    pieces: list[tuple[bool, str]], frequent: set[tuple[int, str]], custom: bool
) -> str | None:
    """The pattern of one value: frequent terms kept, the others `*`; None when no term is kept.

    Default separators stay in the pattern (`* -on- *`); separators given with `characters` stay only
    between two kept terms (a wildcard takes its neighbouring separators: `fooZ1` -> `foo*`)."""
    parts: list[str] = []
    kept = False
    index = 0
    pending = ""
    last_kept = False
    for is_term, piece in pieces:
        if not is_term:
            if custom:
                pending += piece
            else:
                parts.append(piece)
            continue
        keep = (index, piece) in frequent
        if custom and pending and keep and last_kept:
            parts.append(pending)
        pending = ""
        parts.append(piece if keep else "*")
        kept = kept or keep
        last_kept = keep
        index += 1
    return "".join(parts) if kept else None


def _texts(values: Any) -> list[str]:
    """The reduced values: rows of one cell (or plain values), null as the empty string."""
    out: list[str] = []
    for v in _list(values):
        if isinstance(v, list):
            v = v[0] if v else None
        out.append("" if v is None else v if isinstance(v, str) else json.dumps(v))
    return out


def reduce_patterns(values: Any, options: Any) -> dict[str, str]:
    """Each distinct value's pattern ("others" when none of its terms is frequent).

    A term (at its position among the value's terms) is frequent when at least (1 - threshold) of the
    rows have it there: a small threshold keeps fewer terms, so fewer, wider groups (the reference's
    examples: threshold 0.001 folds `MachineLearningX<digit>` into one group, 0.9 keeps the digits)."""
    opts = options if isinstance(options, dict) else {}
    threshold = float(opts.get("threshold", 0.1))
    separators = opts.get("characters")
    custom = isinstance(separators, str)
    texts = _texts(values)
    split = {t: _terms(t, separators if custom else None) for t in set(texts)}
    counts: dict[tuple[int, str], int] = {}
    for t in texts:
        seen = {(i, piece) for i, piece in enumerate(p for is_term, p in split[t] if is_term)}
        for key in seen:
            counts[key] = counts.get(key, 0) + 1
    need = (1.0 - threshold) * len(texts)
    frequent = {key for key, n in counts.items() if n >= need - 1e-9}
    out: dict[str, str] = {}
    for t, pieces in split.items():
        out[t] = _reduce_pattern(pieces, frequent, custom) or "others"
    return out


def reduce_rows(values: Any, options: Any) -> list[list[Any]]:
    """reduce's groups: [Pattern, Count, Representative], largest first, "others" last."""
    texts = _texts(values)
    patterns = reduce_patterns(texts, options)
    groups: dict[str, list[Any]] = {}
    for t in texts:
        pattern = patterns[t]
        if pattern not in groups:
            groups[pattern] = [pattern, 0, "" if pattern == "others" else t]
        groups[pattern][1] += 1
    ordered = sorted(groups.values(), key=lambda g: (g[0] == "others", -g[1]))
    return ordered


def reduce_source(values: Any, options: Any) -> list[list[Any]]:
    """kind=source: [value, Pattern] for every distinct value (the rows join on the value)."""
    return [[v, p] for v, p in reduce_patterns(values, options).items()]


# ------------------------------------------------------------------ discrete patterns: shared


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class _Table:
    """The mined rows: each distinct row's items (column, value) and its total weight (rows with the same
    values are one, so the mining's cost grows with the distinct rows, not all of them)."""

    def __init__(
        self, rows: list[Any], columns: Sequence[int], weight: int | None, count: int | None = None
    ) -> None:
        self.items: list[frozenset[Item]] = []
        self.weights: list[float] = []
        self.counts: list[int] = []  # input rows per distinct row
        self.values: dict[Item, Any] = {}
        at: dict[frozenset[Item], int] = {}
        seen: dict[tuple[Any, ...], frozenset[Item]] = {}
        for row in rows:
            if not isinstance(row, list):
                continue
            w = 1.0
            if weight is not None:
                raw = row[weight] if weight < len(row) else None
                w = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0.0
            n = 1
            if count is not None and count < len(row) and isinstance(row[count], int):
                n = row[count]  # the input rows this (grouped) row stands for
            cells = tuple(
                row[c] if 0 <= c < len(row) and not isinstance(row[c], dict | list) else None for c in columns
            )
            row_items = seen.get(cells)
            if row_items is None:
                row_items = seen[cells] = self._items(cells, columns)
            if row_items in at:
                self.weights[at[row_items]] += w
                self.counts[at[row_items]] += n
            else:
                at[row_items] = len(self.items)
                self.items.append(row_items)
                self.weights.append(w)
                self.counts.append(n)
        self.total = sum(self.weights)

    def _items(self, cells: tuple[Any, ...], columns: Sequence[int]) -> frozenset[Item]:
        items: set[Item] = set()
        for c, v in zip(columns, cells, strict=True):
            if v is None or v == "":  # not a pattern value (nor are arrays and bags)
                continue
            key = (c, json.dumps(v))
            self.values.setdefault(key, v)
            items.add(key)
        return frozenset(items)

    def support(self, pattern: Pattern, rows: Iterable[int] | None = None) -> float:
        idx = range(len(self.items)) if rows is None else rows
        return sum(self.weights[i] for i in idx if pattern <= self.items[i])


def _frequent_itemsets(
    tables: Sequence[_Table], need: Sequence[float], max_dims: int | None
) -> dict[Pattern, list[float]]:
    """Apriori over several tables at once: an itemset is kept while its weight reaches `need` in at
    least one of them; the value is its weight in each."""
    result: dict[Pattern, list[float]] = {}
    single: dict[Item, list[float]] = {}
    for k, table in enumerate(tables):
        for items, w in zip(table.items, table.weights, strict=True):
            for it in items:
                single.setdefault(it, [0.0] * len(tables))[k] += w
    level: dict[Pattern, list[float]] = {
        frozenset([it]): ws
        for it, ws in single.items()
        if any(w >= n - 1e-9 and w > 0 for w, n in zip(ws, need, strict=True))
    }
    size = 1
    while level:
        result.update(level)
        if max_dims is not None and size >= max_dims:
            break
        keys = sorted(level, key=lambda p: sorted(p))
        candidates: set[Pattern] = set()
        for a, b in combinations(keys, 2):
            union = a | b
            if len(union) != size + 1 or len({c for c, _ in union}) != size + 1:
                continue  # one value per column
            if all(union - {it} in level for it in union):
                candidates.add(union)
        nxt: dict[Pattern, list[float]] = {}
        for cand in candidates:
            ws = [t.support(cand) for t in tables]
            if any(w >= n - 1e-9 and w > 0 for w, n in zip(ws, need, strict=True)):
                nxt[cand] = ws
        level = nxt
        size += 1
    return result


def _closed(patterns: dict[Pattern, list[float]]) -> dict[Pattern, list[float]]:
    """Only the patterns no larger pattern matches with the same weights (the others add nothing)."""
    out: dict[Pattern, list[float]] = {}
    for p, ws in patterns.items():
        if any(len(q) > len(p) and p < q and qs == ws for q, qs in patterns.items()):
            continue
        out[p] = ws
    return out


def _row(pattern: Pattern, table: _Table, columns: Sequence[int], width: int) -> list[Any]:
    cells: list[Any] = [None] * width
    for c, key in pattern:
        cells[columns.index(c)] = table.values.get((c, key), json.loads(key))
    return cells


def _percent(part: float, whole: float) -> float:
    """A share in percent, unrounded (the reference's tables show it rounded for reading)."""
    return 100.0 * part / whole if whole else 0.0


def _count(w: float) -> int | float:
    return int(w) if float(w).is_integer() else w


def _opts(options: Any) -> dict[str, Any]:
    return options if isinstance(options, dict) else {}


def _mined_columns(opts: dict[str, Any]) -> list[int]:
    return [int(c) for c in _list(opts.get("columns"))]


def _weight(opts: dict[str, Any]) -> int | None:
    w = opts.get("weight")
    return int(w) if isinstance(w, int) else None


def _counted(opts: dict[str, Any]) -> int | None:
    n = opts.get("count")
    return int(n) if isinstance(n, int) else None


# ------------------------------------------------------------------ basket


def basket(rows: Any, options: Any) -> list[list[Any]]:
    """Apriori: every closed pattern of at most MaxDimensions values whose share of the rows (by weight)
    reaches the threshold. Rows: [SegmentId, Count, Percent, *columns]; most rows first."""
    opts = _opts(options)
    columns = _mined_columns(opts)
    table = _Table(_list(rows), columns, _weight(opts), _counted(opts))
    if table.total <= 0:
        return []
    threshold = float(opts.get("threshold", 0.05))
    found = _closed(_frequent_itemsets([table], [threshold * table.total], int(opts.get("max_dims", 5))))
    ordered = sorted(found.items(), key=lambda kv: (-kv[1][0], len(kv[0]), sorted(kv[0])))
    return [
        [i, _count(ws[0]), _percent(ws[0], table.total), *_row(p, table, columns, len(columns))]
        for i, (p, ws) in enumerate(ordered)
    ]


# ------------------------------------------------------------------ autocluster


def _score(weight: float, total: float, size: int, width: int, size_weight: float) -> float:
    """A weighted geometric mean of the pattern's coverage and its share of fixed columns."""
    if weight <= 0 or size == 0 or total <= 0:
        return 0.0
    return math.exp(size_weight * math.log(weight / total) + (1 - size_weight) * math.log(size / width))


def autocluster(rows: Any, options: Any) -> list[list[Any]]:
    """Seed and expand: the seeds are the NumSeeds most common values; from each, a local search adds a
    value its rows share or drops one, while the score grows. The distinct local optima are taken best
    first, skipping one whose rows are mostly (more than half, by weight) rows of a pattern already
    taken, or that matches a single row or less than 5% of the weight (a row is not a pattern).
    Rows: [SegmentId, Count, Percent, *columns]."""
    opts = _opts(options)
    columns = _mined_columns(opts)
    table = _Table(_list(rows), columns, _weight(opts), _counted(opts))
    width = max(len(columns), 1)
    if table.total <= 0:
        return []
    size_weight = float(opts.get("size_weight", 0.5))
    seeds_wanted = int(opts.get("num_seeds", 25))
    single: dict[Item, float] = {}
    for items, w in zip(table.items, table.weights, strict=True):
        for it in items:
            single[it] = single.get(it, 0.0) + w
    seeds = sorted(single, key=lambda it: (-single[it], it))[:seeds_wanted]
    cache: dict[Pattern, tuple[float, list[int]]] = {}

    def measure(p: Pattern) -> tuple[float, list[int]]:
        if p not in cache:
            members = [i for i, items in enumerate(table.items) if p <= items]
            w = sum(table.weights[i] for i in members)
            cache[p] = (_score(w, table.total, len(p), width, size_weight), members)
        return cache[p]

    optima: set[Pattern] = set()
    for seed in seeds:
        current: Pattern = frozenset([seed])
        while True:
            members = measure(current)[1]
            shared = {it for i in members for it in table.items[i]} - current
            taken = {c for c, _ in current}
            moves = [current | {it} for it in shared if it[0] not in taken]
            moves += [current - {it} for it in current if len(current) > 1]
            best = max(moves, key=lambda p: (measure(p)[0], -len(p), sorted(p)), default=None)
            if best is None or measure(best)[0] <= measure(current)[0] + 1e-12:
                break
            current = best
        optima.add(current)
    chosen: list[Pattern] = []
    covered: set[int] = set()
    for p in sorted(optima, key=lambda p: (-measure(p)[0], sorted(p))):
        members = measure(p)[1]
        mine = sum(table.weights[i] for i in members)
        again = sum(table.weights[i] for i in members if i in covered)
        if sum(table.counts[i] for i in members) < 2 or mine < 0.05 * table.total or again > mine / 2:
            continue
        chosen.append(p)
        covered.update(members)
    out: list[list[Any]] = []
    for i, p in enumerate(chosen):
        w = table.support(p)
        out.append([i, _count(w), _percent(w, table.total), *_row(p, table, columns, len(columns))])
    return out


# ------------------------------------------------------------------ diffpatterns


def diffpatterns(rows: Any, options: Any) -> list[list[Any]]:
    """The patterns whose share of set A and of set B differ by at least the threshold: closed patterns
    frequent (at the threshold) in either set, taken by difference, largest first, skipping a pattern
    that contains or is contained in one already taken. Rows: [SegmentId, CountA, CountB, PercentA,
    PercentB, PercentDiffAB, *columns]."""
    opts = _opts(options)
    columns = _mined_columns(opts)
    split = int(opts.get("split", -1))
    a_value, b_value = opts.get("a"), opts.get("b")
    rows_a: list[Any] = []
    rows_b: list[Any] = []
    for row in _list(rows):
        if not isinstance(row, list) or split >= len(row):
            continue
        key = _as_text(row[split])
        if key == a_value:
            rows_a.append(row)
        elif key == b_value:
            rows_b.append(row)
    weight = _weight(opts)
    ta, tb = _Table(rows_a, columns, weight, _counted(opts)), _Table(rows_b, columns, weight, _counted(opts))
    if ta.total <= 0 or tb.total <= 0:
        return []
    threshold = float(opts.get("threshold", 0.05))
    max_dims = opts.get("max_dims")
    found = _closed(
        _frequent_itemsets(
            [ta, tb],
            [threshold * ta.total, threshold * tb.total],
            int(max_dims) if isinstance(max_dims, int) else None,
        )
    )
    scored = []
    for p, (wa, wb) in found.items():
        pa, pb = 100.0 * wa / ta.total, 100.0 * wb / tb.total
        if abs(pa - pb) >= threshold * 100 - 1e-9:
            scored.append((abs(pa - pb), p, wa, wb))
    scored.sort(key=lambda s: (-s[0], len(s[1]), sorted(s[1])))
    chosen: list[tuple[float, Pattern, float, float]] = []
    for s in scored:
        if any(s[1] <= c[1] or c[1] <= s[1] for c in chosen):
            continue
        chosen.append(s)
    values = ta.values | tb.values
    merged = _Table([], columns, None)
    merged.values = values
    out: list[list[Any]] = []
    for i, (_, p, wa, wb) in enumerate(chosen):
        pa, pb = _percent(wa, ta.total), _percent(wb, tb.total)
        out.append(
            [
                i,
                _count(wa),
                _count(wb),
                pa,
                pb,
                abs(pa - pb),
                *_row(p, merged, columns, len(columns)),
            ]
        )
    return out


def _as_text(value: Any) -> str | None:
    """A split value as the text tostring() gives (bools lower-case, whole reals without a dot)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value)


# ------------------------------------------------------------------ diffpatterns_text


def diffpatterns_text(rows: Any, options: Any) -> list[list[Any]]:
    """Text patterns over whitespace tokens: a pattern has one token or `*` per position and matches the
    texts of that many tokens that agree on its tokens. Candidates are, in each set, the tokens every
    text sharing one frequent (position, token) agrees on; kept when the two sets' shares differ by at
    least the threshold and the pattern has MinTokens..MaxTokens tokens. Rows: [Count_of_True,
    Count_of_False, Percent_of_True, Percent_of_False, Pattern], the share in true minus the share in
    false, largest first."""
    opts = _opts(options)
    min_tokens = int(opts.get("min_tokens", 1))
    max_tokens = opts.get("max_tokens")
    threshold = float(opts.get("threshold", 0.05))
    texts: list[tuple[tuple[str, ...], bool]] = []
    for row in _list(rows):
        if not isinstance(row, list) or len(row) < 2 or not isinstance(row[1], bool):
            continue
        text = row[0] if isinstance(row[0], str) else ""
        texts.append((tuple(text.split()), row[1]))
    n_true = sum(1 for _, flag in texts if flag)
    n_false = len(texts) - n_true
    if n_true == 0 and n_false == 0:
        return []
    by_length: dict[int, list[tuple[tuple[str, ...], bool]]] = {}
    for tokens, flag in texts:
        if tokens:
            by_length.setdefault(len(tokens), []).append((tokens, flag))
    candidates: set[tuple[str | None, ...]] = set()
    for length, group in by_length.items():
        for flag, total in ((True, n_true), (False, n_false)):
            members = [t for t, f in group if f == flag]
            if not members or total == 0:
                continue
            counts: dict[tuple[int, str], int] = {}
            for tokens in members:
                for i, tok in enumerate(tokens):
                    counts[(i, tok)] = counts.get((i, tok), 0) + 1
            for (i, tok), n in counts.items():
                if n < threshold * total - 1e-9:
                    continue
                sharing = [t for t in members if t[i] == tok]
                pattern = tuple(
                    sharing[0][j] if all(t[j] == sharing[0][j] for t in sharing) else None
                    for j in range(length)
                )
                candidates.add(pattern)
    out: list[tuple[float, list[Any]]] = []
    for pattern in candidates:
        fixed = sum(1 for tok in pattern if tok is not None)
        if fixed < min_tokens or (isinstance(max_tokens, int) and fixed > max_tokens):
            continue
        group = by_length.get(len(pattern), [])
        ct = cf = 0
        for tokens, flag in group:
            if all(p is None or p == tok for p, tok in zip(pattern, tokens, strict=True)):
                if flag:
                    ct += 1
                else:
                    cf += 1
        pt = 100.0 * ct / n_true if n_true else 0.0
        pf = 100.0 * cf / n_false if n_false else 0.0
        if abs(pt - pf) < threshold * 100 - 1e-9:
            continue
        text = " ".join("*" if tok is None else tok for tok in pattern)
        out.append((pt - pf, [ct, cf, pt, pf, text]))
    # the largest differences first; a pattern inside or around one already taken adds nothing
    out.sort(key=lambda r: (-abs(r[0]), r[1][4]))
    chosen: list[tuple[float, list[Any], tuple[str | None, ...]]] = []
    for diff, row in out:
        pattern = tuple(None if tok == "*" else tok for tok in row[4].split(" "))
        if any(
            len(pattern) == len(c[2]) and (_within(pattern, c[2]) or _within(c[2], pattern)) for c in chosen
        ):
            continue
        chosen.append((diff, row, pattern))
    chosen.sort(key=lambda c: (-c[0], c[1][4]))
    return [row for _, row, _ in chosen]


def _within(a: tuple[str | None, ...], b: tuple[str | None, ...]) -> bool:
    """Whether every text pattern `a` matches is matched by `b` (b is more general)."""
    return all(y is None or x == y for x, y in zip(a, b, strict=True))


def _numbered(impl: Callable[[Any, Any], list[list[Any]]]) -> Callable[[Any, Any], list[list[Any]]]:
    """The rows each preceded by its position (SQL keeps their order by it: one unnest, no index)."""

    def run(rows: Any, options: Any) -> list[list[Any]]:
        return [[i, *row] for i, row in enumerate(impl(rows, options))]

    return run


IMPLS: dict[str, Any] = {
    "__reduce": _numbered(reduce_rows),
    "__reduce_source": _numbered(reduce_source),
    "__basket": _numbered(basket),
    "__autocluster": _numbered(autocluster),
    "__diffpatterns": _numbered(diffpatterns),
    "__diffpatterns_text": _numbered(diffpatterns_text),
}
