"""Dynamic values and property bags: parse_json, extractjson, pack/bag_pack, bag_keys, bag_merge, gettype."""

from __future__ import annotations

import json

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.lowering.coerce import type_argument
from huntvault.kql.lowering.dynamic import dyn
from huntvault.kql.lowering.pycall import py_function
from huntvault.kql.values import N, S, T, call, convert, dtype, fn, literal, string, to_dynamic, to_string


def f_parse_json(c: Compiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type == "dynamic":
        return v
    if v.type in ("string", "guid"):
        if v.is_const:
            if isinstance(v.const, str) and not v.const.strip():  # an empty text is null, not ""
                return literal(None, "dynamic")
            try:
                return literal(json.loads(v.const), "dynamic")
            except (ValueError, RecursionError):
                return literal(v.const, "dynamic")
        return T(c.planner.dialect.try_json(v.sql), "dynamic", name=v.name)
    return to_dynamic(v)


def f_extractjson(c: Compiler, args: list[T], node: A.Call) -> T:
    path = args[0].const
    if not isinstance(path, str):
        raise c.err(f"{node.name}() needs the JSON path as a constant string", node)
    src = args[1]
    base = src.sql if src.type == "dynamic" else c.planner.dialect.try_json(to_string(src).sql)
    res = to_string(T(call("json_extract", base, S(path)), "dynamic"))
    if len(args) == 3:
        target = type_argument(args[2])
        if target is None:
            raise c.err(f"{node.name}() takes the result type as typeof(type)", node)
        return convert(res, target)
    return res


def f_pack(c: Compiler, args: list[T], node: A.Call) -> T:
    if len(args) % 2:
        raise c.err("pack()/bag_pack() takes key, value pairs", node)
    pairs: list[exp.Expression] = []
    for k, v in zip(args[::2], args[1::2], strict=True):
        pairs += [to_string(k).sql, to_dynamic(v).sql]
    return T(call("json_object", *pairs), "dynamic")


def f_bag_keys(c: Compiler, args: list[T], node: A.Call) -> T:
    """The root keys of a property bag; null for anything else (an array, a scalar: the bag_keys page)."""
    bag = dyn(c, args[0])
    keys = fn("to_json", call("json_keys", bag))
    is_bag = exp.EQ(this=c.planner.dialect.json_type(bag.copy()), expression=S("OBJECT"))
    return T(exp.Case(ifs=[exp.If(this=is_bag, true=keys)], default=exp.Null()), "dynamic")


def f_bag_merge(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("json_merge_patch", *(dyn(c, a) for a in reversed(args))), "dynamic")


_TYPE_NAMES = {
    "long": "long",
    "int": "int",
    "real": "real",
    "string": "string",
    "bool": "bool",
    "datetime": "datetime",
    "timespan": "timespan",
    "guid": "guid",
}
_JSON_TYPES = [
    ("ARRAY", "array"),
    ("OBJECT", "dictionary"),
    ("VARCHAR", "string"),
    ("BIGINT", "long"),
    ("UBIGINT", "long"),
    ("DOUBLE", "real"),
    ("BOOLEAN", "bool"),
    ("NULL", "null"),
]


def f_gettype(c: Compiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type != "dynamic":
        return string(_TYPE_NAMES.get(v.type, v.type))
    jt = c.planner.dialect.json_type(v.sql)
    # a JSON integer is an int when it fits 32 bits (gettype(parse_json('1')) is "int"), else a long
    number = exp.TryCast(this=v.sql.copy(), to=dtype("BIGINT"))
    small = exp.Between(this=number, low=N(-(2**31)), high=N(2**31 - 1))
    integer = exp.In(this=jt.copy(), expressions=[S("BIGINT"), S("UBIGINT")])
    ifs = [exp.If(this=exp.And(this=integer, expression=small), true=S("int"))]
    ifs += [exp.If(this=exp.EQ(this=jt.copy(), expression=S(a)), true=S(b)) for a, b in _JSON_TYPES]
    return T(exp.Case(ifs=ifs, default=S("null")), "string")


FUNCTIONS: dict[str, Function] = {
    "parse_json": Function(f_parse_json, (1, 1), "dynamic"),
    "parsejson": Function(f_parse_json, (1, 1), "dynamic"),
    "todynamic": Function(f_parse_json, (1, 1), "dynamic"),
    "toobject": Function(f_parse_json, (1, 1), "dynamic"),
    "parse_xml": py_function("parse_xml", (1, 1), "dynamic"),
    "extractjson": Function(f_extractjson, (2, 3), None),
    "extract_json": Function(f_extractjson, (2, 3), None),
    "pack": Function(f_pack, (0, None), "dynamic"),
    "bag_pack": Function(f_pack, (0, None), "dynamic"),
    "pack_dictionary": Function(f_pack, (0, None), "dynamic"),
    "bag_keys": Function(f_bag_keys, (1, 1), "dynamic"),
    "bag_merge": Function(f_bag_merge, (1, 64), "dynamic"),
    "gettype": Function(f_gettype, (1, 1), "string"),
    "bag_has_key": py_function("bag_has_key", (2, 2), "bool"),
    "bag_remove_keys": py_function("bag_remove_keys", (2, 2), "dynamic"),
    "bag_set_key": py_function("bag_set_key", (3, 3), "dynamic"),
    "bag_zip": py_function("bag_zip", (2, 2), "dynamic"),
    "treepath": py_function("treepath", (1, 1), "dynamic"),
    "dynamic_to_json": py_function("dynamic_to_json", (1, 1), "string"),
}
