"""fork, facet, reduce and the pattern-mining plugins (autocluster, basket, diffpatterns, diffpatterns_text):
several result tables by name, bad arguments as errors at their line and column, the mining on its own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from huntvault.cli import main
from huntvault.errors import KqlError, KqlSemanticError, KqlSyntaxError
from huntvault.kql import compile_query, execute, explain, render
from huntvault.kql.backends import DuckDBBackend
from huntvault.kql.pyfuncs import mining
from tests.support.kql import NOW

T = 'datatable(a:long, b:string)[1, "x", 2, "y", 3, "x"]'


@pytest.fixture(scope="module")
def backend() -> DuckDBBackend:
    return DuckDBBackend(None)


def tables(query: str, backend: DuckDBBackend) -> dict[str, list[dict[str, Any]]]:
    result = execute(query, backend=backend, now=NOW)
    return {name: part.rows() for name, part in result.tables}


# -- fork and facet: several tables ------------------------------------------------------------------


def test_fork_names_its_tables_by_name_as_or_position(backend: DuckDBBackend) -> None:
    query = f"{T}\n| fork (where a > 1) Counted=(summarize n = count() by b) (take 1 | as First)"
    result = execute(query, backend=backend, now=NOW)
    assert [name for name, _ in result.tables] == ["GenericResult1", "Counted", "First"]
    got: dict[str, list[dict[str, Any]]] = {name: part.rows() for name, part in result.tables}
    assert sorted(r["a"] for r in got["GenericResult1"]) == [2, 3]
    assert sorted((r["b"], r["n"]) for r in got["Counted"]) == [("x", 2), ("y", 1)]
    assert len(got["First"]) == 1
    assert result.rows() == got["GenericResult1"]  # the hunt's own table is the first


def test_fork_reads_lets_and_each_leg_sees_the_whole_input(backend: DuckDBBackend) -> None:
    query = f"let t = {T};\nt | fork (count) (where b == 'x' | count)"
    got = tables(query, backend)
    assert got == {"GenericResult1": [{"Count": 3}], "GenericResult2": [{"Count": 2}]}


def test_facet_gives_the_with_table_then_a_count_per_value(backend: DuckDBBackend) -> None:
    got = tables(f"{T} | facet by b, a with (where a >= 2 | project a)", backend)
    assert list(got) == ["WithResult", "b", "a"]
    assert sorted(r["a"] for r in got["WithResult"]) == [2, 3]
    assert sorted((r["b"], r["count_b"]) for r in got["b"]) == [("x", 2), ("y", 1)]
    assert sorted((r["a"], r["count_a"]) for r in got["a"]) == [(1, 1), (2, 1), (3, 1)]
    no_with = tables(f"{T} | facet by b", backend)
    assert list(no_with) == ["b"]


def test_several_tables_render_as_table_and_json(backend: DuckDBBackend) -> None:
    result = execute(f"{T} | fork (take 1) (count)", backend=backend, now=NOW)
    text = render(result, "table")
    assert "[GenericResult1]" in text and "[GenericResult2]" in text
    body = json.loads(render(result, "json"))
    assert [t["name"] for t in body["tables"]] == ["GenericResult1", "GenericResult2"]
    assert body["tables"][1]["rows"] == [{"Count": 3}]
    single = execute(f"{T} | count", backend=backend, now=NOW)
    assert single.tables == [] and "tables" not in json.loads(render(single, "json"))


def test_compile_query_lists_every_table(backend: DuckDBBackend) -> None:
    compiled = compile_query(f"{T} | fork (take 1) (count)", backend, NOW)
    assert [name for name, _, _ in compiled.results] == ["GenericResult1", "GenericResult2"]
    assert compiled.results[0][1] == compiled.sql
    assert compiled.results[1][2] == [("Count", "long")]


def test_each_fork_table_is_capped_and_says_so(backend: DuckDBBackend) -> None:
    result = execute(f"{T} | fork (take 3) (take 1)", backend=backend, now=NOW, row_cap=2)
    assert [(n, p.truncated, p.table.num_rows) for n, p in result.tables] == [
        ("GenericResult1", True, 2),
        ("GenericResult2", False, 1),
    ]


# -- bad input: the error names the place ------------------------------------------------------------

BAD: list[tuple[str, type[KqlError], tuple[int, int], str]] = [
    (f"{T}\n| fork (take 1) (count)\n| count", KqlSemanticError, (2, 3), "must be the query's last operator"),
    (f"let f = {T} | facet by b;\nf", KqlSemanticError, (1, 63), "must be the query's last operator"),
    (f"{T}\n| fork (take 1 | fork (count))", KqlSemanticError, (2, 18), "not fork"),
    (
        f"{T}\n| facet by a with (fork (count))",
        KqlSemanticError,
        (2, 20),
        "must be the query's last operator",
    ),
    (f"{T}\n| fork (join ({T}) on a)", KqlSemanticError, (2, 9), "not join"),
    (f"{T}\n| fork x=(take 1) x=(count)", KqlSemanticError, (2, 19), "two result tables are named 'x'"),
    (f"{T}\n| fork", KqlSyntaxError, (2, 7), "at least one subquery"),
    (f"{T}\n| fork (a)", KqlSyntaxError, (2, 8), "expected a subquery of operators"),
    (f"{T}\n| facet by nosuch", KqlSemanticError, (2, 12), "unknown column 'nosuch'"),
    (f"{T}\n| facet b", KqlSyntaxError, (2, 9), "'by'"),
    (f"{T}\n| reduce by b with threshold=1.5", KqlSemanticError, (2, 30), "between 0 and 1"),
    (f"{T}\n| reduce by b with threshold=a", KqlSemanticError, (2, 30), "unknown column or variable 'a'"),
    (f"{T}\n| reduce by b with characters=''", KqlSemanticError, (2, 31), "at least one separator"),
    (f"{T}\n| reduce by b with threshold=0.1, threshold=0.2", KqlSyntaxError, (2, 35), "given twice"),
    (f"{T}\n| reduce kind=other by b", KqlSyntaxError, (2, 15), "the only kind is 'source'"),
    (f"{T}\n| reduce b", KqlSyntaxError, (2, 10), "'by'"),
    (f"{T}\n| evaluate basket(2)", KqlSemanticError, (2, 19), "Threshold must be between 0.015 and 1"),
    (f"{T}\n| evaluate basket(0.1, b)", KqlSemanticError, (2, 24), "must be a numeric column"),
    (f"{T}\n| evaluate basket(0.1, '~', 0)", KqlSemanticError, (2, 29), "MaxDimensions must be between"),
    (f"{T}\n| evaluate basket(0.1, '~', '~', dynamic([1]))", KqlSemanticError, (2, 34), "custom wildcard"),
    (f"{T}\n| evaluate basket(threshold=0.1)", KqlSemanticError, (2, 29), "arguments are positional"),
    (f"{T}\n| evaluate autocluster(a)", KqlSemanticError, (2, 24), "unknown column or variable 'a'"),
    (f"{T}\n| evaluate autocluster('x')", KqlSemanticError, (2, 24), "SizeWeight must be a constant number"),
    (f"{T}\n| evaluate autocluster(1.5)", KqlSemanticError, (2, 24), "SizeWeight must be between 0 and 1"),
    (f"{T}\n| evaluate autocluster(0.5, '~', 0)", KqlSemanticError, (2, 34), "NumSeeds must be between"),
    (f"{T}\n| evaluate diffpatterns(b, 'x')", KqlSemanticError, (2, 12), "needs at least 3 arguments"),
    (f"{T}\n| evaluate diffpatterns(b + 1, 'x', 'y')", KqlSemanticError, (2, 27), "SplitColumn must name"),
    (f"{T}\n| evaluate diffpatterns(b, 'x', 'y', '~', 0.001)", KqlSemanticError, (2, 43), "Threshold must"),
    (f"{T}\n| evaluate diffpatterns(b, a, 'y')", KqlSemanticError, (2, 28), "unknown column or variable 'a'"),
    (f"{T}\n| evaluate diffpatterns_text(b)", KqlSemanticError, (2, 12), "needs at least 2 arguments"),
    (
        f"{T}\n| evaluate diffpatterns_text(a, a > 1)",
        KqlSemanticError,
        (2, 30),
        "TextColumn must be a string",
    ),
    (f"{T}\n| evaluate diffpatterns_text(b, a)", KqlSemanticError, (2, 33), "must be a bool expression"),
    (
        f"{T}\n| evaluate diffpatterns_text(b, a > 1, 1, 0.05, 30)",
        KqlSemanticError,
        (2, 49),
        "MaxTokens must",
    ),
]


@pytest.mark.parametrize(
    ("query", "kind", "where", "fragment"), BAD, ids=[f"{i}-{b[3]}" for i, b in enumerate(BAD)]
)
def test_bad_input_is_an_error_at_its_position(
    query: str, kind: type[KqlError], where: tuple[int, int], fragment: str, backend: DuckDBBackend
) -> None:
    with pytest.raises(kind) as info:
        execute(query, backend=backend, now=NOW)
    err = info.value
    assert fragment in str(err)
    assert (err.line, err.column) == where, str(err)


# -- the mining itself -------------------------------------------------------------------------------


def test_reduce_patterns_keep_the_terms_most_rows_share() -> None:
    rows = [["user 17 logged in"], ["user 23 logged in"], ["user 5 logged out"], ["disk full"]]
    got = mining.reduce_rows(rows, {"threshold": 0.5})  # a kept term is in at least half the rows
    assert got == [
        ["user * logged in", 2, "user 17 logged in"],
        ["user * logged *", 1, "user 5 logged out"],
        ["others", 1, ""],
    ]
    assert mining.reduce_rows([], {}) == []


def test_basket_counts_weights_and_keeps_closed_patterns_only() -> None:
    rows = [["a", "x", 2], ["a", "x", 1], ["a", "y", 1]]
    got = mining.basket(rows, {"columns": [0, 1], "weight": 2, "threshold": 0.5})
    # a alone (4 of 4) and a+x (3 of 4); x alone is left out: a+x matches the same rows
    assert got == [[0, 4, 100.0, "a", None], [1, 3, 75.0, "a", "x"]]


def test_diffpatterns_ignores_rows_of_neither_set() -> None:
    rows = [["p", "A"], ["p", "A"], ["q", "B"], ["p", "C"]]
    got = mining.diffpatterns(rows, {"columns": [0], "split": 1, "a": "A", "b": "B", "weight": None})
    assert got == [[0, 2, 0, 100.0, 0.0, 100.0, "p"], [1, 0, 1, 0.0, 100.0, 100.0, "q"]]


def test_diffpatterns_text_matches_texts_of_the_same_length_only() -> None:
    rows = [["a b", True], ["a b c", False]]
    got = mining.diffpatterns_text(rows, {"min_tokens": 1})
    assert got == [[1, 0, 100.0, 0.0, "a b"], [0, 1, 0.0, 100.0, "a b c"]]


def test_mining_gets_garbage_and_answers_nothing() -> None:
    for impl in (mining.basket, mining.autocluster, mining.diffpatterns, mining.diffpatterns_text):
        assert impl(None, None) == []
        assert impl([None, 5, "x"], {"columns": [0]}) == []


def test_explain_shows_each_table_sql() -> None:
    text = explain("datatable(a:long)[1] | fork (count) X=(take 1)")
    assert text.startswith("-- GenericResult1\n") and "\n-- X\n" in text
    assert not explain("datatable(a:long)[1] | count").startswith("--")


def test_cli_prints_every_table_and_a_bad_fork_exits_2() -> None:
    res = CliRunner().invoke(main, ["hunt", f"{T} | facet by b with (take 1)"])
    assert res.exit_code == 0, res.output
    assert "[WithResult]" in res.output and "[b]" in res.output and "count_b" in res.output
    res = CliRunner().invoke(main, ["hunt", "--format", "jsonl", f"{T} | fork (count) (take 1)"])
    assert res.exit_code == 0 and res.output.splitlines() == ['{"Count": 3}']  # jsonl: the first table
    res = CliRunner().invoke(main, ["hunt", f"{T} | fork (count) | take 1"])
    assert res.exit_code == 2 and "line 1, column" in res.output and "last operator" in res.output
