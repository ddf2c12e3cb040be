"""A search request compiled against one index: the tantivy query, and what the archive must answer."""

from __future__ import annotations

from dataclasses import dataclass, field

import tantivy

from huntvault.index import IndexLayout, TableIndex
from huntvault.search.facets import FacetSpec
from huntvault.search.odata import OrderKey


@dataclass
class Prepared:
    """A request compiled against one index (its active generation at the time)."""

    index: TableIndex
    layout: IndexLayout
    schema: tantivy.Schema
    searcher: tantivy.Searcher
    text_query: tantivy.Query
    query: tantivy.Query
    match_all: bool
    order: list[OrderKey]
    select: list[str] | None
    scoring_filter: bool = False
    filtered: bool = False  # the tantivy query has filter clauses
    facets: list[FacetSpec] = field(default_factory=list)
    archive_where: list[str] = field(default_factory=list)  # SQL conjuncts the archive evaluates
    archive_order: bool = False  # an $orderby key the index cannot sort on

    @property
    def constant_score(self) -> bool:
        """`*` without search.ismatchscoring: every hit scores 1.0."""
        return self.match_all and not self.scoring_filter

    @property
    def hybrid(self) -> bool:
        """Whether the archive takes part (a filter, sort or facet on a field the index does not hold)."""
        return bool(self.archive_where) or self.archive_order or any(f.archive for f in self.facets)

    @property
    def everything(self) -> bool:
        """The tantivy query matches every document (the archive can then read its rows directly)."""
        return self.match_all and not self.filtered


@dataclass
class Page:
    """One page of hits: addresses, scores when known, whether more match, and the total when counted."""

    addrs: list[tantivy.DocAddress]
    scores: list[float] | None
    more: bool
    total: int | None
    facets: dict[str, list[dict[str, object]]] | None = None
