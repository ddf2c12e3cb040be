"""The engine's vocabulary for editors: the words it accepts, read from its own tables so autocomplete never drifts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: words that start a tabular expression besides a table name (the parser's source forms, and `let`)
SOURCE_WORDS = ("datatable", "externaldata", "find", "let", "print", "range", "search", "union")
#: expression words that are neither functions nor word operators
EXPRESSION_WORDS = (
    "and",
    "or",
    "between",
    "!between",
    "matches regex",
    "by",
    "on",
    "with",
    "kind",
    "asc",
    "desc",
)


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


def vocabulary() -> Vocabulary:
    """The words of this engine, from the parser's operator table and the function, aggregate and plugin tables."""
    from huntvault.kql.aggregates import AGGREGATES
    from huntvault.kql.calls import RAW_FUNCTIONS
    from huntvault.kql.functions import OFFLINE_FUNCTIONS
    from huntvault.kql.functions_more import FUNCTIONS
    from huntvault.kql.parser import Parser
    from huntvault.kql.parser_expr import LIST_OPS, WORD_OPS
    from huntvault.kql.plugins import PLUGINS

    def public(names: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(n for n in names if not n.startswith("_")))

    return Vocabulary(
        operators=public(Parser("").operators),
        sources=SOURCE_WORDS,
        functions=public(set(FUNCTIONS) | set(RAW_FUNCTIONS)),
        aggregates=public(AGGREGATES),
        plugins=public(PLUGINS),
        word_operators=public(set(WORD_OPS) | set(LIST_OPS) | set(EXPRESSION_WORDS)),
        offline=tuple(sorted(text.split("(")[0] for text in OFFLINE_FUNCTIONS.values())),
    )
