"""The search engine: runs an Azure search request (query, filter, order, paging, facets, highlight) on an index."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import tantivy

from huntvault.config import SearchConfig
from huntvault.errors import SearchError
from huntvault.index import (
    KEY_FIELD,
    FieldSpec,
    IndexLayout,
    IndexStore,
    export_document,
)
from huntvault.search.archive_path import ArchiveReader
from huntvault.search.ast import Compiler, MatchAll, Node
from huntvault.search.bounds import bound_error
from huntvault.search.facets import IndexFacets, parse_facet, run_facet
from huntvault.search.filters import FilterCompiler, conjuncts, sqlable
from huntvault.search.hybrid import hybrid_page
from huntvault.search.lucene import parse_lucene
from huntvault.search.odata import (
    SCORE,
    FilterNode,
    IsMatch,
    OrderKey,
    parse_filter,
    parse_orderby,
    parse_select,
)
from huntvault.search.plan import Page, Prepared
from huntvault.search.request import DEFAULT_TOP, MAX_SKIP, MAX_TOP, SearchRequest
from huntvault.search.simple import parse_simple
from huntvault.search.sqlfilter import SqlFilter

PARSERS: dict[str, Callable[[str, str], Node]] = {"simple": parse_simple, "full": parse_lucene}
MAX_SORT_CANDIDATES = MAX_SKIP + MAX_TOP + 10_000
SNIPPET_CHARS = 200
HIGHLIGHTS_PER_FIELD = 5
#: ordering by a number or date: first look for the top hits in a window at the top of the column's
#: range sized for WINDOW_SLACK times the hits wanted (if values were spread evenly), widened by
#: WINDOW_GROWTH until it holds enough hits; the whole range (a full column scan) is the last resort
WINDOW_SLACK = 4
WINDOW_GROWTH = 16
WINDOW_TRIES = 3
BOUNDS_CACHE_MAX = 256


def _hit_count(res: tantivy.SearchResult) -> int:
    return int(getattr(res, "count", 0) or 0)


def _null_first(column: list[Any]) -> Callable[[int], tuple[bool, Any]]:
    """Sort key over row indexes: nulls before values (ascending), after them when reversed."""
    return lambda i: (column[i] is not None, column[i])


def _get_path(doc: dict[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in path.split("/"):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def project(doc: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """$select: keep the chosen paths, complex paths returned as nested objects."""
    if select is None:
        return doc
    out: dict[str, Any] = {}
    for path in select:
        parts = path.split("/")
        src: Any = doc
        dst = out
        for i, part in enumerate(parts):
            if not isinstance(src, dict):
                break
            if i == len(parts) - 1:
                dst[part] = src.get(part)
            else:
                src = src.get(part)
                if src is None:
                    dst[part] = None
                    break
                dst = dst.setdefault(part, {})
    return out


class SearchEngine:
    """Answers search, lookup and count requests against an IndexStore."""

    def __init__(self, store: IndexStore, limits: SearchConfig | None = None) -> None:
        self.store = store
        self.limits = limits or SearchConfig()
        self.archive = ArchiveReader(store.view.loc, self.limits)
        # (searcher id, field) -> (searcher, (min, max) or None): a searcher sees one fixed index version
        self._bounds: dict[tuple[int, str], tuple[tantivy.Searcher, tuple[float, float] | None]] = {}

    # -- compilation --

    def _fields(self, layout: IndexLayout, names: list[str], parameter: str) -> list[FieldSpec]:
        if not names:
            return layout.searchable
        out: list[FieldSpec] = []
        for name in names:
            if layout.is_complex(name):
                out.extend(f for f in layout.searchable if f.path.startswith(name + "/"))
            else:
                out.append(layout.field(name, parameter, need="searchable"))
        return out

    def _text(
        self,
        layout: IndexLayout,
        schema: tantivy.Schema,
        search: str | None,
        mode: str,
        qtype: str,
        fields: list[str],
        parameter: str = "search",
    ) -> tuple[tantivy.Query, bool]:
        text = (search or "").strip()
        node = MatchAll() if text in ("", "*") else PARSERS[qtype](text, mode)
        compiler = Compiler(
            layout, schema, self._fields(layout, fields, "searchFields"), parameter, self.limits
        )
        return compiler.compile(node), isinstance(node, MatchAll)

    def prepare(self, name: str, req: SearchRequest) -> Prepared:
        index = self.store.get(name)
        gen = index.active  # one generation throughout the request, even if a rebuild swaps it meanwhile
        layout, schema = gen.layout, gen.schema
        searcher = gen.searcher()
        text_q, match_all = self._text(
            layout, schema, req.search, req.search_mode, req.query_type, req.search_fields
        )
        p = Prepared(index, layout, schema, searcher, text_q, text_q, match_all, [], None)
        if req.filter is not None and req.filter.strip():
            self._filter(p, req.filter)
        p.order = parse_orderby(req.orderby) if req.orderby else []
        for i, key in enumerate(p.order):
            if key.path == SCORE:
                continue
            if layout.is_complex(key.path):
                raise SearchError(
                    f"The complex field '{key.path}' cannot be sorted.\r\nParameter name: $orderby"
                )
            spec = layout.field(key.path, "$orderby")
            if not layout.require(spec, "sortable", "$orderby"):
                p.archive_order = True
            elif i and spec.storage == "str" and not spec.retrievable:
                p.archive_order = True  # a later string key's values are read from stored documents
        p.select = parse_select(req.select) if req.select else None
        for path in p.select or []:
            if not layout.is_complex(path):
                layout.field(path, "$select", need="retrievable")
        for path in req.highlight:
            layout.field(path.split("-")[0], "highlight", need="searchable")
        for tag, tag_name in (
            (req.highlight_pre, "highlightPreTag"),
            (req.highlight_post, "highlightPostTag"),
        ):
            if len(tag) > self.limits.max_highlight_tag_chars:
                raise bound_error(
                    f"{tag_name} is {len(tag)} characters long",
                    self.limits.max_highlight_tag_chars,
                    tag_name,
                    "search.max_highlight_tag_chars",
                )
        p.facets = [parse_facet(f, layout) for f in req.facets]
        return p

    def _filter(self, p: Prepared, text: str) -> None:
        """Top-level conjuncts the archive can evaluate whole go to SQL (`p.archive_where`); the rest is a
        tantivy query, in which any smaller subtree on fields the index lacks becomes the keys it matches."""
        layout, schema = p.layout, p.schema

        def ismatch(node: IsMatch) -> tantivy.Query:
            q, _ = self._text(layout, schema, node.search, node.search_mode, node.query_type, node.fields)
            return q

        sql = SqlFilter(layout, text)

        def archive_leaf(node: FilterNode) -> tantivy.Query:
            keys = self.archive.keys(p.index, sql.compile(node))
            return (
                tantivy.Query.term_set_query(schema, KEY_FIELD, keys) if keys else tantivy.Query.empty_query()
            )

        compiler = FilterCompiler(layout, schema, p.searcher, text, ismatch, archive_leaf)
        parts: list[tantivy.Query] = []
        for node in conjuncts(parse_filter(text)):
            if sqlable(node) and compiler.needs_archive(node):
                p.archive_where.append(sql.compile(node))
            else:
                parts.append(compiler.compile(node))
        p.scoring_filter = compiler.scoring
        if parts:
            p.filtered = True
            p.query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, p.text_query)] + [(tantivy.Occur.Must, q) for q in parts]
            )

    # -- execution --

    def search(self, name: str, req: SearchRequest) -> dict[str, Any]:
        p = self.prepare(name, req)
        page = min(DEFAULT_TOP if req.top is None else req.top, MAX_TOP)
        if p.hybrid:
            found = hybrid_page(p, self.archive, req.skip, page, req.count)
        else:
            found = self._page(p, req.skip, page, req.count)
        addrs, scores = found.addrs, found.scores
        layout = p.layout
        docs = [export_document(layout, p.searcher.doc(a)) for a in addrs]
        if p.constant_score:
            scores = [1.0] * len(docs)
        elif scores is None:
            scores = self._score_map(p, addrs)
        out: dict[str, Any] = {}
        if req.count:
            out["@odata.count"] = found.total
        if req.minimum_coverage is not None:
            out["@search.coverage"] = 100.0
        if p.facets:
            if found.facets is not None:
                out["@search.facets"] = found.facets
            else:
                source = IndexFacets(p.searcher, p.query)
                out["@search.facets"] = {f.field.path: run_facet(f, source) for f in p.facets}
        returned = len(addrs)
        more = found.more
        wants_more = req.top is None or req.top > returned
        if more and wants_more and req.skip + returned <= MAX_SKIP and returned:
            nxt = req.to_body()
            nxt["skip"] = req.skip + returned
            if req.top is not None:
                nxt["top"] = req.top - returned
            out["@search.nextPageParameters"] = nxt
        highlighter = self._highlighter(p, req) if req.highlight and not p.match_all else None
        value = []
        for doc, score in zip(docs, scores, strict=True):
            item: dict[str, Any] = {"@search.score": score}
            if highlighter is not None:
                hl = highlighter(doc)
                if hl:
                    item["@search.highlights"] = hl
            item.update(project(doc, p.select))
            value.append(item)
        out["value"] = value
        return out

    def _page(self, p: Prepared, skip: int, page: int, count: bool) -> Page:
        """The hits of one page; counting every match happens only when `$count` asks for it."""
        searcher, query = p.searcher, p.query
        primary = p.order[0] if p.order else OrderKey(SCORE, True)
        if primary.path == SCORE and primary.descending and len(p.order) <= 1:
            res = searcher.search(query, page + 1, count=count, offset=skip)  # one extra hit: are there more?
            hits = res.hits[:page]
            total = _hit_count(res) if count else None
            return Page([h[1] for h in hits], [float(h[0]) for h in hits], len(res.hits) > page, total)
        return self._sorted_page(p, primary, skip, page, count)

    def _sorted_page(self, p: Prepared, primary: OrderKey, skip: int, page: int, count: bool) -> Page:
        """Multi-key ordering: tantivy orders by the first key; ties at the page edge are widened, then sorted."""
        searcher, query = p.searcher, p.query
        want = skip + max(page, 1)
        limit = want + 1
        total: int | None = None
        while True:
            if primary.path == SCORE:
                res = searcher.search(query, limit, count=count or not primary.descending)
                cands = [(float(h[0]), h[1]) for h in res.hits]
                total = _hit_count(res) if count or not primary.descending else None
                if not primary.descending:
                    everything = _hit_count(res)
                    if everything > MAX_SORT_CANDIDATES:
                        raise SearchError(
                            "Ordering by ascending score is limited to 110000 matching documents.\r\nParameter name: $orderby"
                        )
                    res = searcher.search(query, max(everything, 1), count=False)
                    cands = [(float(h[0]), h[1]) for h in res.hits]
                    break
            else:
                cands, total = self._by_field(p, primary, limit, count)
            if (
                len(cands) < limit
                or len(p.order) <= 1
                or cands[want - 1][0] != cands[-1][0]
                or limit > MAX_SORT_CANDIDATES
            ):
                break
            limit *= 2
        rows: list[list[Any]] = [[v, a] for v, a in cands]
        score_col: list[float] | None = [float(v) for v, _ in cands] if primary.path == SCORE else None
        # every key (the first one's values came with the hits), sorted stably from the last key
        sort_keys = p.order if p.order else [primary]
        columns = [
            [r[0] for r in rows]
            if i == 0 and k.path != SCORE
            else self._column(p, k, [r[1] for r in rows], score_col)
            for i, k in enumerate(sort_keys)
        ]
        order_idx = list(range(len(rows)))
        for col, key in reversed(list(zip(columns, sort_keys, strict=True))):
            order_idx.sort(key=_null_first(col), reverse=key.descending)
        chosen = order_idx[skip : skip + page]
        addrs = [rows[i][1] for i in chosen]
        scores = [score_col[i] for i in chosen] if score_col is not None else None
        return Page(addrs, scores, len(order_idx) > skip + page, total if count else None)

    def _by_field(
        self, p: Prepared, key: OrderKey, limit: int, count: bool
    ) -> tuple[list[tuple[Any, tantivy.DocAddress]], int | None]:
        """The first `limit` hits in `key` order (nulls first under asc, as Azure), with their key values."""
        searcher, query = p.searcher, p.query
        spec = p.layout.fields[key.path]
        order = tantivy.Order.Desc if key.descending else tantivy.Order.Asc
        nulls: list[tuple[Any, tantivy.DocAddress]] = []
        null_count = 0
        base = query
        if not key.descending:  # tantivy puts documents without a value last
            present = tantivy.Query.exists_query(spec.value_field)
            base = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, query),
                    (tantivy.Occur.Must, tantivy.Query.const_score_query(present, 0.0)),
                ]
            )
            null_q = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.MustNot, present)]
            )
            nres = searcher.search(null_q, limit, count=count)
            nulls = [(None, h[1]) for h in nres.hits]
            null_count = _hit_count(nres) if count else 0
        res = None if count else self._windowed(p, spec, base, limit, key.descending)
        if res is None:
            res = searcher.search(base, limit, count=count, order_by_field=spec.value_field, order=order)
        cands = nulls + [(h[0], h[1]) for h in res.hits]
        return cands, (_hit_count(res) + null_count) if count else None

    def _windowed(
        self, p: Prepared, spec: FieldSpec, base: tantivy.Query, limit: int, descending: bool
    ) -> tantivy.SearchResult | None:
        """The first `limit` hits in the order of a number/date field, looked for in a window at the top
        (bottom, ascending) of the field's range first: every value outside the window is beyond every
        value inside it, so once the window holds `limit` hits they are the answer. Ordering by the
        whole column visits every match (12 ms for 1M documents); a window is a fraction of that.
        None when the field has no range to narrow, or no window held enough hits."""
        if spec.storage not in ("int", "date", "float"):
            return None
        bounds = self._field_bounds(p.searcher, spec)
        if bounds is None:
            return None
        low, high = bounds
        span = high - low
        docs = max(int(p.searcher.num_docs), 1)
        if span <= 0 or limit * WINDOW_SLACK >= docs:
            return None
        ftype = tantivy.FieldType.Float if spec.storage == "float" else tantivy.FieldType.Integer
        order = tantivy.Order.Desc if descending else tantivy.Order.Asc
        width = span * limit * WINDOW_SLACK / docs
        for _ in range(WINDOW_TRIES):
            if width >= span:
                return None
            # open towards the end the order starts from: a rounded bound can never cut off a value
            lo: float
            hi: float
            if ftype == tantivy.FieldType.Integer:
                lo, hi = (
                    (math.floor(high - width), 2**63 - 1)
                    if descending
                    else (-(2**63), math.ceil(low + width))
                )
            else:
                lo, hi = (high - width, math.inf) if descending else (-math.inf, low + width)
            window = tantivy.Query.range_query(p.schema, spec.value_field, ftype, lo, hi, True, True)
            narrowed = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, base),
                    (tantivy.Occur.Must, tantivy.Query.const_score_query(window, 0.0)),
                ]
            )
            res = p.searcher.search(
                narrowed, limit, count=False, order_by_field=spec.value_field, order=order
            )
            if len(res.hits) >= limit:
                return res
            width *= WINDOW_GROWTH
        return None

    def _field_bounds(self, searcher: tantivy.Searcher, spec: FieldSpec) -> tuple[float, float] | None:
        """Min and max of a numeric column over the whole index version (cached per searcher)."""
        key = (id(searcher), spec.value_field)
        cached = self._bounds.get(key)
        if cached is not None and cached[0] is searcher:  # (the same searcher, not a recycled id)
            return cached[1]
        stats = searcher.aggregate(tantivy.Query.all_query(), {"s": {"stats": {"field": spec.value_field}}})[
            "s"
        ]
        bounds = None
        if stats.get("count") and stats.get("min") is not None and stats.get("max") is not None:
            bounds = (float(stats["min"]), float(stats["max"]))
        if len(self._bounds) >= BOUNDS_CACHE_MAX:
            self._bounds.clear()
        self._bounds[key] = (searcher, bounds)
        return bounds

    def _column(
        self, p: Prepared, key: OrderKey, addrs: list[tantivy.DocAddress], score_col: list[float] | None
    ) -> list[Any]:
        if key.path == SCORE:
            if score_col is not None:
                return list(score_col)
            return [1.0] * len(addrs) if p.constant_score else self._score_map(p, addrs)
        spec = p.layout.fields[key.path]
        if spec.storage in ("int", "float", "bool", "date"):
            return list(p.searcher.fast_field_values(spec.value_field, addrs))
        values = []
        for a in addrs:
            doc = export_document(p.layout, p.searcher.doc(a))
            values.append(_get_path(doc, key.path))
        return values

    def _score_map(self, p: Prepared, addrs: list[tantivy.DocAddress]) -> list[Any]:
        keys = [str(p.searcher.doc(a).get_first(KEY_FIELD) or "") for a in addrs]
        by_key = self._scores_for_keys(p, [k for k in keys if k])
        return [by_key.get(k, 0.0) for k in keys]

    def _scores_for_keys(self, p: Prepared, keys: list[str]) -> dict[str, float]:
        if not keys:
            return {}
        q = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, p.query),
                (
                    tantivy.Occur.Must,
                    tantivy.Query.const_score_query(
                        tantivy.Query.term_set_query(p.schema, KEY_FIELD, keys), 0.0
                    ),
                ),
            ]
        )
        res = p.searcher.search(q, len(keys), count=False)
        return {str(p.searcher.doc(a).get_first(KEY_FIELD)): float(s) for s, a in res.hits}

    def _highlighter(
        self, p: Prepared, req: SearchRequest
    ) -> Callable[[dict[str, Any]], dict[str, list[str]]]:
        gens: list[tuple[str, FieldSpec, tantivy.SnippetGenerator, int]] = []
        for item in req.highlight:
            path, _, n = item.partition("-")
            spec = p.layout.field(path, "highlight", need="searchable")
            gen = tantivy.SnippetGenerator.create(p.searcher, p.text_query, p.schema, spec.text_field)
            gen.set_max_num_chars(SNIPPET_CHARS)
            gens.append((path, spec, gen, int(n) if n.isascii() and n.isdigit() else HIGHLIGHTS_PER_FIELD))
        pre, post = req.highlight_pre, req.highlight_post

        def highlight(doc: dict[str, Any]) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for path, spec, gen, limit in gens:
                text = _get_path(doc, path)
                if not isinstance(text, str) or not text or limit == 0:
                    continue
                snippet = gen.snippet_from_doc(tantivy.Document(**{spec.text_field: [text]}))
                ranges = snippet.highlighted()
                if not ranges:
                    continue
                frag = snippet.fragment().encode("utf-8")
                parts: list[bytes] = []
                last = 0
                for r in ranges:
                    parts += [frag[last : r.start], pre.encode(), frag[r.start : r.end], post.encode()]
                    last = r.end
                parts.append(frag[last:])
                out[path] = [b"".join(parts).decode("utf-8", errors="replace")][:limit]
            return out

        return highlight

    # -- other document operations --

    def lookup(self, name: str, key: str, select: str | None = None) -> dict[str, Any]:
        index = self.store.get(name)
        gen = index.active
        searcher = gen.searcher()
        fields = parse_select(select) if select else None
        for path in fields or []:
            if not gen.layout.is_complex(path):
                gen.layout.field(path, "$select", need="retrievable")
        res = searcher.search(tantivy.Query.term_query(gen.schema, KEY_FIELD, key), 1, count=False)
        if not res.hits:
            raise SearchError(
                f"Document with key '{key}' was not found in index '{index.name}'.", 404, "DocumentNotFound"
            )
        doc = export_document(gen.layout, searcher.doc(res.hits[0][1]))
        return project(doc, fields)

    def count(self, name: str) -> int:
        return int(self.store.get(name).active.searcher().num_docs)
