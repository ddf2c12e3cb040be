"""Arrays (dynamic lists): length, pack_array, set operations, index_of, slice, sort, zip, range."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Lowering
from huntvault.kql.lowering.dynamic import json_list, ordered_distinct
from huntvault.kql.lowering.pycall import py_function, py_value
from huntvault.kql.values import S, T, call, dtype, fn, literal, to_dynamic


def f_array_length(c: Compiler, args: list[T], node: A.Call) -> T:
    d = c.planner.dialect
    v = to_dynamic(args[0]) if args[0].type != "string" else T(d.try_json(args[0].sql), "dynamic")
    return T(exp.Cast(this=d.json_array_length(v.sql), to=dtype("BIGINT")), "long")


def f_pack_array(c: Compiler, args: list[T], node: A.Call) -> T:
    if all(a.is_const and a.type in ("string", "long", "real", "bool", "dynamic", "null") for a in args):
        return literal(
            [a.const for a in args], "dynamic"
        )  # constant-folded: has_any/in can use it at compile time
    return T(call("json_array", *[to_dynamic(a).sql for a in args]), "dynamic")


def set_fn(kind: str) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        lists = [json_list(c, a) for a in args]
        out = lists[0]
        if kind in ("concat", "union"):
            for other in lists[1:]:
                out = call("list_concat", out, other)
        elif kind == "intersect":
            for other in lists[1:]:
                lam = exp.Lambda(
                    this=call("list_contains", other, exp.column("x")), expressions=[exp.to_identifier("x")]
                )
                out = call("list_filter", out, lam)
        else:
            for other in lists[1:]:
                lam = exp.Lambda(
                    this=exp.Not(this=call("list_contains", other, exp.column("x"))),
                    expressions=[exp.to_identifier("x")],
                )
                out = call("list_filter", out, lam)
        if kind != "concat":
            out = ordered_distinct(out)
        return T(fn("to_json", out), "dynamic")

    return lower


def spark_set_fn(name: str) -> Lowering:
    """Spark: the set functions in Python (kql_fn UDF); Spark's JSON arrays parse to strings, so its own list
    functions would give `["1","2"]` for `[1,2]` and could not tell 1 from "1"."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return py_value(c, name, [to_dynamic(a) for a in args], "dynamic")

    return lower


def f_set_has_element(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("list_contains", json_list(c, args[0]), to_dynamic(args[1]).sql), "bool")


def f_array_sort(c: Compiler, args: list[T], node: A.Call) -> T:
    """array_sort_asc/desc(a1 [, a2...] [, nulls_last]): several arrays give one column each (`a1_sorted`)."""
    whole = py_value(c, node.name.lower(), args, "dynamic")
    arrays = [a for a in args if a.type != "bool"]
    if len(arrays) < 2:
        return whole
    parts: list[tuple[str, T]] = []
    for i, a in enumerate(arrays):
        item = c.planner.dialect.json_extract(whole.sql.copy(), S(f"$[{i}]"))
        parts.append((f"{a.name or f'array{i + 1}'}_sorted", T(item, "dynamic")))
    return T(whole.sql, "dynamic", whole.const, parts=parts)


def f_zip(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(fn("to_json", call("list_zip", *(json_list(c, a) for a in args))), "dynamic")


FUNCTIONS: dict[str, Function] = {
    "array_length": Function(f_array_length, (1, 1), "long"),
    "arraylength": Function(f_array_length, (1, 1), "long"),
    "pack_array": Function(f_pack_array, (0, None), "dynamic", stars=True),
    "set_union": Function(set_fn("union"), (1, 64), "dynamic", spark=spark_set_fn("set_union")),
    "set_intersect": Function(set_fn("intersect"), (1, 64), "dynamic", spark=spark_set_fn("set_intersect")),
    "set_difference": Function(
        set_fn("difference"), (1, 64), "dynamic", spark=spark_set_fn("set_difference")
    ),
    "array_concat": Function(set_fn("concat"), (1, 64), "dynamic", spark=spark_set_fn("array_concat")),
    "set_has_element": Function(f_set_has_element, (2, 2), "bool"),
    "array_index_of": py_function("array_index_of", (2, 5), "long"),
    "array_slice": py_function("array_slice", (3, 3), "dynamic"),
    "array_sort_asc": Function(f_array_sort, (1, 64), "dynamic"),
    "array_sort_desc": Function(f_array_sort, (1, 64), "dynamic"),
    "array_reverse": py_function("array_reverse", (1, 1), "dynamic"),
    "array_rotate_left": py_function("array_rotate_left", (2, 2), "dynamic"),
    "array_rotate_right": py_function("array_rotate_right", (2, 2), "dynamic"),
    "array_shift_left": py_function("array_shift_left", (2, 3), "dynamic"),
    "array_shift_right": py_function("array_shift_right", (2, 3), "dynamic"),
    "array_split": py_function("array_split", (2, 2), "dynamic"),
    "array_sum": py_function("array_sum", (1, 1), "real"),
    "array_iff": py_function("array_iff", (3, 3), "dynamic"),
    "array_iif": py_function("array_iff", (3, 3), "dynamic"),
    "jaccard_index": py_function("jaccard_index", (2, 2), "real"),
    "repeat": py_function("repeat", (2, 2), "dynamic"),
    "zip": Function(f_zip, (1, None), "dynamic"),
    "range": py_function("range", (2, 3), "dynamic"),
}
