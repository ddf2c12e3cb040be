"""Searches the archive takes part in: the index finds the candidates, DuckDB filters, orders and counts them.

When the tantivy part of the request matches everything (`search=*`, no index-side filter), the archive's
rows are read directly (no candidate list); otherwise every hit of the tantivy query is a candidate, joined
to the archive's rows by document key (at most `search.max_archive_matches`). Either way the page, the
count and every facet come from the same SQL, so they agree with each other and with what an index
holding every attribute returns.
"""

from __future__ import annotations

import tantivy

from huntvault.index import KEY_FIELD, KEY_HASH_FIELD
from huntvault.search.archive_path import ArchiveReader, Candidates
from huntvault.search.facets import run_facet
from huntvault.search.plan import Page, Prepared


def candidates(p: Prepared, reader: ArchiveReader) -> tuple[Candidates, dict[int, tantivy.DocAddress]]:
    """Every hit of the tantivy query: key hashes (a columnar field), scores and index order, bounded."""
    searcher, query = p.searcher, p.query
    counted = searcher.search(query, 1, count=True)
    n = int(getattr(counted, "count", 0) or 0)
    reader.check_candidates(n, "search")
    if n == 0:
        return Candidates([], [], []), {}
    hits = searcher.search(query, n, count=False).hits
    addrs = [a for _, a in hits]
    hashes = [int(h or 0) for h in searcher.fast_field_values(KEY_HASH_FIELD, addrs)]
    order = sorted(range(len(hits)), key=lambda i: (addrs[i].segment_ord, addrs[i].doc))
    ords = [0] * len(hits)
    for rank, i in enumerate(order):
        ords[i] = rank
    scores = [float(s) for s, _ in hits]
    return Candidates(hashes, scores, ords), dict(zip(hashes, addrs, strict=True))


def _addresses(p: Prepared, keys: list[str]) -> dict[int, tantivy.DocAddress]:
    """The index's documents of `keys`, by key hash (a key the index does not hold yet is left out)."""
    if not keys:
        return {}
    q = tantivy.Query.term_set_query(p.schema, KEY_FIELD, keys)
    addrs = [a for _, a in p.searcher.search(q, len(keys), count=False).hits]
    hashes = [int(h or 0) for h in p.searcher.fast_field_values(KEY_HASH_FIELD, addrs)]
    return dict(zip(hashes, addrs, strict=True))


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
        addrs = _addresses(p, [k for k, _, _ in chosen])
    kept: list[tuple[tantivy.DocAddress, float]] = []
    for key, khash, score in chosen:
        addr = addrs.get(khash)
        if addr is None:
            continue  # not in the index (yet): the archive committed it after the index's last sync
        if key and p.searcher.doc(addr).get_first(KEY_FIELD) != key:
            continue  # two keys with one 64-bit hash: the stored key settles it
        kept.append((addr, score))
    return Page(
        [a for a, _ in kept],
        [1.0 if p.constant_score else s for _, s in kept],
        len(rows) > page,
        total,
        facets,
    )
