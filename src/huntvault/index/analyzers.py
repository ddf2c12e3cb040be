"""Analyzers an index definition may name (Azure's names), as tantivy analyzers: one table entry each."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import tantivy

from huntvault.errors import SearchError

# word characters, kept together across . and ' (cmd.exe, 10.0.0.1, o'brien): UAX#29 as Lucene's standard
# tokenizer applies it to security data, minus its rarer rules (a comma between digits splits here)
ANALYZER_PATTERN = r"\w+(?:[.'’]\w+)*"
MAX_TOKEN = 255  # Lucene's standard tokenizer's maxTokenLength
MAX_TERM_BYTES = 32_766  # Lucene's (and Azure's) largest term: a longer keyword token is dropped
DEFAULT_ANALYZER = "standard.lucene"
NO_TOKENS = "hv_stored_only"  # an analyzer that emits no token: used for stored-only fields
CACHE_VALUE_CHARS = 512  # values longer than this are analyzed every time they are seen


def _standard() -> tantivy.TextAnalyzerBuilder:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(ANALYZER_PATTERN))
        .filter(tantivy.Filter.remove_long(MAX_TOKEN))
        .filter(tantivy.Filter.lowercase())
    )


@dataclass(frozen=True)
class Analyzer:
    """One analyzer: how the query side (and highlighting) analyzes text, and how the writer splits it.

    The indexer analyzes each distinct value once before tantivy (`pretokenize`) and hands the writer the
    tokens joined by spaces; the writer's instance of the index then only splits on whitespace. An
    analyzer whose tokens may hold whitespace (`keyword`) keeps its value whole and the writer's
    tokenizer is tantivy's raw one.
    """

    name: str
    build: Callable[[], tantivy.TextAnalyzer]
    whole_value: bool = False  # keyword: the value is its only token (the writer uses the raw tokenizer)
    lowercases: bool = True  # prefix, fuzzy and wildcard terms are lower-cased for it (they are not analyzed)
    description: str = ""

    @property
    def tokenizer_name(self) -> str:
        return "hv_" + self.name

    def writer_analyzer(self) -> tantivy.TextAnalyzer:
        """What the indexing instance of the index runs on the pre-analyzed text."""
        if self.whole_value:
            return (
                tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
                .filter(tantivy.Filter.remove_long(MAX_TERM_BYTES))
                .build()
            )
        return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


#: Azure analyzer name -> its tantivy form. `standard.lucene` is the default (Azure's too).
ANALYZERS: dict[str, Analyzer] = {
    a.name: a
    for a in (
        Analyzer(
            "standard.lucene",
            lambda: _standard().build(),
            description="runs of word characters kept together across . and ' (cmd.exe, 10.0.0.1), lower-cased",
        ),
        Analyzer(
            "standardasciifolding.lucene",
            lambda: _standard().filter(tantivy.Filter.ascii_fold()).build(),
            description="standard.lucene, then accents folded to ASCII (é -> e)",
        ),
        Analyzer(
            "simple",
            lambda: (
                tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"\p{L}+"))
                .filter(tantivy.Filter.remove_long(MAX_TOKEN))
                .filter(tantivy.Filter.lowercase())
                .build()
            ),
            description="runs of letters, lower-cased",
        ),
        Analyzer(
            "whitespace",
            lambda: (
                tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
                .filter(tantivy.Filter.remove_long(MAX_TOKEN))
                .build()
            ),
            lowercases=False,
            description="split on whitespace, case kept",
        ),
        Analyzer(
            "keyword",
            lambda: (
                tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
                .filter(tantivy.Filter.remove_long(MAX_TERM_BYTES))
                .build()
            ),
            whole_value=True,
            lowercases=False,
            description="the whole value as one token, case kept",
        ),
    )
}


def get_analyzer(name: str, where: str = "analyzer") -> Analyzer:
    """The analyzer called `name`, or Azure's 400 naming `where` and the analyzers there are."""
    found = ANALYZERS.get(name)
    if found is None:
        raise SearchError(
            f"The analyzer '{name[:100]}' of {where} is not available; use one of "
            f"{', '.join(sorted(ANALYZERS))}.",
            400,
            "InvalidRequestParameter",
        )
    return found


_LOCAL = threading.local()


def _instance(name: str) -> tantivy.TextAnalyzer:
    """One built analyzer per thread (tantivy analyzers are not shared across threads)."""
    cache: dict[str, tantivy.TextAnalyzer] | None = getattr(_LOCAL, "analyzers", None)
    if cache is None:
        cache = _LOCAL.analyzers = {}
    found = cache.get(name)
    if found is None:
        found = cache[name] = get_analyzer(name).build()
    return found


def analyze(text: str, name: str = DEFAULT_ANALYZER) -> list[str]:
    """Tokens of `text` under the analyzer `name` (query side, identical to the index side)."""
    return list(_instance(name).analyze(text))


def pretokenize(
    values: list[str | None], cache: dict[str, str], name: str = DEFAULT_ANALYZER
) -> list[str | None]:
    """What the writer's tokenizer gets for each value: the analyzer's tokens joined by single spaces.

    Tokens never contain whitespace (except `keyword`'s single token, which the writer takes whole), so
    the writer's split gives back exactly the analyzer's tokens. `cache` maps value -> joined tokens:
    hunting data repeats host names, paths and command lines, so most values are analyzed once.
    """
    if get_analyzer(name).whole_value:
        return list(values)
    analyzer = _instance(name)
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        joined = cache.get(value)
        if joined is None:
            joined = " ".join(analyzer.analyze(value))
            if len(value) <= CACHE_VALUE_CHARS:  # bounds the cache's memory (long values are rarer)
                cache[value] = joined
        out.append(joined)
    return out


def register_analyzers(index: tantivy.Index, pretokenized: bool = False) -> None:
    """Analyzers are not persisted by tantivy: register every one on each opened index.

    `pretokenized` is for the index instance the writer uses (it gets pre-analyzed text, see `Analyzer`);
    searchers keep the real analyzers, so highlights are computed on the original text.
    """
    for analyzer in ANALYZERS.values():
        built = analyzer.writer_analyzer() if pretokenized else analyzer.build()
        index.register_tokenizer(analyzer.tokenizer_name, built)
    # stored-only text: the raw tokenizer's one token, dropped at once (a regex tokenizer would scan it all)
    index.register_tokenizer(
        NO_TOKENS,
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.remove_long(1)).build(),
    )
