"""The registry: every table of the engine assembled in one place, and the order names are looked up in.

Adding a scalar function, an aggregate, an operator, a source or a plugin is one entry in its
family's module (see docs/kql.md, "Adding to the engine"); this module only lists the families.
A name defined by two families is an error at import time, so parallel additions cannot shadow
each other silently.

Lookup order of a call `name(args)` in a scalar expression (`resolve`):
  1. a function the query defines with `let` (the planner checks the scope first),
  2. SPECIALS: forms whose arguments are syntax (toscalar, materialize, column_ifexists, pack_all),
  3. OFFLINE: Defender built-ins that need Microsoft's back end (a clear error naming them),
  4. AGGREGATES: only valid inside summarize, make-series, top-nested and pivot,
  5. FUNCTIONS: the scalar functions.
Names are case-insensitive for built-ins (stored lower-case), case-sensitive for `let` names.
A pipe operator is found by its word after `|` (PIPE_PARSERS) and lowered by its AST node type
(OPERATORS); a tabular source by its AST node type (SOURCES); `evaluate name()` in PLUGINS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from huntvault.kql import ast as A
from huntvault.kql.aggregates import basic as agg_basic
from huntvault.kql.aggregates import digests as agg_digests
from huntvault.kql.aggregates import lists as agg_lists
from huntvault.kql.aggregates import stats as agg_stats
from huntvault.kql.functions import (
    arrays,
    bags,
    conditionals,
    conversion,
    encoding,
    geo,
    hashes,
    ip,
    math,
    metadata,
    regex,
    series,
    special,
    strings,
    urls,
    window,
)
from huntvault.kql.functions import datetime as datetimes
from huntvault.kql.ir import (
    Aggregate,
    BinaryLowering,
    Function,
    ListLowering,
    Offline,
    Operator,
    Plugin,
    Source,
    Special,
)
from huntvault.kql.operators import (
    composition,
    expand,
    filtering,
    graph,
    grouped,
    joins,
    keyvalues,
    ordering,
    parsing,
    patterns,
    projection,
    results,
    sampling,
    scan,
    summarize,
)
from huntvault.kql.plugins import columns, engagement, lookups, mining, schemas, sequences, sets, timeline
from huntvault.kql.plugins import geo as geo_plugins
from huntvault.kql.scalar import arithmetic, comparison, lists, text
from huntvault.kql.sources import external, literal
from huntvault.kql.sources import tables as table_sources
from huntvault.kql.syntax import OperatorParser

V = TypeVar("V")


def merge(kind: str, *tables: Mapping[str, V]) -> dict[str, V]:
    """One table from the families' tables; a name in two of them is a programming error."""
    out: dict[str, V] = {}
    for table in tables:
        for name, entry in table.items():
            if name in out:
                raise ValueError(f"the {kind} {name!r} is defined twice")
            out[name] = entry
    return out


def merge_nodes(kind: str, entries: list[tuple[type[A.Node], V]]) -> dict[type[A.Node], V]:
    """Entries by the AST node they lower; a node lowered twice is a programming error."""
    out: dict[type[A.Node], V] = {}
    for node, entry in entries:
        if node in out:
            raise ValueError(f"the {kind} for {node.__name__} is defined twice")
        out[node] = entry
    return out


FUNCTIONS: dict[str, Function] = merge(
    "function",
    strings.FUNCTIONS,
    regex.FUNCTIONS,
    conditionals.FUNCTIONS,
    datetimes.FUNCTIONS,
    conversion.FUNCTIONS,
    bags.FUNCTIONS,
    arrays.FUNCTIONS,
    urls.FUNCTIONS,
    encoding.FUNCTIONS,
    hashes.FUNCTIONS,
    ip.FUNCTIONS,
    math.FUNCTIONS,
    window.FUNCTIONS,
    series.FUNCTIONS,
    geo.FUNCTIONS,
)
SPECIALS: dict[str, Special] = merge("special form", special.SPECIALS, metadata.SPECIALS)
OFFLINE: dict[str, Offline] = merge("offline built-in", special.OFFLINE)
AGGREGATES: dict[str, Aggregate] = merge(
    "aggregate", agg_basic.AGGREGATES, agg_lists.AGGREGATES, agg_stats.AGGREGATES, agg_digests.AGGREGATES
)
BINARY: dict[str, BinaryLowering] = merge(
    "binary operator", comparison.BINARY, arithmetic.BINARY, text.BINARY
)
LIST_OPERATORS: dict[str, ListLowering] = merge("list operator", lists.LISTS)
PLUGINS: dict[str, Plugin] = merge(
    "plugin",
    columns.PLUGINS,
    engagement.PLUGINS,
    lookups.PLUGINS,
    schemas.PLUGINS,
    sequences.PLUGINS,
    sets.PLUGINS,
    timeline.PLUGINS,
    geo_plugins.PLUGINS,
    mining.PLUGINS,
)

_OPERATORS: list[Operator] = [
    *filtering.OPERATORS,
    *ordering.OPERATORS,
    *projection.OPERATORS,
    *summarize.OPERATORS,
    *joins.OPERATORS,
    *expand.OPERATORS,
    *parsing.OPERATORS,
    *keyvalues.OPERATORS,
    *sampling.OPERATORS,
    *scan.OPERATORS,
    *graph.OPERATORS,
    *grouped.OPERATORS,
    *composition.OPERATORS,
    *patterns.OPERATORS,
    *results.OPERATORS,
]
_SOURCES: list[Source] = [*literal.SOURCES, *table_sources.SOURCES, *external.SOURCES]

OPERATORS: dict[type[A.Node], Operator] = merge_nodes("operator", [(op.node, op) for op in _OPERATORS])
PIPE_PARSERS: dict[str, OperatorParser] = merge("pipe operator", *[op.parse for op in _OPERATORS])
SOURCES: dict[type[A.Node], Source] = merge_nodes("source", [(src.node, src) for src in _SOURCES])
#: graph functions: valid only inside graph-match / graph-shortest-paths, which lower them (operators/graph/match.py)
GRAPH_FUNCTIONS: tuple[str, ...] = tuple(graph.GRAPH_FUNCTIONS)

#: the categories of built-in a scalar call can resolve to
Builtin = Special | Offline | Aggregate | Function


def resolve(name: str) -> Builtin | None:
    """The built-in called `name` (any case), in the lookup order above (after `let` functions)."""
    low = name.lower()
    for table in (SPECIALS, OFFLINE, AGGREGATES, FUNCTIONS):
        entry = table.get(low)
        if entry is not None:
            return entry
    return None
