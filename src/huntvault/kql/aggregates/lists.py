"""Aggregates that build dynamic values: make_list, make_set (+ _if, legacy spellings), make_bag."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import AggLowering, Aggregate, Compiler, SetInput, SetLowering
from huntvault.kql.values import T, as_bool, call, dtype, to_dynamic

JSON = dtype("JSON")
JSON_LIST = dtype("JSON[]")


def _json_text(text: str) -> exp.Expression:
    return exp.Cast(this=exp.Literal.string(text), to=JSON.copy())


def _lam(body: exp.Expression, *params: str) -> exp.Expression:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(p) for p in params])


#: up to this many distinct values, their first positions are found by scanning the list (fast, linear);
#: more, by a stable sort of the list (n log n, never quadratic)
SCAN_LIMIT = 32


def _sorted_firsts(lst: exp.Expression) -> exp.Expression:
    """The first position of each distinct item, in O(n log n): a stable sort of the positions by value
    (by the values' hashes: the sort compares integers), the first position of each run of equal values."""
    grade = call(
        "list_grade_up", call("list_transform", lst.copy(), _lam(call("hash", exp.column("hv_")), "hv_"))
    )
    by_value = call("list_select", lst.copy(), grade)
    # (value, previous value, position) for each item in value order; a run starts where they differ
    triples = call("list_zip", by_value, call("list_prepend", exp.Null(), by_value.copy()), grade.copy())
    third = exp.Bracket(this=exp.column("hp_"), expressions=[exp.Literal.number(2)])
    starts = exp.And(
        this=exp.Not(this=exp.Is(this=third, expression=exp.Null())),
        expression=exp.NullSafeNEQ(
            this=exp.Bracket(this=exp.column("hp_"), expressions=[exp.Literal.number(0)]),
            expression=exp.Bracket(this=exp.column("hp_"), expressions=[exp.Literal.number(1)]),
        ),
    )
    return call(
        "list_transform", call("list_filter", triples, _lam(starts, "hp_")), _lam(third.copy(), "hp_")
    )


def first_seen_distinct(lst: exp.Expression, distinct: exp.Expression) -> exp.Expression:
    """The list's distinct items (`distinct`: the same items, distinct in any order) in first-seen order
    (Kusto's make_set): few distinct items are looked up in the list, many are found by sorting it (each
    way gets an empty list when it is not the one used, so only one does the work)."""
    few = exp.LTE(this=call("len", distinct.copy()), expression=exp.Literal.number(SCAN_LIMIT))
    empty = exp.Array(expressions=[])

    def when(cond: exp.Expression, value: exp.Expression) -> exp.Expression:
        return exp.Case(ifs=[exp.If(this=cond, true=value)], default=empty.copy())

    scanned = call(
        "list_transform",
        when(few, distinct.copy()),
        _lam(call("list_position", lst.copy(), exp.column("hd_")), "hd_"),
    )
    sorted_ = _sorted_firsts(when(exp.Not(this=few.copy()), lst.copy()))
    return call("list_select", lst, call("list_sort", call("list_concat", scanned, sorted_)))


def _sort_keys(c: Compiler) -> list[exp.Ordered] | None:
    """The input's sort keys (`sort`/`order by`/`top` before the aggregate) when the aggregate may use them:
    on DuckDB, and only while every column they read is still a column of the input."""
    order = c.scope.order
    if not order or c.planner.dialect.name != "duckdb":
        return None
    names = {x.name for o in order for x in o.find_all(exp.Column)}
    return [o.copy() for o in order] if all(n in c.scope.cols for n in names) else None


def _list(c: Compiler, item: exp.Expression) -> exp.Expression:
    """`list(item)`, in the input's sort order when it has one (`list(item ORDER BY keys)`): DuckDB's
    parallel hash aggregation combines the partial lists of its threads in any order, so a big group's
    list would not follow a sorted input (make_list "tracks the input's order when it is sorted")."""
    keys = _sort_keys(c)
    return call("list", exp.Order(this=item, expressions=keys) if keys else item)


def _flat_set(c: Compiler, v: T, where: exp.Expression) -> exp.Expression:
    """make_set of dynamic values: arrays add their elements (Kusto flattens them), distinct in first-seen order."""
    item = v.sql
    as_list = exp.Case(
        ifs=[
            exp.If(
                this=exp.EQ(this=call("json_type", item), expression=exp.Literal.string("ARRAY")),
                true=exp.Cast(this=item.copy(), to=JSON_LIST.copy()),
            )
        ],
        default=exp.Array(expressions=[item.copy()]),
    )
    flat = call("flatten", exp.Filter(this=_list(c, as_list), expression=exp.Where(this=where)))
    return first_seen_distinct(flat, call("list_distinct", flat.copy()))


def _flat_items(c: Compiler, v: T, item: exp.Expression) -> exp.Expression:
    """make_list of dynamic values: an array adds its elements, in order (Kusto flattens one level, so a
    list of arrays is made with make_list(pack_array(x))); any other value is one item. DuckDB: a list of
    lists, flattened after; Spark (items are JSON texts joined with commas): an array's text between its
    brackets, null (skipped) when empty."""
    is_array = exp.EQ(this=c.planner.dialect.json_type(v.sql.copy()), expression=exp.Literal.string("ARRAY"))
    if c.planner.dialect.name == "spark":
        text = exp.Trim(this=item.copy())
        inner = exp.Substring(
            this=text,
            start=exp.Literal.number(2),
            length=exp.Sub(this=exp.Length(this=text.copy()), expression=exp.Literal.number(2)),
        )
        items = exp.Nullif(this=exp.Trim(this=inner), expression=exp.Literal.string(""))
        return exp.Case(ifs=[exp.If(this=is_array, true=items)], default=item)
    return exp.Case(
        ifs=[exp.If(this=is_array, true=exp.Cast(this=item.copy(), to=JSON_LIST.copy()))],
        default=exp.Array(expressions=[item]),
    )


def _arguments(args: list[T], conditional: bool) -> tuple[T, T | None, T | None]:
    """(value, predicate, size limit) of make_list/make_set and their _if forms."""
    if conditional:
        return args[0], args[1], args[2] if len(args) > 2 else None
    return args[0], None, args[1] if len(args) > 1 else None


def _not_null(v: T) -> exp.Expression:
    return exp.Not(this=exp.Is(this=v.sql, expression=exp.Null()))


def set_input(conditional: bool) -> SetLowering:
    """What make_set (make_set_if) collects, for summarize's two-level plan (the same items, rows and
    limit as the one-level lowering below)."""

    def collect(args: list[T]) -> SetInput:
        v, cond, limit = _arguments(args, conditional)
        where = _not_null(v)
        if cond is not None:
            where = exp.And(this=where, expression=exp.Paren(this=as_bool(cond)))
        flatten = v.type == "dynamic"
        item = v.sql if flatten else to_dynamic(v).sql
        return SetInput(item, where, limit.sql if limit is not None else None, flatten)

    return collect


def make_list(distinct: bool, conditional: bool, nulls: bool = False) -> AggLowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        v, cond, limit = _arguments(args, conditional)
        item = to_dynamic(v).sql
        values = _list(c, item)
        # nulls are ignored, as in Kusto (make_list_with_nulls keeps them, as JSON null)
        where: exp.Expression = _not_null(v)
        if nulls:
            values = _list(c, exp.Coalesce(this=item.copy(), expressions=[_json_text("null")]))
            where = exp.true()
        if cond is not None:
            where = exp.And(this=where, expression=exp.Paren(this=as_bool(cond)))
        agg: exp.Expression = exp.Filter(this=values, expression=exp.Where(this=where))
        if not distinct and not nulls and v.type == "dynamic":
            flat = exp.Filter(this=_list(c, _flat_items(c, v, item)), expression=exp.Where(this=where.copy()))
            if c.planner.dialect.name == "spark":
                agg = flat
            else:  # an array's null element stays a JSON null (the cast to JSON[] made it SQL NULL)
                null = exp.Coalesce(this=exp.column("fl_"), expressions=[_json_text("null")])
                agg = call("list_transform", call("flatten", flat), _lam(null, "fl_"))
        if distinct and c.planner.dialect.name == "spark":
            agg = exp.Filter(
                this=call("list", exp.Distinct(expressions=[item.copy()])),
                expression=exp.Where(this=where.copy()),
            )
        elif distinct and v.type == "dynamic":
            agg = _flat_set(c, v, where.copy())
        elif distinct:
            unique = exp.Filter(
                this=call("list", exp.Distinct(expressions=[item.copy()])),
                expression=exp.Where(this=where.copy()),
            )
            agg = first_seen_distinct(agg, unique)
        if limit is not None:
            agg = call("list_slice", agg, exp.Literal.number(1), limit.sql)
        out = exp.Cast(this=exp.Cast(this=agg, to=JSON_LIST.copy()), to=JSON.copy())
        return T(exp.Coalesce(this=out, expressions=[_json_text("[]")]), "dynamic")

    return lower


def make_bag(with_predicate: bool) -> AggLowering:
    """The group's property bags merged into one (later keys win); make_bag_if only those of the rows where
    its predicate is true."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        v = args[0]
        lam = exp.Lambda(
            this=call("json_merge_patch", exp.column("acc"), exp.column("x")),
            expressions=[exp.to_identifier("acc"), exp.to_identifier("x")],
        )
        keep: exp.Expression = exp.EQ(this=call("json_type", v.sql), expression=exp.Literal.string("OBJECT"))
        if with_predicate:
            keep = exp.And(this=keep, expression=exp.Paren(this=as_bool(args[1])))
        objects = exp.Filter(this=call("list", v.sql), expression=exp.Where(this=keep))
        red = call("list_reduce", call("list_prepend", _json_text("{}"), objects), lam)
        return T(exp.Coalesce(this=red, expressions=[_json_text("{}")]), "dynamic")

    return lower


MAKE_SET = Aggregate(
    make_list(True, False), "set_", empty="[]", arity=(1, 2), returns="dynamic", first_seen=set_input(False)
)

AGGREGATES: dict[str, Aggregate] = {
    "make_set": MAKE_SET,
    "makeset": MAKE_SET,  # the deprecated spelling
    "make_set_if": Aggregate(
        make_list(True, True), "set_", empty="[]", arity=(2, 3), returns="dynamic", first_seen=set_input(True)
    ),
    "make_list": Aggregate(make_list(False, False), "list_", empty="[]", arity=(1, 2), returns="dynamic"),
    "makelist": Aggregate(make_list(False, False), "list_", empty="[]", arity=(1, 2), returns="dynamic"),
    "make_list_if": Aggregate(make_list(False, True), "list_", empty="[]", arity=(2, 3), returns="dynamic"),
    "make_list_with_nulls": Aggregate(
        make_list(False, False, nulls=True), "list_", empty="[]", arity=(1, 2), returns="dynamic"
    ),
    "make_bag": Aggregate(make_bag(False), "bag_", empty="{}", arity=(1, 2), returns="dynamic"),
    "make_bag_if": Aggregate(make_bag(True), "bag_", empty="{}", arity=(2, 3), returns="dynamic"),
    # the deprecated spelling of make_bag (the make_bag page)
    "make_dictionary": Aggregate(make_bag(False), "bag_", empty="{}", arity=(1, 2), returns="dynamic"),
}
