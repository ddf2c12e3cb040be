"""SQL primitives that differ between the DuckDB and Spark backends, and the final SQL text generation."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from huntvault.errors import KqlUnsupportedError
from huntvault.kql.values import anon, fn


class Dialect:
    """DuckDB spelling of the primitives the lowering needs (the default backend)."""

    name = "duckdb"
    passes = 1

    def integers(
        self, start: exp.Expression, stop: exp.Expression, step: exp.Expression | None = None
    ) -> exp.Expression:
        """A FROM source of the integers start, start+step, ... below `stop`, as column `i` of `r`.

        DuckDB's `range` table function streams them (a `range(...)` list under UNNEST would be built
        whole first: `range x from 1 to 2000000000 step 1` would need 16 GB before the first row)."""
        columns = [exp.to_identifier("i")]
        args = [start, stop] if step is None else [start, stop, step]
        return exp.Table(
            this=anon("range", *args), alias=exp.TableAlias(this=exp.to_identifier("r"), columns=columns)
        )

    def json_list_in_order(
        self, raw: exp.Expression, as_json: exp.Expression, order: exp.Expression
    ) -> exp.Expression:
        """An aggregate: the group's values as one JSON array, in `order` (make-series)."""
        del raw
        return anon(
            "to_json", exp.ArrayAgg(this=exp.Order(this=as_json, expressions=[exp.Ordered(this=order)]))
        )

    def substring_test(self, kind: str, hay: exp.Expression, needle: exp.Expression) -> exp.Expression:
        names = {"contains": "contains", "startswith": "starts_with", "endswith": "ends_with"}
        return anon(names[kind], hay, needle)

    def regex_match(self, value: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        return anon("regexp_matches", value, pattern)

    def regex_escape(self, value: exp.Expression) -> exp.Expression:
        return anon("regexp_escape", value)

    def regex_extract(self, value: exp.Expression, pattern: exp.Expression, group: int) -> exp.Expression:
        return anon("regexp_extract", value, pattern, exp.Literal.number(group))

    def regex_replace(
        self, value: exp.Expression, pattern: exp.Expression, repl: exp.Expression
    ) -> exp.Expression:
        return anon("regexp_replace", value, pattern, repl, exp.Literal.string("g"))

    def epoch_us(self, ts: exp.Expression) -> exp.Expression:
        return anon("epoch_us", ts)

    def from_epoch_us(self, micros: exp.Expression) -> exp.Expression:
        return anon("make_timestamptz", exp.Cast(this=micros, to=exp.DataType.build("BIGINT")))

    def add_micros(self, ts: exp.Expression, micros: exp.Expression) -> exp.Expression:
        return exp.Add(
            this=ts,
            expression=anon("to_microseconds", exp.Cast(this=micros, to=exp.DataType.build("BIGINT"))),
        )

    def json_extract(self, value: exp.Expression, path: exp.Expression) -> exp.Expression:
        return anon("json_extract", value, path)

    def json_string(self, value: exp.Expression) -> exp.Expression:
        return anon("json_extract_string", value, exp.Literal.string("$"))

    def try_json(self, text: exp.Expression) -> exp.Expression:
        """Text that may or may not be JSON, as JSON (null when invalid)."""
        return exp.Case(
            ifs=[
                exp.If(
                    this=anon("json_valid", text),
                    true=exp.Cast(this=text, to=exp.DataType.build("JSON", dialect="duckdb")),
                )
            ],
            default=exp.Null(),
        )

    def json_array_length(self, value: exp.Expression) -> exp.Expression:
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(this=anon("json_type", value), expression=exp.Literal.string("ARRAY")),
                    true=anon("json_array_length", value),
                )
            ],
            default=exp.Null(),
        )

    def json_type(self, value: exp.Expression) -> exp.Expression:
        return anon("json_type", value)

    def json_list(self, value: exp.Expression) -> exp.Expression:
        """A JSON array as a SQL list of JSON elements."""
        return exp.Cast(this=value, to=exp.DataType.build("JSON[]", dialect="duckdb"))

    def to_json(self, value: exp.Expression) -> exp.Expression:
        return anon("to_json", value)

    def bag_entries(self, bag: exp.Expression, as_array: bool) -> exp.Expression:
        """A property bag as a list of one-property bags (or of [key, value] pairs), for mv-expand."""
        path = exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string('$."'), expression=exp.column("k")),
            expression=exp.Literal.string('"'),
        )
        value = anon("json_extract", bag.copy(), path)
        body = (
            anon("json_array", exp.column("k"), value)
            if as_array
            else anon("json_object", exp.column("k"), value)
        )
        items = anon(
            "list_transform",
            anon("json_keys", bag),
            exp.Lambda(this=body, expressions=[exp.to_identifier("k")]),
        )
        return exp.Cast(this=items, to=exp.DataType.build("JSON[]", dialect="duckdb"))

    def strftime(self, ts: exp.Expression, fmt: str) -> exp.Expression:
        return anon("strftime", ts, exp.Literal.string(fmt))

    def render(self, tree: exp.Expression) -> str:
        for node in reversed(list(tree.find_all(exp.Anonymous))):  # deepest first
            if node.name == "__json_path":
                base, path = node.expressions
                node.replace(self.json_extract(base, path))
        for _ in range(
            self.passes
        ):  # rewrites may expose further rewrites (a function inside a rewritten one)
            tree = tree.transform(self._rewrite, copy=False)
        return parenthesise(tree).sql(dialect=self.name)

    def _rewrite(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name == "__json_path":
            base, path = node.expressions
            return self.json_extract(base, path)
        return node


class SparkDialect(Dialect):
    """Spark SQL: Java regex is close to RE2 for hunting patterns; JSON goes through get_json_object."""

    name = "spark"
    passes = 6

    def json_list_in_order(
        self, raw: exp.Expression, as_json: exp.Expression, order: exp.Expression
    ) -> exp.Expression:
        # Spark has no ordered aggregate: collect (order, value) pairs, sort them, keep the values
        pairs = anon(
            "collect_list", anon("named_struct", exp.Literal.string("o"), order, exp.Literal.string("v"), raw)
        )
        s = exp.to_identifier("__s")
        values = anon(
            "transform",
            anon("array_sort", pairs),
            exp.Lambda(
                this=exp.Dot(this=exp.column(s.copy()), expression=exp.to_identifier("v")), expressions=[s]
            ),
        )
        return _spark_json_text(values)

    def render(self, tree: exp.Expression) -> str:
        # the lowering reuses one expression object in several places (a value inside CASE branches);
        # copying makes each occurrence its own node, so every rewrite below reaches all of them
        return super().render(tree.copy())

    def integers(
        self, start: exp.Expression, stop: exp.Expression, step: exp.Expression | None = None
    ) -> exp.Expression:
        alias = exp.TableAlias(this=exp.to_identifier("r"), columns=[exp.to_identifier("i")])
        args = [start, stop] if step is None else [start, stop, step]
        return exp.Unnest(expressions=[anon("range", *args)], alias=alias)

    def substring_test(self, kind: str, hay: exp.Expression, needle: exp.Expression) -> exp.Expression:
        names = {"contains": "contains", "startswith": "startswith", "endswith": "endswith"}
        return anon(names[kind], hay, needle)

    def regex_match(self, value: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        return exp.RegexpLike(this=value, expression=pattern)

    def regex_escape(self, value: exp.Expression) -> exp.Expression:
        return exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string("\\Q"), expression=value),
            expression=exp.Literal.string("\\E"),
        )

    def regex_extract(self, value: exp.Expression, pattern: exp.Expression, group: int) -> exp.Expression:
        return anon("regexp_extract", value, pattern, exp.Literal.number(group))

    def regex_replace(
        self, value: exp.Expression, pattern: exp.Expression, repl: exp.Expression
    ) -> exp.Expression:
        return anon("regexp_replace", value, pattern, repl)

    def epoch_us(self, ts: exp.Expression) -> exp.Expression:
        return anon("unix_micros", ts)

    def from_epoch_us(self, micros: exp.Expression) -> exp.Expression:
        return anon("timestamp_micros", exp.Cast(this=micros, to=exp.DataType.build("BIGINT")))

    def add_micros(self, ts: exp.Expression, micros: exp.Expression) -> exp.Expression:
        return anon(
            "timestamp_micros",
            exp.Add(
                this=anon("unix_micros", ts),
                expression=exp.Cast(this=micros, to=exp.DataType.build("BIGINT")),
            ),
        )

    def json_extract(self, value: exp.Expression, path: exp.Expression) -> exp.Expression:
        if isinstance(path, exp.Literal):
            path = exp.Literal.string(_spark_path(path.this))
        return anon("get_json_object", value, path)

    def json_string(self, value: exp.Expression) -> exp.Expression:
        return exp.Case(
            ifs=[
                exp.If(
                    this=anon("startswith", value, exp.Literal.string('"')),
                    true=anon("from_json", value, exp.Literal.string("string")),
                )
            ],
            default=value,
        )

    def try_json(self, text: exp.Expression) -> exp.Expression:
        return text

    def json_array_length(self, value: exp.Expression) -> exp.Expression:
        return anon("json_array_length", value)

    def json_type(self, value: exp.Expression) -> exp.Expression:
        first = anon("substr", anon("ltrim", value), exp.Literal.number(1), exp.Literal.number(1))
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(this=first, expression=exp.Literal.string("[")),
                    true=exp.Literal.string("ARRAY"),
                ),
                exp.If(
                    this=exp.EQ(this=first, expression=exp.Literal.string("{")),
                    true=exp.Literal.string("OBJECT"),
                ),
            ],
            default=exp.Literal.string("VARCHAR"),
        )

    def json_list(self, value: exp.Expression) -> exp.Expression:
        return anon("from_json", value, exp.Literal.string("array<string>"))

    def to_json(self, value: exp.Expression) -> exp.Expression:
        return _spark_json_text(value)

    def bag_entries(self, bag: exp.Expression, as_array: bool) -> exp.Expression:
        key = _spark_json_text(exp.column("k"))
        value = anon(
            "get_json_object",
            bag.copy(),
            anon("concat", exp.Literal.string("$['"), exp.column("k"), exp.Literal.string("']")),
        )
        quoted = _spark_json_text(value)
        body = (
            anon(
                "concat",
                exp.Literal.string("["),
                key,
                exp.Literal.string(","),
                quoted,
                exp.Literal.string("]"),
            )
            if as_array
            else anon(
                "concat",
                exp.Literal.string("{"),
                key,
                exp.Literal.string(":"),
                quoted,
                exp.Literal.string("}"),
            )
        )
        return anon(
            "transform",
            anon("json_object_keys", bag),
            exp.Lambda(this=body, expressions=[exp.to_identifier("k")]),
        )

    def strftime(self, ts: exp.Expression, fmt: str) -> exp.Expression:
        return _date_format(ts, fmt)

    def _special(self, node: exp.Anonymous) -> exp.Expression | None:
        return _spark_special(node)

    def _rewrite(self, node: exp.Expression) -> exp.Expression:
        node = super()._rewrite(node)
        if isinstance(node, (exp.JSONExtractScalar, exp.JSONExtract)):
            # Spark keeps dynamic values as text from get_json_object: strings come unquoted already
            path = node.expression
            text = path.this if isinstance(path, exp.Literal) else None
            if isinstance(path, exp.JSONPath):
                text = path.sql(dialect="duckdb")[1:-1]
            if text == "$":
                base = node.this
                quoted = anon("startswith", base, exp.Literal.string('"'))
                unquote = anon(
                    "get_json_object",
                    exp.DPipe(
                        this=exp.DPipe(this=exp.Literal.string('{"v":'), expression=base.copy()),
                        expression=exp.Literal.string("}"),
                    ),
                    exp.Literal.string("$.v"),
                )
                return exp.Case(ifs=[exp.If(this=quoted, true=unquote)], default=base.copy())
            if text is not None:
                return anon("get_json_object", node.this, exp.Literal.string(_spark_path(text)))
        if isinstance(node, exp.TimeToStr) and isinstance(node.args.get("format"), exp.Literal):
            # sqlglot's own strftime -> Java mapping leaves literal letters such as `T` unquoted
            return _date_format(node.this, node.args["format"].this)
        if (
            isinstance(node, exp.Cast)
            and node.to.is_type(exp.DataType.Type.JSON)
            and isinstance(node.this, exp.Cast)
            and node.this.to.is_type(exp.DataType.Type.ARRAY)
            and isinstance(node.this.this, (exp.Filter, exp.Anonymous))
        ):
            # a list of JSON texts (make_list, make_set) as one JSON array: Spark joins the texts
            items = anon("array_join", node.this.this, exp.Literal.string(","))
            return anon("concat", exp.Literal.string("["), items, exp.Literal.string("]"))
        if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.ARRAY):
            return anon("from_json", node.this, exp.Literal.string("array<string>"))
        if isinstance(node, exp.Anonymous):
            special = self._special(node)
            if special is not None:
                return special
            name = node.name.lower()
            renames = {
                "epoch_us": "unix_micros",
                "make_timestamptz": "timestamp_micros",
                "json_extract_string": "get_json_object",
                "list_contains": "array_contains",
                "len": "size",
                "printf": "format_string",
                "strftime": "date_format",
                "json_extract": "get_json_object",
                "regexp_matches": "rlike",
                "starts_with": "startswith",
                "ends_with": "endswith",
                "to_microseconds": "__bad",
                "list_distinct": "array_distinct",
            }
            if name in renames:
                args = list(node.expressions)
                if (
                    name in ("json_extract_string", "json_extract")
                    and len(args) == 2
                    and isinstance(args[1], exp.Literal)
                ):
                    if args[1].this == "$":
                        return exp.Case(
                            ifs=[
                                exp.If(
                                    this=anon("startswith", args[0], exp.Literal.string('"')),
                                    true=anon(
                                        "get_json_object",
                                        exp.DPipe(
                                            this=exp.DPipe(
                                                this=exp.Literal.string('{"v":'), expression=args[0]
                                            ),
                                            expression=exp.Literal.string("}"),
                                        ),
                                        exp.Literal.string("$.v"),
                                    ),
                                )
                            ],
                            default=args[0],
                        )
                    args[1] = exp.Literal.string(_spark_path(args[1].this))
                return exp.Anonymous(this=renames[name], expressions=args)
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.JSON:
            return exp.DataType.build("STRING")
        return node


def _struct_pack(node: exp.Anonymous) -> exp.Expression:
    args: list[exp.Expression] = []
    for prop in node.expressions:
        args += [exp.Literal.string(prop.this.name), prop.expression]
    return anon("named_struct", *args)


#: strftime codes -> Java DateTimeFormatter letters (Spark's date_format)
_JAVA_CODES = {"Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "f": "SSSSSS"}


def _java_pattern(fmt: str) -> str:
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


def _date_format(ts: exp.Expression, fmt: str) -> exp.Expression:
    """strftime(ts, fmt) in Spark: date_format with the Java pattern."""
    return anon("date_format", ts, exp.Literal.string(_java_pattern(fmt)))


def _spark_json_text(value: exp.Expression) -> exp.Expression:
    """JSON text of any value: Spark's to_json takes only arrays, maps and structs, so the value is
    wrapped in a one-element array and the brackets are cut off."""
    wrapped = anon("to_json", anon("array", value))
    return anon(
        "substr",
        wrapped,
        exp.Literal.number(2),
        exp.Sub(this=anon("length", wrapped.copy()), expression=exp.Literal.number(2)),
    )


def _spark_to_json(args: list[exp.Expression]) -> exp.Expression | None:
    """DuckDB's to_json(x) for any x (make_list of numbers, series UDF arguments...)."""
    first = args[0] if len(args) == 1 else None
    if first is None or (isinstance(first, exp.Anonymous) and first.name.lower() == "array"):
        return None  # already Spark's form
    return _spark_json_text(first)


def _spark_sequence(args: list[exp.Expression]) -> exp.Expression:
    start, stop = args[0], args[1]
    if len(args) == 2:
        return anon("sequence", start, exp.Sub(this=stop, expression=exp.Literal.number(1)))
    step = args[2]
    last = exp.Sub(this=stop, expression=exp.Cast(this=anon("signum", step), to=exp.DataType.build("BIGINT")))
    return anon("sequence", start, last, step)


def _spark_special(node: exp.Anonymous) -> exp.Expression | None:
    """DuckDB-only functions rewritten into Spark's equivalents (a table of small rewrites)."""
    name = node.name.lower()
    args = list(node.expressions)
    rewrite = SPARK_REWRITES.get(name)
    return rewrite(args, node) if rewrite else None


SPARK_REWRITES: dict[str, Any] = {
    "struct_pack": lambda args, node: _struct_pack(node),
    "arg_max": lambda args, node: anon("max_by", *args),
    "arg_min": lambda args, node: anon("min_by", *args),
    "struct_extract": lambda args, node: exp.Dot(this=args[0], expression=exp.to_identifier(args[1].this)),
    "trunc": lambda args, node: (
        exp.Cast(this=args[0], to=exp.DataType.build("BIGINT")) if len(args) == 1 else None
    ),
    "list_transform": lambda args, node: anon("transform", *args),
    "to_json": lambda args, node: _spark_to_json(args),
    "strftime": lambda args, node: (
        _date_format(args[0], args[1].this)
        if len(args) == 2 and isinstance(args[1], exp.Literal) and args[1].is_string
        else None
    ),
    # DuckDB's range list stops before `stop`; Spark's sequence includes it (and `range` is a table there)
    "range": lambda args, node: _spark_sequence(args),
    # a JSON array of JSON texts (the series UDF's arguments): Spark has no json_array
    "json_array": lambda args, node: anon(
        "concat",
        exp.Literal.string("["),
        anon(
            "concat_ws",
            exp.Literal.string(","),
            *[
                anon(
                    "coalesce", exp.Cast(this=a, to=exp.DataType.build("STRING")), exp.Literal.string("null")
                )
                for a in args
            ],
        ),
        exp.Literal.string("]"),
    ),
    "list_filter": lambda args, node: anon("filter", *args),
    "list_value": lambda args, node: anon("array", *args),
    "list": lambda args, node: anon("collect_list", *args),
    "json_keys": lambda args, node: anon("json_object_keys", *args),
    "string_split": lambda args, node: anon(
        "split",
        args[0],
        exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string("\\Q"), expression=args[1]),
            expression=exp.Literal.string("\\E"),
        ),
    ),
    "regexp_extract_all": lambda args, node: anon("regexp_extract_all", *args),
    "list_concat": lambda args, node: anon("concat", *args),
    "list_position": lambda args, node: anon("array_position", *args),
    "list_slice": lambda args, node: anon(
        "slice",
        args[0],
        args[1],
        exp.Add(this=exp.Sub(this=args[2], expression=args[1]), expression=exp.Literal.number(1)),
    ),
    "date_part": lambda args, node: anon("date_part", *args),
    "md5": lambda args, node: anon("md5", *args),
    "sha256": lambda args, node: anon("sha2", args[0], exp.Literal.number(256)),
    "arbitrary": lambda args, node: anon("any_value", *args),
}


def _spark_path(path: str) -> str:
    import re

    if "[#-" in path:
        raise KqlUnsupportedError("negative array indexes (x[-1]) are not supported on the Spark engine")
    return re.sub(r'\."((?:[^"\\]|\\.)*)"', lambda m: "['" + m.group(1).replace("'", "\\'") + "']", path)


_NESTED = (exp.Binary, exp.Not, exp.Neg, exp.Between, exp.In, exp.Is)


def parenthesise(tree: exp.Expression) -> exp.Expression:
    """sqlglot prints trees as built, without precedence parentheses: wrap every nested operator."""
    for node in list(tree.walk()):
        if isinstance(node, (exp.Binary, exp.Not, exp.Neg)) and not isinstance(node, exp.Dot):
            for key in ("this", "expression"):
                child = node.args.get(key)
                if isinstance(child, _NESTED) and not isinstance(child, exp.Dot):
                    node.set(key, exp.Paren(this=child))
    return tree


DIALECTS: dict[str, Dialect] = {"duckdb": Dialect(), "spark": SparkDialect()}


def rewrite_fn(name: str, *args: exp.Expression) -> exp.Expression:
    return fn(name, *args)
