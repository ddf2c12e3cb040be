"""Kusto semantics the fixture format cannot show: tabular lists folded once at compile time (and the
run-time path past the fold cap), toscalar folded to a constant, engine errors mapped for people."""

from __future__ import annotations

import re

import pytest

from huntvault.errors import KqlEngineError, KqlError
from huntvault.kql import execute
from huntvault.kql.backends import DuckDBBackend
from huntvault.kql.engine_errors import for_people
from huntvault.kql.lowering import fold
from tests.support.kql import NOW

HUNTS = {
    "has_any over a make_set let": (
        'let ips = datatable(x:string)["a b", "c"] | summarize make_set(x);'
        ' datatable(y:string)["a b z", "c", "q", "ab"] | where y has_any (ips)',
        ["a b z", "c"],
    ),
    "has_any over a plain tabular let": (
        'let ips = datatable(x:string)["a b", "c"]; datatable(y:string)["a b z", "c", "q"] | where y has_any (ips)',
        ["a b z", "c"],
    ),
    "in over a make_set let (was DuckDB's Malformed JSON)": (
        'let ips = datatable(x:string)["a b", "c"] | summarize make_set(x);'
        ' datatable(y:string)["a b z", "c", "q"] | where y in (ips)',
        ["c"],
    ),
    "in~ over a distinct let": (
        'let ips = datatable(x:string)["A", "c"] | distinct x; datatable(y:string)["a", "C", "q"] | where y in~ (ips)',
        ["a", "C"],
    ),
    "!in over a tabular let": (
        'let ips = datatable(x:string)["a"]; datatable(y:string)["a", "b"] | where y !in (ips)',
        ["b"],
    ),
    "has_all over a tabular let": (
        'let t = datatable(x:string)["a", "b"]; datatable(y:string)["a b", "a c"] | where y has_all (t)',
        ["a b"],
    ),
}


@pytest.fixture(scope="module")
def backend() -> DuckDBBackend:
    return DuckDBBackend(None)


@pytest.mark.parametrize("cap", [fold.FOLD_CAP, 0], ids=["folded", "past-the-cap"])
@pytest.mark.parametrize("name", list(HUNTS))
def test_lists_over_tabular_expressions(
    name: str, cap: int, backend: DuckDBBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fold, "FOLD_CAP", cap)
    query, expected = HUNTS[name]
    result = execute(query, backend=backend, now=NOW)
    assert sorted((r["y"] for r in result.rows()), key=repr) == sorted(expected, key=repr), result.sql


def test_folded_list_is_a_constant_in_the_sql(backend: DuckDBBackend) -> None:
    query = 'let ips = datatable(x:string)["evil"] | summarize make_set(x); datatable(y:string)["evil.exe"] | where y has_any (ips)'
    sql = execute(query, backend=backend, now=NOW).sql
    where = sql[sql.upper().rindex("WHERE") :]
    assert "(?:evil)" in where and "SELECT" not in where.upper()  # the term regex of a constant list


def test_toscalar_folds_to_a_constant(backend: DuckDBBackend) -> None:
    query = "let m = toscalar(datatable(x:long)[1, 5, 3] | summarize max(x)); datatable(a:long)[4, 6] | where a > m"
    result = execute(query, backend=backend, now=NOW)
    assert result.rows() == [{"a": 6}]
    assert "LIMIT 1" not in result.sql.upper()


def test_toscalar_of_an_empty_table_is_null(backend: DuckDBBackend) -> None:
    result = execute("print v = toscalar(datatable(x:long)[] | project x)", backend=backend, now=NOW)
    assert result.rows() == [{"v": None}]


def test_range_is_capped_before_anything_is_built(backend: DuckDBBackend) -> None:
    result = execute("print r = range(1, 1000000000000) | mv-expand r | count", backend=backend, now=NOW)
    assert result.rows() == [{"Count": 1 << 20}]


def test_unknown_let_parameter_name_is_an_error(backend: DuckDBBackend) -> None:
    with pytest.raises(KqlError, match="has no parameter"):
        execute("let f = (a:long) { a + 1 }; print f(b=1)", backend=backend, now=NOW)


ENGINE_FAILURES = {
    "print 9223372036854775807 + 1": ("long overflow in addition", None),
    'print bin("a", 1)': ("cannot convert 'a' to real", (1, 12)),
    'print substring("abc", "x")': ("the query cannot run on DuckDB", None),
}


@pytest.mark.parametrize("query", list(ENGINE_FAILURES))
def test_engine_errors_are_for_people(query: str, backend: DuckDBBackend) -> None:
    fragment, where = ENGINE_FAILURES[query]
    with pytest.raises(KqlError) as info:
        execute(query, backend=backend, now=NOW)
    text = str(info.value)
    assert fragment in text
    assert not re.search(r"(Binder|Conversion|Out of Range|Invalid Input|Parser) Error", text), text
    if where is not None:
        assert (info.value.line, info.value.column) == where


def test_engine_error_mapping_rules() -> None:
    spark = KqlEngineError("Spark", "[UNRESOLVED_COLUMN.WITH_SUGGESTION] AnalysisException: cannot resolve x")
    assert str(for_people(spark, "T | where x > 1")) == "the query cannot run on Spark: cannot resolve x"
    col = KqlEngineError("DuckDB", 'Binder Error: Referenced column "Bogus" not found in FROM clause!')
    err = for_people(col, "T\n| where Bogus > 1")
    assert (err.message, err.line, err.column) == ("unknown column 'Bogus'", 2, 9)
    json_err = KqlEngineError(
        "DuckDB",
        'Conversion Error: Malformed JSON at byte 0 of input: unexpected character.  Input: "a b" when casting',
    )
    assert "'a b' is not valid JSON" in for_people(json_err, 'print "a b"').message


def test_make_set_inside_an_expression_keeps_one_order_on_big_groups(backend: DuckDBBackend) -> None:
    """A make_set inside an expression is a one-level `list()`: its rows are numbered, so a big group's
    first-seen order is the same on every run (DuckDB's threads combine partial lists in any order) and
    the same as the whole make_set's (the two-level plan). The input is sorted on a key projected away
    (parallel sort, no sort key left to order by)."""
    query = (
        "range i from 1 to 100000 step 1 | extend k = i % 3, h = hash(i) | sort by h asc | project-away h"
        " | summarize s = array_slice(make_set(i % 2000), 0, 99999), w = make_set(i % 2000) by k"
    )
    results = [execute(query, backend=backend, now=NOW) for _ in range(2)]
    numbered = results[0].sql.split("ROW_NUMBER() OVER ()", 1)[1]
    assert "ORDER BY" in numbered, results[0].sql  # the one-level list: list(... ORDER BY the position)
    runs = [sorted(r.rows(), key=lambda row: str(row["k"])) for r in results]
    assert runs[0] == runs[1]
    for row in runs[0]:
        s, w = row["s"], row["w"]
        assert isinstance(s, list) and s == w and len(s) > 1000
