"""Full-text query tree shared by the simple and Lucene parsers, and its compilation to tantivy queries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import tantivy

from huntvault.config import SearchConfig
from huntvault.errors import SearchError
from huntvault.index import ANALYZERS, FieldSpec, IndexLayout, analyze
from huntvault.search.bounds import bound_error, check_depth, check_regex


@dataclass
class MatchAll:
    """`*` (or an empty search): every document, score 1.0."""


@dataclass
class Text:
    """A leaf: a term, phrase, prefix, fuzzy, wildcard or regex, optionally fielded."""

    text: str
    kind: str = "term"  # term | phrase | prefix | fuzzy | wildcard | regex
    field: str | None = None  # Azure path, e.g. properties/FileName
    slop: int = 0
    distance: int = 2


@dataclass
class Bool:
    must: list[Node] = field(default_factory=list)
    should: list[Node] = field(default_factory=list)
    must_not: list[Node] = field(default_factory=list)


@dataclass
class Not:
    """A negation that matches everything except its operand (simple syntax `-x`)."""

    node: Node


@dataclass
class Boost:
    node: Node
    factor: float


Node = MatchAll | Text | Bool | Not | Boost


def _wildcard_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _children(node: Node) -> list[Node]:
    if isinstance(node, (Boost, Not)):
        return [node.node]
    if isinstance(node, Bool):
        return [*node.must, *node.should, *node.must_not]
    return []


class Compiler:
    """Turns a query tree into a tantivy query over an index's searchable fields, within the query bounds."""

    def __init__(
        self,
        layout: IndexLayout,
        schema: tantivy.Schema,
        fields: list[FieldSpec],
        parameter: str,
        limits: SearchConfig | None = None,
    ) -> None:
        self.layout = layout
        self.schema = schema
        self.fields = fields
        self.parameter = parameter
        self.limits = limits or SearchConfig()
        self.clauses = 0
        self.patterns = 0

    def _count(self, node: Node) -> None:
        """Clauses as Azure counts them (a fuzzy term as its expansions), pattern terms, regex bounds."""
        cost = 1
        if isinstance(node, Text) and node.kind == "fuzzy":
            cost = self.limits.fuzzy_expansions
        elif isinstance(node, Text) and node.kind in ("regex", "wildcard"):
            self.patterns += 1
            if self.patterns > self.limits.max_pattern_terms:
                raise bound_error(
                    "The query has too many regular expression and wildcard terms",
                    self.limits.max_pattern_terms,
                    self.parameter,
                    "search.max_pattern_terms",
                )
            regex = node.text if node.kind == "regex" else _wildcard_regex(node.text)
            check_regex(regex, self.limits, self.parameter)
        self.clauses += cost
        if self.clauses > self.limits.max_clauses:
            raise bound_error(
                f"The query has more than {self.limits.max_clauses} clauses (a fuzzy term counts as its "
                f"{self.limits.fuzzy_expansions} possible expansions)",
                self.limits.max_clauses,
                self.parameter,
                "search.max_clauses",
            )

    def compile(self, node: Node) -> tantivy.Query:
        """Check every bound over the whole tree first (no work is done for a query past one), then build."""
        stack: list[tuple[Node, int]] = [(node, 0)]
        while stack:
            item, depth = stack.pop()
            check_depth(depth, self.parameter)
            self._count(item)
            stack.extend((child, depth + 1) for child in _children(item))
        return self._build(node)

    def _build(self, node: Node) -> tantivy.Query:
        if isinstance(node, MatchAll):
            return tantivy.Query.all_query()
        if isinstance(node, Boost):
            return tantivy.Query.boost_query(self._build(node.node), node.factor)
        if isinstance(node, Not):
            return tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, tantivy.Query.all_query()),
                    (tantivy.Occur.MustNot, self._build(node.node)),
                ]
            )
        if isinstance(node, Bool):
            parts: list[tuple[tantivy.Occur, tantivy.Query]] = []
            parts += [(tantivy.Occur.Must, self._build(n)) for n in node.must]
            parts += [(tantivy.Occur.Should, self._build(n)) for n in node.should]
            negs = [(tantivy.Occur.MustNot, self._build(n)) for n in node.must_not]
            if negs and not parts:
                parts.append((tantivy.Occur.Must, tantivy.Query.all_query()))
            if not parts:
                return tantivy.Query.empty_query()
            return tantivy.Query.boolean_query(parts + negs)
        return self._text(node)

    def _targets(self, leaf: Text) -> list[FieldSpec]:
        if leaf.field is None:
            return self.fields
        return [self.layout.field(leaf.field, self.parameter, need="searchable")]

    def _text(self, leaf: Text) -> tantivy.Query:
        targets = self._targets(leaf)
        per_field = [q for f in targets if (q := self._leaf(leaf, f)) is not None]
        if not per_field:
            return tantivy.Query.empty_query()
        if len(per_field) == 1:
            return per_field[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in per_field])

    def _leaf(self, leaf: Text, spec: FieldSpec) -> tantivy.Query | None:
        kind, name = leaf.kind, spec.text_field
        if kind in ("term", "phrase"):
            tokens = analyze(leaf.text, spec.search_analyzer)
            if not tokens:
                return None
            if len(tokens) == 1:
                return tantivy.Query.term_query(self.schema, name, tokens[0])
            words: list[str | tuple[int, str]] = list(tokens)
            return tantivy.Query.phrase_query(self.schema, name, words, slop=leaf.slop)
        text = leaf.text
        lowered = text.lower() if ANALYZERS[spec.analyzer].lowercases else text
        try:
            if kind == "prefix":  # a one-word phrase prefix is tantivy's term-prefix query
                return tantivy.Query.phrase_prefix_query(self.schema, name, [lowered])
            if kind == "wildcard":
                return tantivy.Query.regex_query(self.schema, name, _wildcard_regex(text))
            if kind == "regex":
                return tantivy.Query.regex_query(self.schema, name, text)
            if kind == "fuzzy":
                return tantivy.Query.fuzzy_term_query(self.schema, name, lowered, distance=leaf.distance)
        except ValueError as exc:
            raise SearchError(
                f"Failed to parse query string: invalid {kind} '{text}': {exc}.\r\nParameter name: search"
            ) from None
        raise SearchError(f"unsupported query leaf {kind}")
