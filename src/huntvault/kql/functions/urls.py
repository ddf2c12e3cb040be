"""URLs and paths: parse_url, parse_path, url_encode/url_decode."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.lowering.pycall import py_function
from huntvault.kql.values import N, S, T, call, fn, to_string

_URL = r"^(?:([A-Za-z][A-Za-z0-9+.-]*)://)?(?:([^:@/]*)(?::([^@/]*))?@)?([^:/?#]*)(?::(\d+))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$"


def f_parse_url(c: Compiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    d = c.planner.dialect

    def g(i: int) -> exp.Expression:
        return d.regex_extract(s, S(_URL), i)

    pair = call(
        "struct_pack",
        exp.PropertyEQ(
            this=exp.to_identifier("k"), expression=call("split_part", exp.column("p"), S("="), N(1))
        ),
        exp.PropertyEQ(
            this=exp.to_identifier("v"),
            expression=call("url_decode", call("split_part", exp.column("p"), S("="), N(2))),
        ),
    )
    params = call(
        "map_from_entries",
        call(
            "list_transform",
            call("string_split", g(7), S("&")),
            exp.Lambda(this=pair, expressions=[exp.to_identifier("p")]),
        ),
    )
    fields = [
        ("Scheme", g(1)),
        ("Host", g(4)),
        ("Port", g(5)),
        ("Path", g(6)),
        ("Username", g(2)),
        ("Password", g(3)),
        ("Query Parameters", fn("to_json", params)),
        ("Fragment", g(8)),
    ]
    return T(call("json_object", *[x for k, v in fields for x in (S(k), v)]), "dynamic")


def f_url_decode(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("url_decode", to_string(args[0]).sql), "string")


def f_url_encode(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("url_encode", to_string(args[0]).sql), "string")


FUNCTIONS: dict[str, Function] = {
    "parse_url": Function(f_parse_url, (1, 1), "dynamic"),
    "parseurl": Function(f_parse_url, (1, 1), "dynamic"),
    "parse_path": py_function("parse_path", (1, 1), "dynamic"),
    "url_decode": Function(f_url_decode, (1, 1), "string"),
    "url_encode": py_function("url_encode", (1, 1), "string"),
    "url_encode_component": py_function("url_encode_component", (1, 1), "string"),
    "parse_urlquery": py_function("parse_urlquery", (1, 1), "dynamic"),
}
