"""Query bounds: long chains, big lists, deep nesting, long pipelines and let chains either compile and run or get
a KqlError naming the bound (never a RecursionError, a crash or a hang); compile budget and cancellation;
a seeded fuzz of the compile path; the hunt API answers 400 for each."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from huntvault.archive import Archive
from huntvault.config import Config
from huntvault.errors import KqlCancelledError, KqlError, KqlLimitError, KqlSyntaxError
from huntvault.kql import HuntLimits, QueryBounds, compile_query, execute, open_backend, parse
from huntvault.kql.ir import Catalog
from huntvault.web.app import create_app
from tests.support.kql import NOW, load_cases

BOUNDS = QueryBounds()


@pytest.fixture(scope="module")
def literal() -> Catalog:
    return open_backend(None)


def rows(query: str, backend: Catalog) -> list[dict[str, object]]:
    return execute(query, backend=backend, now=NOW).rows()


def limit_error(query: str, backend: Catalog) -> KqlLimitError:
    with pytest.raises(KqlLimitError) as info:
        compile_query(query, backend, NOW)
    return info.value


# ---------------------------------------------------------------- shapes that must compile and run


def test_a_1000_term_or_chain_runs(literal: Catalog) -> None:
    query = (
        "range x from 1 to 20 step 1 | where " + " or ".join(f"x == {i}" for i in range(5, 1005)) + " | count"
    )
    assert rows(query, literal) == [{"Count": 16}]


def test_a_1000_term_and_chain_runs(literal: Catalog) -> None:
    query = (
        "range x from 1 to 20 step 1 | where "
        + " and ".join(f"x != {i}" for i in range(10, 1010))
        + " | count"
    )
    assert rows(query, literal) == [{"Count": 9}]


def test_a_sigma_hunt_with_231_has_terms_compiles(literal: Catalog) -> None:
    """The shape that gave a RecursionError: a Sigma rule's `or` of 231 `has` tests, grouped in parentheses."""
    terms = " or ".join(
        f'(ProcessCommandLine has "tool{i}.exe" and FileName =~ "x{i}.exe")' for i in range(231)
    )
    query = f"datatable(ProcessCommandLine:string, FileName:string)['run tool7.exe now', 'X7.EXE'] | where {terms}"
    sql = compile_query(query, literal, NOW).sql  # running it is DuckDB's regex planning (issue #12, item 5)
    assert sql.count("REGEXP_MATCHES") == 231 and sql.count(" OR ") == 230


@pytest.mark.parametrize("kind", ["long", "string"])
def test_an_in_list_of_10000_items_runs(literal: Catalog, kind: str) -> None:
    items = [str(i) if kind == "long" else f'"v{i}"' for i in range(10_000)]
    source = (
        "range x from 9990 to 10010 step 1"
        if kind == "long"
        else "range n from 9990 to 10010 step 1 | extend x = strcat('v', n)"
    )
    query = f"{source} | where x in ({', '.join(items)}) | count"
    assert rows(query, literal) == [{"Count": 10}]


def test_500_chained_scalar_lets_run(literal: Catalog) -> None:
    lets = ["let a0 = 1"] + [f"let a{i} = a{i - 1} + 1" for i in range(1, 500)]
    assert rows("; ".join(lets) + "; print a499", literal) == [{"a499": 500}]


def test_a_300_operator_pipeline_runs(literal: Catalog) -> None:
    ops = "".join(f"| extend y{i} = x + {i} | where y{i} > 0 | project-away y{i} " for i in range(100))
    assert rows(f"print x = 1 {ops}", literal) == [{"x": 1}]


def test_limits_are_exact_at_their_boundary(literal: Catalog) -> None:
    """The documented maxima are allowed; one more is the error naming the bound."""
    at = BOUNDS.max_nesting - 2  # the query and `print` are the first two levels
    assert rows("print x = " + "(" * at + "1" + ")" * at, literal) == [{"x": 1}]
    assert "nests deeper than 200" in str(
        limit_error("print x = " + "(" * (at + 1) + "1" + ")" * (at + 1), literal)
    )
    pipeline = "print x = 1 " + "| take 5 " * BOUNDS.max_pipeline
    assert rows(pipeline, literal) == [{"x": 1}]
    assert "more than 300 operators" in str(limit_error(pipeline + "| take 5", literal))


# ---------------------------------------------------------------- shapes past a bound: a clear error


def test_2000_nested_parentheses_name_the_nesting_bound(literal: Catalog) -> None:
    err = limit_error("print x = " + "(" * 2000 + "1" + ")" * 2000, literal)
    assert "nests deeper than 200 levels" in err.message and (err.line, err.column) == (1, 210)


def test_5000_chained_plus_name_the_expression_depth_bound(literal: Catalog) -> None:
    err = limit_error("print x = " + " + ".join(["1"] * 5000), literal)
    assert "more than 300 operators deep" in err.message and err.line == 1


def test_a_3000_operator_pipeline_names_the_pipeline_bound(literal: Catalog) -> None:
    err = limit_error("print x = 1\n" + "| where x > 0\n" * 3000, literal)
    assert "a pipeline has more than 300 operators" in err.message and err.line == 302


def test_500_chained_tabular_lets_name_the_sql_depth_bound(literal: Catalog) -> None:
    lets = ["let t0 = print x = 1"] + [f"let t{i} = t{i - 1} | take 1" for i in range(1, 500)]
    assert "SELECTs deep" in limit_error("; ".join(lets) + "; t499", literal).message


def test_5000_unary_minus_and_deep_dynamic_name_the_nesting_bound(literal: Catalog) -> None:
    assert "nests deeper" in limit_error("print x = " + "-" * 5000 + "1", literal).message
    assert (
        "nests deeper"
        in limit_error("print d = dynamic(" + "[" * 300 + "1" + "]" * 300 + ")", literal).message
    )


def test_a_query_past_the_size_bound_is_refused_before_lexing(literal: Catalog) -> None:
    big = "print x = '" + "a" * BOUNDS.max_chars + "'"
    assert "characters long; the maximum is 1,000,000" in limit_error(big, literal).message


def test_a_non_ascii_letter_outside_a_string_is_a_syntax_error_with_position() -> None:
    with pytest.raises(KqlSyntaxError) as info:
        parse("print é")
    assert (info.value.line, info.value.column) == (1, 7)
    assert "unexpected letter 'é' outside a string" in info.value.message
    assert parse("print 'é'").query is not None  # inside a string it is text


@pytest.mark.parametrize("text", ["print ²", "print 1e999d", "print x = time(99999999999999:00)", "print ٣"])
def test_odd_characters_and_out_of_range_literals_are_syntax_errors(text: str) -> None:
    with pytest.raises(KqlSyntaxError):
        parse(text)


# ---------------------------------------------------------------- compile budget and cancellation


def test_the_compile_budget_ends_with_an_error_naming_it(literal: Catalog) -> None:
    with pytest.raises(KqlLimitError, match=r"compile budget \(\[hunt\].compile_seconds\)"):
        compile_query("print x = 1", literal, NOW, bounds=QueryBounds(compile_seconds=1e-9))


def test_a_cancelled_compile_stops_at_once(literal: Catalog) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(KqlCancelledError):
        compile_query("print x = 1", literal, NOW, cancel=cancel)


def test_cancelling_a_long_parse_stops_it(literal: Catalog) -> None:
    """The parser looks at the cancel event as it goes: a 400k-token query stops when it is set."""
    cancel = threading.Event()
    query = "print x = 1 in (" + ", ".join(["1"] * 200_000) + ")"
    timer = threading.Timer(0.05, cancel.set)
    timer.start()
    try:
        with pytest.raises(KqlCancelledError):
            compile_query(
                query, literal, NOW, cancel=cancel, bounds=QueryBounds(compile_seconds=0, max_chars=10**7)
            )
    finally:
        timer.cancel()


def test_cancelling_a_running_hunt_interrupts_duckdb(literal: Catalog) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    try:
        with pytest.raises(KqlCancelledError):
            execute("range x from 1 to 5000000000 step 1 | summarize sum(x)", backend=literal, cancel=cancel)
    finally:
        timer.cancel()
    assert rows("print x = 1", literal) == [{"x": 1}]  # the backend serves the next hunt


# ---------------------------------------------------------------- fuzz: only KqlErrors, never an internal error

FUZZ_PIECES = [
    "(",
    ")",
    "[",
    "]",
    "|",
    ",",
    "'",
    '"',
    "==",
    "!",
    "~",
    "é",
    "ü",
    "²",
    "1e",
    ".",
    "..",
    "$left",
    "dynamic(",
    "datetime(",
    "let ",
    ";",
    " or ",
    " and ",
    "*",
    "-",
    "summarize",
    "where",
    "{",
    "}",
    "take",
    "project",
    "=",
    "by",
    "\\",
    "in (",
    "has_any",
    "0x",
    "1d",
    "null",
    "//",
    "\n",
]


def test_seeded_fuzz_of_the_compile_path_gives_only_kql_errors(literal: Catalog) -> None:
    rng = random.Random(16)
    cases = [c.query for c in load_cases()]
    internal: list[str] = []
    for i in range(1500):
        text = rng.choice(cases)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.5:
                text = text[:at] + rng.choice(FUZZ_PIECES) + text[at:]
            else:
                text = text[:at] + text[at + rng.randint(1, 4) :]
        try:
            compile_query(text, literal, NOW)
        except KqlError as exc:
            if "internal error" in exc.message:
                internal.append(f"{i}: {text!r}: {exc.message}")
    assert internal == []


LITERALS = [
    "'a'",
    "1",
    "1.5",
    "dynamic([1,2])",
    "dynamic({'a':1})",
    "datetime(2024-01-01)",
    "1d",
    "true",
    "null",
    "int(null)",
    "-1",
    "''",
    "dynamic(null)",
    "guid(00000000-0000-0000-0000-000000000000)",
    "typeof(long)",
]
LITERAL_TOKEN = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|\b\d+(?:\.\d+)?[a-z]*\b|\b(?:true|false|null)\b")


def test_seeded_type_confusion_fuzz_runs_or_fails_cleanly(literal: Catalog) -> None:
    """Fixture queries with literals swapped for literals of other types, arguments dropped or added:
    each runs, or fails with a KqlError that is not an internal one (the lowering's safety net)."""
    rng = random.Random(12)
    cases = [c.query for c in load_cases()]
    internal: list[str] = []
    for i in range(400):
        text = rng.choice(cases)
        for _ in range(rng.randint(1, 3)):
            found = list(LITERAL_TOKEN.finditer(text))
            if found:
                m = rng.choice(found)
                text = text[: m.start()] + rng.choice(LITERALS) + text[m.end() :]
        commas = [m.start() for m in re.finditer(",", text)]
        if commas and rng.random() < 0.3:
            at = rng.choice(commas)
            text = text[:at] + (f", {rng.choice(LITERALS)}," if rng.random() < 0.5 else "") + text[at + 1 :]
        try:
            execute(text, backend=literal, now=NOW, timeout=30)
        except KqlError as exc:
            if "internal error" in exc.message:
                internal.append(f"{i}: {text!r}: {exc.message}")
    assert internal == []


# ---------------------------------------------------------------- the hunt API


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("limits")
    with Archive(root / "archive") as arc:
        arc.append_rows(
            "DeviceEvents", [{"Timestamp": "2024-06-15T10:00:00Z", "DeviceId": "d1", "ReportId": 1}]
        )
    cfg = Config()
    cfg.server.admin_key = "admin-key"
    cfg.server.query_key = "query-key"
    cfg.index.path = str(root / "index")
    with TestClient(create_app(cfg, archive_dir=root / "archive")) as c:
        yield c


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("print x = " + "(" * 2000 + "1" + ")" * 2000, "nests deeper than 200 levels"),
        ("print x = " + " + ".join(["1"] * 5000), "operators deep"),
        ("print x = 1 " + "| where x > 0 " * 3000, "more than 300 operators"),
        (
            "; ".join(["let t0 = print x = 1"] + [f"let t{i} = t{i - 1} | take 1" for i in range(1, 500)])
            + "; t499",
            "SELECTs deep",
        ),
        ("print é", "outside a string"),
    ],
    ids=["parens", "plus", "pipeline", "lets", "non-ascii"],
)
def test_the_hunt_api_answers_400_naming_the_bound(client: TestClient, query: str, fragment: str) -> None:
    reply = client.post("/api/hunt", json={"query": query}, headers={"api-key": "query-key"})
    assert reply.status_code == 400, reply.text
    assert fragment in reply.json()["error"]["message"]


def test_the_hunt_api_runs_a_long_or_chain(client: TestClient) -> None:
    terms = " or ".join(f'DeviceId == "d{i}"' for i in range(1000))
    reply = client.post(
        "/api/hunt", json={"query": f"DeviceEvents | where {terms} | count"}, headers={"api-key": "query-key"}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["rows"] == [[1]]


def test_limits_follow_the_hunt_config(tmp_path: Path) -> None:
    limits = HuntLimits(compile_seconds=2.5)
    assert limits.bounds().compile_seconds == 2.5
    assert open_backend(None, limits=limits).limits.compile_seconds == 2.5
