"""Spark SQL: the primitives whose shape differs, and the per-node transforms from DuckDB-flavoured trees.

Lowering builds DuckDB-flavoured sqlglot trees. Typed nodes (RegexpLike, ArrayContains, Transform...)
need nothing: sqlglot's Spark generator spells them. What it cannot know is in two tables, applied
while the SQL text is generated (each node once, children first through the generator's recursion):
`SPARK_TRANSFORMS` (typed node class -> SQL) and `SPARK_FUNCTIONS` (DuckDB function name -> SQL).
A transform that builds a new tree wraps Spark's own functions in `native()` so they are printed as
they are and never transformed again.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.generators.spark import SparkGenerator

from huntvault.errors import KqlUnsupportedError
from huntvault.kql.dialects.base import JSON_PATH, Dialect
from huntvault.kql.values import alias, call, dtype, portable_regex

Gen = SparkGenerator
#: typed node -> its Spark SQL
NodeSQL = Callable[..., str]
#: DuckDB function call (by lower-case name) -> its Spark SQL
CallSQL = Callable[[Gen, list[exp.Expression]], str]


class Native(exp.Anonymous):
    """A call to a Spark function, printed as is (never looked up in SPARK_FUNCTIONS)."""


def native(name: str, *args: exp.Expression) -> exp.Expression:
    return Native(this=name, expressions=list(args))


def grouped(e: exp.Expression) -> exp.Expression:
    """`e` in parentheses when it is an operator: trees built while generating are not parenthesised
    by the pre-pass (`parenthesise`), so an operand that is itself an operation gets them here."""
    return (
        exp.Paren(this=e) if isinstance(e, (exp.Binary, exp.Not, exp.Neg, exp.Between, exp.In, exp.Is)) else e
    )


def S(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def N(value: int) -> exp.Expression:
    return exp.Literal.number(value)


# ------------------------------------------------------------------ helpers shared by the tables


def spark_path(path: str) -> str:
    """A DuckDB JSON path ('$."a b"[0]') in Spark's get_json_object form ("$['a b'][0]")."""
    if "[#-" in path:
        raise KqlUnsupportedError("negative array indexes (x[-1]) are not supported on the Spark engine")
    return re.sub(r'\."((?:[^"\\]|\\.)*)"', lambda m: "['" + m.group(1).replace("'", "\\'") + "']", path)


def java_replacement(rewrite: str) -> str:
    """An RE2 rewrite (DuckDB's: `\\1` a group, `\\\\` a backslash) as a Java one (`$1`, `\\\\`, `\\$` a dollar)."""
    out: list[str] = []
    i = 0
    while i < len(rewrite):
        ch = rewrite[i]
        nxt = rewrite[i + 1] if i + 1 < len(rewrite) else ""
        if ch == "\\" and nxt.isdigit():
            out.append("$" + nxt)
            i += 2
            continue
        if ch == "\\" and nxt == "\\":
            out.append("\\\\")
            i += 2
            continue
        out.append("\\$" if ch == "$" else ch)
        i += 1
    return "".join(out)


def json_text(value: exp.Expression) -> exp.Expression:
    """JSON text of any value: Spark's to_json takes only arrays, maps and structs, so the value is
    wrapped in a one-element array and the brackets are cut off."""
    wrapped = native("to_json", native("array", value))
    return native("substr", wrapped, N(2), exp.Sub(this=native("length", wrapped.copy()), expression=N(2)))


def unquote_json(value: exp.Expression) -> exp.Expression:
    """A JSON value's text with a JSON string unquoted (DuckDB's `json_extract_string(x, '$')`)."""
    quoted = native("startswith", value, S('"'))
    wrapped = exp.DPipe(this=exp.DPipe(this=S('{"v":'), expression=grouped(value.copy())), expression=S("}"))
    unquoted = native("get_json_object", wrapped, S("$.v"))
    return exp.Case(ifs=[exp.If(this=quoted, true=unquoted)], default=value.copy())


#: strftime codes -> Java DateTimeFormatter letters (Spark's date_format)
_JAVA_CODES = {"Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "f": "SSSSSS"}


def java_pattern(fmt: str) -> str:
    """A strftime format as a Java pattern: codes translated, every other letter quoted (`T` is text)."""
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt) and fmt[i + 1] in _JAVA_CODES:
            out.append(_JAVA_CODES[fmt[i + 1]])
            i += 2
            continue
        if ch.isalpha():
            j = i
            while j < len(fmt) and fmt[j].isalpha():
                j += 1
            out.append(f"'{fmt[i:j]}'")
            i = j
            continue
        out.append("''" if ch == "'" else ch)
        i += 1
    return "".join(out)


def date_format(ts: exp.Expression, fmt: str) -> exp.Expression:
    """strftime(ts, fmt) in Spark: date_format with the Java pattern."""
    return native("date_format", ts, S(java_pattern(fmt)))


def _json_access(gen: Gen, base: exp.Expression, path: exp.Expression) -> str:
    """json_extract / json_extract_string / a JSON_PATH marker: get_json_object; `$` alone unquotes."""
    text = path.this if isinstance(path, exp.Literal) and path.is_string else None
    if isinstance(path, exp.JSONPath):
        text = path.sql(dialect="duckdb")[1:-1]
    if text == "$":
        return gen.sql(unquote_json(base))
    if text is not None:
        return gen.sql(native("get_json_object", base, S(spark_path(text))))
    return gen.sql(native("get_json_object", base, path))


# ------------------------------------------------------------------ typed nodes


def _json_extract(gen: Gen, node: exp.Expression) -> str:
    return _json_access(gen, node.this, node.expression)


def _time_to_str(gen: Gen, node: exp.Expression) -> str:
    fmt = node.args.get("format")
    if isinstance(fmt, exp.Literal):  # sqlglot's own mapping leaves literal letters such as `T` unquoted
        return gen.sql(date_format(node.this, fmt.this))
    return gen.func("date_format", node.this, fmt)


def _is_json(to: exp.DataType) -> bool:
    return to.is_type(exp.DataType.Type.JSON)


def _cast(gen: Gen, node: exp.Expression) -> str:
    assert isinstance(node, exp.Cast)
    inner = node.this
    if (
        _is_json(node.to)
        and isinstance(inner, exp.Cast)
        and inner.to.is_type(exp.DataType.Type.ARRAY)
        and isinstance(inner.this, (exp.Filter, exp.Anonymous))
    ):
        # a list of JSON texts (make_list, make_set) as one JSON array: Spark joins the texts
        items = native("array_join", inner.this, S(","))
        return gen.sql(native("concat", S("["), items, S("]")))
    if node.to.is_type(exp.DataType.Type.ARRAY):
        return gen.sql(native("from_json", inner, S("array<string>")))
    if _is_json(node.to):  # dynamic values are JSON text in Spark
        return gen.sql(node.__class__(this=inner, to=dtype("STRING")))
    inherited = SparkGenerator.TRANSFORMS.get(type(node))
    if inherited is not None:
        return str(inherited(gen, node))
    return gen.trycast_sql(node) if isinstance(node, exp.TryCast) else gen.cast_sql(node)


#: an interval unit -> its place among make_interval's arguments (years, months, weeks, days, hours, mins, secs)
_INTERVAL_ARGS = {"YEAR": 0, "MONTH": 1, "WEEK": 2, "DAY": 3, "HOUR": 4, "MINUTE": 5, "SECOND": 6}


def _interval(gen: Gen, node: exp.Expression) -> str:
    """`INTERVAL (n) unit` of a computed amount (datetime_add, startofyear(d, offset)): Spark's INTERVAL takes
    literals only, make_interval takes expressions."""
    assert isinstance(node, exp.Interval)
    amount = node.this
    unit = node.unit.name.upper() if node.unit is not None else ""
    if isinstance(amount, exp.Cast) and amount.to.is_type(*exp.DataType.TEXT_TYPES):
        amount = amount.this  # the DuckDB spelling casts the amount to text
    place = _INTERVAL_ARGS.get(unit)
    if isinstance(amount, exp.Literal) or place is None:
        return str(gen.interval_sql(node))
    parts: list[exp.Expression] = [N(0)] * 7
    kind = "DECIMAL(18,6)" if unit == "SECOND" else "INT"
    parts[place] = exp.Cast(this=amount, to=dtype(kind))
    return gen.sql(native("make_interval", *parts))


def _index_lambda(gen: Gen, node: exp.Expression) -> str:
    """list_filter / list_transform with an (x, i) lambda: DuckDB counts i from 1, Spark from 0."""
    lam = node.expression
    if isinstance(lam, exp.Lambda) and len(lam.expressions) == 2:
        index = lam.expressions[1].name
        body = lam.this.transform(
            lambda n: (
                exp.Paren(this=exp.Add(this=exp.column(index), expression=N(1)))
                if isinstance(n, exp.Column) and not n.table and n.name == index
                else n
            )
        )
        lam = exp.Lambda(this=body, expressions=[e.copy() for e in lam.expressions])
    name = "filter" if isinstance(node, exp.ArrayFilter) else "transform"
    return gen.func(name, gen.sql(node.this), gen.sql(lam))


def _real_div(gen: Gen, node: exp.Expression) -> str:
    """A real division (the lowering casts the dividend to DOUBLE) keeps IEEE results by zero, as Kusto and
    DuckDB do: x/0 is +inf or -inf, 0/0 and NaN/0 are NaN (Spark's own division answers null; Spark orders
    NaN above every number, so NaN is tested first)."""
    assert isinstance(node, exp.Div)
    dividend, divisor = node.this, node.expression
    real = isinstance(dividend, exp.Cast) and dividend.to.is_type(exp.DataType.Type.DOUBLE)
    if not real or isinstance(divisor, exp.Nullif):  # a long division (by NULLIF(b, 0)) stays null by zero
        return str(gen.div_sql(node))
    a, b = gen.sql(dividend), gen.sql(divisor)
    by_zero = (
        f"CASE WHEN isnan({a}) OR {a} = 0 THEN CAST('NaN' AS DOUBLE) WHEN {a} > 0 THEN CAST('Infinity' AS DOUBLE)"
        f" WHEN {a} < 0 THEN CAST('-Infinity' AS DOUBLE) END"
    )
    return f"(CASE WHEN {b} = 0 THEN {by_zero} ELSE {a} / {b} END)"


#: typed sqlglot node -> Spark SQL, where sqlglot's own Spark spelling is not what the lowering means
SPARK_TRANSFORMS: dict[type[exp.Expr], NodeSQL] = {
    exp.Interval: _interval,
    exp.ArrayFilter: _index_lambda,
    exp.Transform: _index_lambda,
    exp.JSONExtract: _json_extract,
    exp.JSONExtractScalar: _json_extract,
    exp.TimeToStr: _time_to_str,
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.Div: _real_div,
}


# ------------------------------------------------------------------ DuckDB functions by name


def rename(name: str) -> CallSQL:
    return lambda gen, args: gen.sql(native(name, *args))


def _struct_pack(gen: Gen, args: list[exp.Expression]) -> str:
    pairs: list[exp.Expression] = []
    for prop in args:
        pairs += [S(prop.this.name), prop.expression]
    return gen.sql(native("named_struct", *pairs))


def _to_json(gen: Gen, args: list[exp.Expression]) -> str:
    """DuckDB's to_json(x) for any x (make_list of numbers, series UDF arguments...)."""
    return gen.sql(json_text(args[0]))


def _sequence(gen: Gen, args: list[exp.Expression]) -> str:
    """DuckDB's range list (`range(stop)`, `range(start, stop[, step])`) stops before `stop` and is empty
    when it cannot reach it; Spark's sequence includes `stop` and fails on an empty range."""
    start, stop = (N(0), args[0]) if len(args) == 1 else (args[0], args[1])
    step = args[2] if len(args) > 2 else N(1)
    start, stop, step = grouped(start), grouped(stop), grouped(step)
    last = exp.Sub(this=stop, expression=exp.Cast(this=native("signum", step), to=dtype("BIGINT")))
    empty = exp.Or(
        this=exp.Paren(
            this=exp.And(
                this=exp.GT(this=step, expression=N(0)), expression=exp.GTE(this=start, expression=stop)
            )
        ),
        expression=exp.Paren(
            this=exp.And(
                this=exp.LT(this=step.copy(), expression=N(0)),
                expression=exp.LTE(this=start.copy(), expression=stop.copy()),
            )
        ),
    )
    return gen.sql(
        native("if", exp.Paren(this=empty), native("array"), native("sequence", start, last, step))
    )


def _json_array(gen: Gen, args: list[exp.Expression]) -> str:
    """A JSON array of JSON texts (the series UDF's arguments): Spark has no json_array."""
    texts = [native("coalesce", exp.Cast(this=a, to=dtype("STRING")), S("null")) for a in args]
    return gen.sql(native("concat", S("["), native("concat_ws", S(","), *texts), S("]")))


def _date_part(gen: Gen, args: list[exp.Expression]) -> str:
    """date_part: Spark numbers the days of the week from 1 (Sunday), DuckDB's `dow` from 0."""
    part = args[0]
    if isinstance(part, exp.Literal) and part.is_string and part.this.lower() == "dow":
        return gen.sql(exp.Sub(this=native("dayofweek", args[1]), expression=N(1)))
    return gen.sql(native("date_part", *args))


def _json_object(gen: Gen, args: list[exp.Expression]) -> str:
    """DuckDB's json_object(key, json, ...) (pack, bag_pack, url parts): Spark has none; the values are JSON
    texts already (dynamic is text here), the keys are quoted as JSON strings, a null value is JSON null."""
    members: list[exp.Expression] = []
    for key, value in zip(args[::2], args[1::2], strict=False):
        text = native("coalesce", exp.Cast(this=value, to=dtype("STRING")), S("null"))
        members.append(native("concat", json_text(key), S(":"), text))
    return gen.sql(native("concat", S("{"), native("concat_ws", S(","), *members), S("}")))


def _list_slice(gen: Gen, args: list[exp.Expression]) -> str:
    length = exp.Add(this=exp.Sub(this=grouped(args[2]), expression=grouped(args[1])), expression=N(1))
    return gen.sql(native("slice", args[0], args[1], length))


def _strftime(gen: Gen, args: list[exp.Expression]) -> str:
    if len(args) == 2 and isinstance(args[1], exp.Literal) and args[1].is_string:
        return gen.sql(date_format(args[0], args[1].this))
    return gen.sql(native("date_format", *args))


def _try_strptime(gen: Gen, args: list[exp.Expression]) -> str:
    """DuckDB's try_strptime(text, format) as Spark's to_timestamp (null on a mismatch when not ANSI)."""
    return gen.sql(exp.StrToTime(this=args[0], format=args[1]))


def _trunc(gen: Gen, args: list[exp.Expression]) -> str:
    if len(args) == 1:
        return gen.sql(exp.Cast(this=args[0], to=dtype("BIGINT")))
    return gen.sql(native("trunc", *args))


def _json_extract_call(gen: Gen, args: list[exp.Expression]) -> str:
    if len(args) != 2:
        return gen.sql(native("get_json_object", *args))
    return _json_access(gen, args[0], args[1])


def _json_path_marker(gen: Gen, args: list[exp.Expression]) -> str:
    return _json_access(gen, args[0], args[1])


def _list_extract(gen: Gen, args: list[exp.Expression]) -> str:
    """DuckDB's list_extract(list, i): 1-based, null out of range and at 0 (Spark's [i] counts from 0, and its
    try_element_at refuses index 0)."""
    at = exp.Nullif(this=exp.Cast(this=args[1], to=dtype("INT")), expression=N(0))
    return gen.sql(native("try_element_at", args[0], at))


def _no_micro_interval(gen: Gen, args: list[exp.Expression]) -> str:
    raise KqlUnsupportedError("to_microseconds has no Spark spelling (add_micros is used there)")


def _isinf(gen: Gen, args: list[exp.Expression]) -> str:
    x = gen.sql(args[0])
    return f"(abs({x}) = CAST('Infinity' AS DOUBLE))"


def _isfinite(gen: Gen, args: list[exp.Expression]) -> str:
    x = gen.sql(args[0])  # NaN is neither finite nor infinite; Spark orders NaN above Infinity
    return f"(NOT isnan({x}) AND abs({x}) < CAST('Infinity' AS DOUBLE))"


def _interval_seconds(gen: Gen, args: list[exp.Expression]) -> str:
    """epoch(TRY_CAST(text AS INTERVAL)), timespan text's fallback past Kusto's `[-][d.]hh:mm:ss` form
    (`2 days`, which Kusto does not read either): null on Spark, which has no seconds of an interval."""
    del gen, args
    return "CAST(NULL AS DOUBLE)"


#: DuckDB function (lower-case name) -> Spark SQL; names not listed print as they are
SPARK_FUNCTIONS: dict[str, CallSQL] = {
    JSON_PATH: _json_path_marker,
    "epoch": _interval_seconds,
    "json_extract": _json_extract_call,
    "json_extract_string": _json_extract_call,
    "struct_pack": _struct_pack,
    "trunc": _trunc,
    "to_json": _to_json,
    "strftime": _strftime,
    "range": _sequence,
    "json_array": _json_array,
    "json_object": _json_object,
    "date_part": _date_part,
    "list": rename("collect_list"),
    "list_position": rename("array_position"),
    "list_slice": _list_slice,
    "list_extract": _list_extract,
    "arbitrary": rename("any_value"),
    "epoch_us": rename("unix_micros"),
    "make_timestamptz": rename("timestamp_micros"),
    "printf": rename("format_string"),
    "try_strptime": _try_strptime,
    "to_microseconds": _no_micro_interval,
    "isinf": _isinf,
    "isfinite": _isfinite,
}


def _native(gen: Gen, node: exp.Expression) -> str:
    return gen.func(node.name, *node.expressions)


class HuntSparkGenerator(SparkGenerator):
    """sqlglot's Spark generator plus huntvault's transform tables."""

    TRANSFORMS = {**SparkGenerator.TRANSFORMS, **SPARK_TRANSFORMS, Native: _native}

    def anonymous_sql(self, expression: exp.Anonymous) -> str:
        if not isinstance(expression, Native):
            rule = SPARK_FUNCTIONS.get(expression.name.lower())
            if rule is not None:
                return rule(self, list(expression.expressions))
        return super().anonymous_sql(expression)


class HuntSpark(Spark):
    """sqlglot's Spark dialect plus huntvault's transform tables."""

    Generator = HuntSparkGenerator


class SparkDialect(Dialect):
    """Spark SQL: Java regex is close to RE2 for hunting patterns; JSON goes through get_json_object."""

    name = "spark"
    sql_dialect = HuntSpark

    def json_list_in_order(
        self, raw: exp.Expression, as_json: exp.Expression, order: exp.Expression
    ) -> exp.Expression:
        # Spark has no ordered aggregate: collect (order, value) pairs, sort them, keep the values
        pairs = native("collect_list", native("named_struct", S("o"), order, S("v"), raw))
        s = exp.to_identifier("__s")
        values = native(
            "transform",
            native("array_sort", pairs),
            exp.Lambda(
                this=exp.Dot(this=exp.column(s.copy()), expression=exp.to_identifier("v")), expressions=[s]
            ),
        )
        return json_text(values)

    def integers(
        self, start: exp.Expression, stop: exp.Expression, step: exp.Expression | None = None
    ) -> exp.Expression:
        alias = exp.TableAlias(this=exp.to_identifier("r"), columns=[exp.to_identifier("i")])
        args = [start, stop] if step is None else [start, stop, step]
        return exp.Unnest(expressions=[call("range", *args)], alias=alias)

    def substring_test(self, kind: str, hay: exp.Expression, needle: exp.Expression) -> exp.Expression:
        names = {"contains": "contains", "startswith": "startswith", "endswith": "endswith"}
        return native(names[kind], hay, needle)

    def regex_match(self, value: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        return exp.RegexpLike(this=value, expression=portable_regex(pattern))

    def regex_escape(self, value: exp.Expression) -> exp.Expression:
        return exp.DPipe(this=exp.DPipe(this=S("\\Q"), expression=value), expression=S("\\E"))

    def regex_replace(
        self, value: exp.Expression, pattern: exp.Expression, repl: exp.Expression
    ) -> exp.Expression:
        if isinstance(repl, exp.Literal) and repl.is_string:
            repl = S(java_replacement(repl.this))
        return native("regexp_replace", value, portable_regex(pattern), repl)

    def epoch_us(self, ts: exp.Expression) -> exp.Expression:
        return native("unix_micros", ts)

    def from_epoch_us(self, micros: exp.Expression) -> exp.Expression:
        return native("timestamp_micros", exp.Cast(this=micros, to=dtype("BIGINT")))

    def add_micros(self, ts: exp.Expression, micros: exp.Expression) -> exp.Expression:
        return native(
            "timestamp_micros",
            exp.Add(
                this=native("unix_micros", ts),
                expression=exp.Cast(this=micros, to=dtype("BIGINT")),
            ),
        )

    def json_extract(self, value: exp.Expression, path: exp.Expression) -> exp.Expression:
        if isinstance(path, exp.Literal):
            path = S(spark_path(path.this))
        return native("get_json_object", value, path)

    def json_string(self, value: exp.Expression) -> exp.Expression:
        return exp.Case(
            ifs=[
                exp.If(this=native("startswith", value, S('"')), true=native("from_json", value, S("string")))
            ],
            default=value,
        )

    def try_json(self, text: exp.Expression) -> exp.Expression:
        return text

    def json_array_length(self, value: exp.Expression) -> exp.Expression:
        return native("json_array_length", value)

    def json_type(self, value: exp.Expression) -> exp.Expression:
        first = native("substr", native("ltrim", value), N(1), N(1))
        return exp.Case(
            ifs=[
                exp.If(this=exp.EQ(this=first, expression=S("[")), true=S("ARRAY")),
                exp.If(this=exp.EQ(this=first.copy(), expression=S("{")), true=S("OBJECT")),
            ],
            default=S("VARCHAR"),
        )

    def json_list(self, value: exp.Expression) -> exp.Expression:
        return native("from_json", value, S("array<string>"))

    def to_json(self, value: exp.Expression) -> exp.Expression:
        return json_text(value)

    def zip_unnest(
        self, source: exp.Expression, keep: list[str], lists: list[exp.Expression], index: bool
    ) -> exp.Select:
        # one EXPLODE per SELECT (two would cross): explode the positions, then pick each list's item
        sizes = [native("size", grouped(lst.copy())) for lst in lists]
        longest = sizes[0] if len(sizes) == 1 else native("greatest", *sizes)
        last = exp.Sub(this=grouped(longest), expression=N(1))
        positions = native(
            "if",
            exp.LTE(this=grouped(longest.copy()), expression=N(0)),
            native("array"),
            native("sequence", N(0), last),
        )
        kept = [exp.column(n, quoted=True) for n in keep]
        inner = exp.select(
            *kept,
            alias(native("explode", positions), "__mvidx"),
            *[alias(lst, f"__l{i}") for i, lst in enumerate(lists)],
        ).from_(source, copy=False)
        pos = exp.Add(this=exp.column("__mvidx", quoted=True), expression=N(1))
        items = [
            alias(native("try_element_at", exp.column(f"__l{i}", quoted=True), pos.copy()), f"__mv{i}")
            for i in range(len(lists))
        ]
        return exp.select(*[k.copy() for k in kept], *items, exp.column("__mvidx", quoted=True)).from_(
            inner.subquery("_zip", copy=False), copy=False
        )

    def one_per_key(self, source: exp.Expression, cols: list[str], keys: list[exp.Expression]) -> exp.Select:
        # no DISTINCT ON: the first row of each key partition by row number
        rn = exp.Window(
            this=exp.RowNumber(),
            partition_by=keys,
            order=exp.Order(expressions=[exp.Ordered(this=k.copy()) for k in keys]),
        )
        numbered = exp.select(exp.Star(), alias(rn, "__rn")).from_(source, copy=False)
        return (
            exp.select(*[exp.column(n, quoted=True) for n in cols])
            .from_(numbered.subquery("_one", copy=False), copy=False)
            .where(exp.EQ(this=exp.column("__rn", quoted=True), expression=N(1)), copy=False)
        )

    def expand_items(self, value: exp.Expression, bag_as_array: bool) -> exp.Expression:
        # JSON is text here: the kind is told by its first character, then the array is parsed
        kind = self.json_type(value)
        return exp.Case(
            ifs=[
                exp.If(this=exp.EQ(this=kind, expression=S("ARRAY")), true=self.json_list(value.copy())),
                exp.If(
                    this=exp.EQ(this=kind.copy(), expression=S("OBJECT")),
                    true=self.bag_entries(value.copy(), bag_as_array),
                ),
            ],
            default=call("list_value", exp.Cast(this=value.copy(), to=dtype("JSON"))),
        )

    def bag_entries(self, bag: exp.Expression, as_array: bool) -> exp.Expression:
        # each value's own JSON text: the bag parsed once as a map of variants (get_json_object gives a
        # number or a nested value as an unquoted string, which came back as a JSON string: {"a": "1"})
        key = json_text(exp.column("k"))
        values = native("from_json", bag.copy(), S("map<string,variant>"))
        quoted = native("to_json", exp.Bracket(this=values, expressions=[exp.column("k")]))
        if as_array:
            body = native("concat", S("["), key, S(","), quoted, S("]"))
        else:
            body = native("concat", S("{"), key, S(":"), quoted, S("}"))
        return native(
            "transform",
            native("json_object_keys", bag),
            exp.Lambda(this=body, expressions=[exp.to_identifier("k")]),
        )

    def strftime(self, ts: exp.Expression, fmt: str) -> exp.Expression:
        return date_format(ts, fmt)
