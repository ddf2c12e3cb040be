"""Searches the archive takes part in: the index finds the candidates, DuckDB filters, orders and counts them.

When the tantivy part of the request matches everything (`search=*`, no index-side filter), the archive's
rows are read directly (no candidate list); otherwise every hit of the tantivy query is a candidate, joined
to the archive's rows by document key (at most `search.max_archive_matches`). Either way the page, the
count and every facet come from the same SQL, so they agree with each other and with what an index
holding every attribute returns.
"""

from __future__ import annotations

import tantivy

from huntvault.index import KEY_FIELD
from huntvault.search.archive_path import ArchiveReader, Candidates
from huntvault.search.facets import run_facet
from huntvault.search.plan import Page, Prepared


def _address(a: tantivy.DocAddress) -> tuple[int, int]:
    return (int(a.segment_ord), int(a.doc))


def candidates(p: Prepared, reader: ArchiveReader) -> tuple[Candidates, dict[str, tantivy.DocAddress]]:
    """Every hit of the tantivy query: keys, scores (unless constant) and index order, bounded."""
    searcher, query = p.searcher, p.query
    counted = searcher.search(query, 1, count=True)
    n = int(getattr(counted, "count", 0) or 0)
    reader.check_candidates(n, "search")
    if n == 0:
        return Candidates([], None, []), {}
    keyed = searcher.search(query, n, count=False, order_by_field=KEY_FIELD).hits
    by_address = sorted(keyed, key=lambda h: _address(h[1]))
    keys = [str(k) for k, _ in by_address]
    addrs = {str(k): a for k, a in by_address}
    scores: list[float] | None = None
    if not p.constant_score:
        scored = {_address(a): float(s) for s, a in searcher.search(query, n, count=False).hits}
        scores = [scored.get(_address(a), 0.0) for _, a in by_address]
    return Candidates(keys, scores, list(range(len(keys)))), addrs


def _addresses(p: Prepared, keys: list[str]) -> dict[str, tantivy.DocAddress]:
    """The index's documents of `keys` (a key the index does not hold yet is left out)."""
    if not keys:
        return {}
    q = tantivy.Query.term_set_query(p.schema, KEY_FIELD, keys)
    hits = p.searcher.search(q, len(keys), count=False, order_by_field=KEY_FIELD).hits
    return {str(k): a for k, a in hits}


def hybrid_page(p: Prepared, reader: ArchiveReader, skip: int, page: int, count: bool) -> Page:
    """One page (and the count and facets) of a request the archive takes part in."""
    cands, addrs = (None, {}) if p.everything else candidates(p, reader)
    q = reader.query(p.index, p.archive_where, cands)
    try:
        total = q.count() if count else None
        rows = q.page(p.order, p.layout.fields, skip, page + 1)
        facets = {f.field.path: run_facet(f, q) for f in p.facets}
    finally:
        q.close()
    chosen = rows[:page]
    if cands is None:
        addrs = _addresses(p, [k for k, _ in chosen])
    kept = [(addrs[k], s) for k, s in chosen if k in addrs]
    return Page(
        [a for a, _ in kept],
        [1.0 if p.constant_score else s for _, s in kept],
        len(rows) > page,
        total,
        facets,
    )
