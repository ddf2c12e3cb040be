"""The engine's vocabulary for editors: the words it accepts, read from its own tables so autocomplete never drifts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from huntvault.kql import registry

#: words that start a tabular expression besides a table name (the parser's source forms, and `let`)
SOURCE_WORDS = ("datatable", "externaldata", "find", "let", "print", "range", "search", "union")
#: expression words that are neither functions nor operators of a table
EXPRESSION_WORDS = ("and", "or", "between", "!between", "by", "on", "with", "kind", "asc", "desc")


@dataclass(frozen=True)
class Vocabulary:
    """Every word the engine knows, by role (sorted, lower case as the engine matches them)."""

    operators: tuple[str, ...]  # tabular operators: the word after `|`
    sources: tuple[str, ...]  # words that start a tabular expression (besides table names)
    functions: tuple[str, ...]  # scalar functions
    aggregates: tuple[str, ...]  # aggregation functions (summarize, make-series, top-nested)
    plugins: tuple[str, ...]  # `evaluate` plugins
    word_operators: tuple[str, ...]  # has, contains, in, between, and ...
    offline: tuple[str, ...]  # Defender built-ins that need Microsoft's back end (named in their error)


def _public(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(n for n in names if not n.startswith("_")))


def vocabulary() -> Vocabulary:
    """The words of this engine, from the registry's operator, function, aggregate and plugin tables."""
    words = {op for op in registry.BINARY if op[0].isalpha() or op[1:2].isalpha()}
    return Vocabulary(
        operators=_public(registry.PIPE_PARSERS),
        sources=SOURCE_WORDS,
        functions=_public(set(registry.FUNCTIONS) | set(registry.SPECIALS) | set(registry.GRAPH_FUNCTIONS)),
        aggregates=_public(registry.AGGREGATES),
        plugins=_public(registry.PLUGINS),
        word_operators=_public(words | set(registry.LIST_OPERATORS) | set(EXPRESSION_WORDS)),
        offline=tuple(sorted(entry.reason.split("(")[0] for entry in registry.OFFLINE.values())),
    )
