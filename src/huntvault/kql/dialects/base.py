"""The SQL dialect seam: primitives the lowering asks for (DuckDB spelling) and the final SQL text generation.

A dialect is two things: the few primitives whose SQL *shape* differs between engines (methods
here, overridden in spark.py), and a sqlglot dialect whose generator carries a table of per-node
transforms (`TRANSFORMS`: typed node class -> SQL, `FUNCTIONS`: DuckDB function name -> SQL), as
sqlglot's own dialects do. Lowering always builds DuckDB-flavoured trees; a dialect only renders them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.generators.duckdb import DuckDBGenerator

from huntvault.kql.values import alias, call, dtype

#: one entry of a FUNCTIONS table: (generator, the call) -> SQL text
FunctionSQL = Callable[[DuckDBGenerator, exp.Anonymous], str]

#: marker of a JSON access built during lowering; chained accesses merge into one path before rendering
JSON_PATH = "__json_path"


def json_path(base: exp.Expression, path: str) -> exp.Expression:
    """A JSON access `base` at `path` ('$."a"[0]'); the dialect renders it (Spark rewrites the path)."""
    return exp.Anonymous(this=JSON_PATH, expressions=[base, exp.Literal.string(path)])


def _duckdb_json_path(gen: DuckDBGenerator, node: exp.Anonymous) -> str:
    base, path = node.expressions
    return gen.sql(call("json_extract", base, path))


def _is_marker(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() == JSON_PATH


def _is_root(path: exp.Expression | None) -> bool:
    """`'$'` as a string literal or as sqlglot's parsed JSON path."""
    if isinstance(path, exp.Literal):
        return path.is_string and path.this == "$"
    return isinstance(path, exp.JSONPath) and [type(p) for p in path.expressions] == [exp.JSONPathRoot]


def _fused_text(gen: DuckDBGenerator, marker: exp.Expression) -> str:
    """The text at a JSON path in one call: `json_extract_string(x, p)` parses x once, where the unfused
    `json_extract(x, p) ->> '$'` parses x, prints the value as JSON and parses that again (same result
    for every value: a JSON string unquoted, null for a missing key or a JSON null)."""
    base, path = marker.expressions
    return gen.func("JSON_EXTRACT_STRING", gen.sql(base), gen.sql(path))


def _duckdb_json_string(gen: DuckDBGenerator, node: exp.Anonymous) -> str:
    if len(node.expressions) == 2 and _is_marker(node.expressions[0]) and _is_root(node.expressions[1]):
        return _fused_text(gen, node.expressions[0])
    return gen.func(node.name, *node.expressions)


#: DuckDB needs only the marker rendered (and a JSON access fused with the unquoting of its result)
DUCKDB_FUNCTIONS: dict[str, FunctionSQL] = {
    JSON_PATH: _duckdb_json_path,
    "json_extract_string": _duckdb_json_string,
}


class HuntDuckDBGenerator(DuckDBGenerator):
    """sqlglot's DuckDB generator with huntvault's function table."""

    def anonymous_sql(self, expression: exp.Anonymous) -> str:
        rule = DUCKDB_FUNCTIONS.get(expression.name.lower())
        return rule(self, expression) if rule is not None else super().anonymous_sql(expression)

    def jsonextractscalar_sql(self, expression: exp.JSONExtractScalar) -> str:
        if _is_marker(expression.this) and _is_root(expression.expression):
            return _fused_text(self, expression.this)
        return str(super().jsonextractscalar_sql(expression))


class HuntDuckDB(DuckDB):
    """sqlglot's DuckDB dialect plus huntvault's function table."""

    Generator = HuntDuckDBGenerator


class Dialect:
    """DuckDB spelling of the primitives the lowering needs (the default backend)."""

    name = "duckdb"
    sql_dialect: type[SqlglotDialect] = HuntDuckDB

    def integers(
        self, start: exp.Expression, stop: exp.Expression, step: exp.Expression | None = None
    ) -> exp.Expression:
        """A FROM source of the integers start, start+step, ... below `stop`, as column `i` of `r`.

        DuckDB's `range` table function streams them (a `range(...)` list under UNNEST would be built
        whole first: `range x from 1 to 2000000000 step 1` would need 16 GB before the first row)."""
        columns = [exp.to_identifier("i")]
        args = [start, stop] if step is None else [start, stop, step]
        return exp.Table(
            this=call("range", *args), alias=exp.TableAlias(this=exp.to_identifier("r"), columns=columns)
        )

    def json_list_in_order(
        self, raw: exp.Expression, as_json: exp.Expression, order: exp.Expression
    ) -> exp.Expression:
        """An aggregate: the group's values as one JSON array, in `order` (make-series)."""
        del raw
        return call(
            "to_json", exp.ArrayAgg(this=exp.Order(this=as_json, expressions=[exp.Ordered(this=order)]))
        )

    def substring_test(self, kind: str, hay: exp.Expression, needle: exp.Expression) -> exp.Expression:
        names = {"contains": "contains", "startswith": "starts_with", "endswith": "ends_with"}
        return call(names[kind], hay, needle)

    def regex_match(self, value: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        return call("regexp_matches", value, pattern)

    def regex_escape(self, value: exp.Expression) -> exp.Expression:
        return call("regexp_escape", value)

    def regex_extract(self, value: exp.Expression, pattern: exp.Expression, group: int) -> exp.Expression:
        return call("regexp_extract", value, pattern, exp.Literal.number(group))

    def regex_replace(
        self, value: exp.Expression, pattern: exp.Expression, repl: exp.Expression
    ) -> exp.Expression:
        return call("regexp_replace", value, pattern, repl, exp.Literal.string("g"))

    def epoch_us(self, ts: exp.Expression) -> exp.Expression:
        return call("epoch_us", ts)

    def from_epoch_us(self, micros: exp.Expression) -> exp.Expression:
        return call("make_timestamptz", exp.Cast(this=micros, to=dtype("BIGINT")))

    def add_micros(self, ts: exp.Expression, micros: exp.Expression) -> exp.Expression:
        return exp.Add(
            this=ts,
            expression=call("to_microseconds", exp.Cast(this=micros, to=dtype("BIGINT"))),
        )

    def json_extract(self, value: exp.Expression, path: exp.Expression) -> exp.Expression:
        return call("json_extract", value, path)

    def json_string(self, value: exp.Expression) -> exp.Expression:
        return call("json_extract_string", value, exp.Literal.string("$"))

    def try_json(self, text: exp.Expression) -> exp.Expression:
        """Text that may or may not be JSON, as JSON (null when invalid)."""
        return exp.Case(
            ifs=[
                exp.If(
                    this=call("json_valid", text),
                    true=exp.Cast(this=text, to=dtype("JSON")),
                )
            ],
            default=exp.Null(),
        )

    def json_array_length(self, value: exp.Expression) -> exp.Expression:
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(this=call("json_type", value), expression=exp.Literal.string("ARRAY")),
                    true=call("json_array_length", value),
                )
            ],
            default=exp.Null(),
        )

    def json_type(self, value: exp.Expression) -> exp.Expression:
        return call("json_type", value)

    def json_list(self, value: exp.Expression) -> exp.Expression:
        """A JSON array as a SQL list of JSON elements."""
        return exp.Cast(this=value, to=dtype("JSON[]"))

    def to_json(self, value: exp.Expression) -> exp.Expression:
        return call("to_json", value)

    def zip_unnest(
        self, source: exp.Expression, keep: list[str], lists: list[exp.Expression], index: bool
    ) -> exp.Select:
        """mv-expand's rows: `keep` columns of `source` repeated for each position of the lists, which expand
        side by side (zipped, the shorter padded with nulls) as `__mv0`, `__mv1`...; with `index`, the
        position (from 0) as `__mvidx`. DuckDB zips the UNNESTs of one SELECT itself."""
        proj: list[exp.Expression] = [exp.column(n, quoted=True) for n in keep]
        for i, items in enumerate(lists):
            proj.append(alias(exp.Unnest(expressions=[items]), f"__mv{i}"))
        if index:
            positions = call("range", call("len", lists[0].copy()))
            proj.append(alias(exp.Unnest(expressions=[positions]), "__mvidx"))
        return exp.select(*proj).from_(source, copy=False)

    def one_per_key(self, source: exp.Expression, cols: list[str], keys: list[exp.Expression]) -> exp.Select:
        """One row of `source` per value of `keys` (any one: the first met), its columns `cols`.

        DuckDB: DISTINCT ON, a hash aggregate keeping each key's first row, where a row number over
        key partitions sorts every partition."""
        return (
            exp.select(*[exp.column(n, quoted=True) for n in cols])
            .from_(source, copy=False)
            .distinct(*keys, copy=False)
        )

    def expand_items(self, value: exp.Expression, bag_as_array: bool) -> exp.Expression:
        """mv-expand's items of a dynamic value (a column: it is read several times): an array's elements,
        a bag's one-property bags (or [key, value] pairs), any other value alone.

        DuckDB: an array is the one cast that succeeds (TRY_CAST to JSON[] parses the value once, where
        testing json_type first parses it twice); the other kinds are told apart only when it fails."""
        other = exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(this=self.json_type(value.copy()), expression=exp.Literal.string("OBJECT")),
                    true=self.bag_entries(value.copy(), bag_as_array),
                )
            ],
            default=call("list_value", exp.Cast(this=value.copy(), to=dtype("JSON"))),
        )
        return exp.Coalesce(this=exp.TryCast(this=value, to=dtype("JSON[]")), expressions=[other])

    def bag_entries(self, bag: exp.Expression, as_array: bool) -> exp.Expression:
        """A property bag as a list of one-property bags (or of [key, value] pairs), for mv-expand."""
        path = exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string('$."'), expression=exp.column("k")),
            expression=exp.Literal.string('"'),
        )
        value = call("json_extract", bag.copy(), path)
        body = (
            call("json_array", exp.column("k"), value)
            if as_array
            else call("json_object", exp.column("k"), value)
        )
        items = call(
            "list_transform",
            call("json_keys", bag),
            exp.Lambda(this=body, expressions=[exp.to_identifier("k")]),
        )
        return exp.Cast(this=items, to=dtype("JSON[]"))

    def strftime(self, ts: exp.Expression, fmt: str) -> exp.Expression:
        return call("strftime", ts, exp.Literal.string(fmt))

    def render(self, tree: exp.Expression) -> str:
        """The SQL text of a lowered tree in this dialect (one generation pass; the tree is not changed
        except for the precedence parentheses)."""
        return parenthesise(tree).sql(dialect=self.sql_dialect)


_NESTED = (exp.Binary, exp.Not, exp.Neg, exp.Between, exp.In, exp.Is)


def parenthesise(tree: exp.Expression) -> exp.Expression:
    """sqlglot prints trees as built, without precedence parentheses: wrap every nested operator."""
    for node in list(tree.walk()):
        if isinstance(node, (exp.Binary, exp.Not, exp.Neg)) and not isinstance(node, exp.Dot):
            for key in ("this", "expression"):
                child = node.args.get(key)
                if not isinstance(child, _NESTED) or isinstance(child, exp.Dot):
                    continue
                if isinstance(node, exp.Connector) and type(child) is type(node):
                    continue  # `a AND b AND c` stays flat: a long chain must not nest parentheses
                node.set(key, exp.Paren(this=child))
    return tree
