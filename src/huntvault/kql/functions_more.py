"""Scalar functions, part 2: dynamic values, URLs and paths, encodings, hashes, IPv4, math; the full FUNCTIONS table."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.functions import CORE_FUNCTIONS, Lowering, N, S, unify
from huntvault.kql.scalar import ExprCompiler
from huntvault.kql.series_fns import SERIES_FUNCTIONS
from huntvault.kql.values import T, anon, convert, fn, literal, string, to_dynamic, to_string


def f_parse_json(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type == "dynamic":
        return v
    if v.type in ("string", "guid"):
        if v.is_const:
            import json

            try:
                return literal(json.loads(v.const), "dynamic")
            except ValueError:
                return literal(v.const, "dynamic")
        return T(c.planner.dialect.try_json(v.sql), "dynamic", name=v.name)
    return to_dynamic(v)


def f_extractjson(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    path = args[0].const
    src = args[1]
    base = src.sql if src.type == "dynamic" else c.planner.dialect.try_json(to_string(src).sql)
    out = T(anon("json_extract", base, S(str(path))), "dynamic")
    res = to_string(out)
    if len(args) == 3:
        return convert(res, str(args[2].const))
    return res


def f_array_length(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    v = (
        to_dynamic(args[0])
        if args[0].type != "string"
        else T(c.planner.dialect.try_json(args[0].sql), "dynamic")
    )
    return T(
        exp.Cast(this=c.planner.dialect.json_array_length(v.sql), to=exp.DataType.build("BIGINT")), "long"
    )


def dyn(c: ExprCompiler, v: T) -> exp.Expression:
    if v.type == "dynamic":
        return v.sql
    if v.type in ("string", "guid") and not v.is_const:
        return c.planner.dialect.try_json(v.sql)
    return to_dynamic(v).sql


def json_list(c: ExprCompiler, v: T) -> exp.Expression:
    return exp.Cast(this=dyn(c, v), to=exp.DataType.build("JSON[]", dialect="duckdb"))


def f_pack_array(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    if all(a.is_const and a.type in ("string", "long", "real", "bool", "dynamic", "null") for a in args):
        return literal(
            [a.const for a in args], "dynamic"
        )  # constant-folded: has_any/in can use it at compile time
    return T(fn("to_json", anon("list_value", *[to_dynamic(a).sql for a in args])), "dynamic")


def f_pack(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    if len(args) % 2:
        raise c.err("pack()/bag_pack() takes key, value pairs", node)
    pairs: list[exp.Expression] = []
    for k, v in zip(args[::2], args[1::2], strict=True):
        pairs += [to_string(k).sql, to_dynamic(v).sql]
    return T(anon("json_object", *pairs), "dynamic")


def f_bag_keys(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(fn("to_json", anon("json_keys", dyn(c, args[0]))), "dynamic")


def ordered_distinct(lst: exp.Expression) -> exp.Expression:
    """Distinct list items in first-seen order (DuckDB's list_distinct does not keep the order)."""
    lam = exp.Lambda(
        this=exp.EQ(this=anon("list_position", lst.copy(), exp.column("x")), expression=exp.column("i")),
        expressions=[exp.to_identifier("x"), exp.to_identifier("i")],
    )
    return anon("list_filter", lst, lam)


def set_fn(kind: str) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        lists = [json_list(c, a) for a in args]
        if kind == "concat":
            out = lists[0]
            for other in lists[1:]:
                out = anon("list_concat", out, other)
        elif kind == "union":
            out = lists[0]
            for other in lists[1:]:
                out = anon("list_concat", out, other)
            out = ordered_distinct(out)
        elif kind == "intersect":
            out = lists[0]
            for other in lists[1:]:
                lam2 = exp.Lambda(
                    this=anon("list_contains", other, exp.column("x")), expressions=[exp.to_identifier("x")]
                )
                out = anon("list_filter", out, lam2)
            out = ordered_distinct(out)
        else:
            out = lists[0]
            for other in lists[1:]:
                lam = exp.Lambda(
                    this=exp.Not(this=anon("list_contains", other, exp.column("x"))),
                    expressions=[exp.to_identifier("x")],
                )
                out = anon("list_filter", out, lam)
            out = ordered_distinct(out)
        return T(fn("to_json", out), "dynamic")

    return lower


def f_set_has_element(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(anon("list_contains", json_list(c, args[0]), to_dynamic(args[1]).sql), "bool")


def f_array_index_of(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(
        exp.Sub(this=anon("list_position", json_list(c, args[0]), to_dynamic(args[1]).sql), expression=N(1)),
        "long",
    )


def f_array_slice(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    lst = json_list(c, args[0])
    return T(
        fn(
            "to_json",
            anon(
                "list_slice",
                lst,
                exp.Add(this=args[1].sql, expression=N(1)),
                exp.Add(this=args[2].sql, expression=N(1)),
            ),
        ),
        "dynamic",
    )


def f_strcat_array(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    items = json_list(c, args[0])
    lam = exp.Lambda(
        this=exp.Coalesce(this=anon("json_extract_string", exp.column("x"), S("$")), expressions=[S("")]),
        expressions=[exp.to_identifier("x")],
    )
    return T(anon("array_to_string", anon("list_transform", items, lam), to_string(args[1]).sql), "string")


def f_array_sort(desc: bool) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        return T(
            fn("to_json", anon("list_sort", json_list(c, args[0]), S("DESC" if desc else "ASC"))), "dynamic"
        )

    return lower


def f_parse_url(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    d = c.planner.dialect
    rx = r"^(?:([A-Za-z][A-Za-z0-9+.-]*)://)?(?:([^:@/]*)(?::([^@/]*))?@)?([^:/?#]*)(?::(\d+))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$"

    def g(i: int) -> exp.Expression:
        return d.regex_extract(s, S(rx), i)

    query = g(7)
    params = anon(
        "map_from_entries",
        anon(
            "list_transform",
            anon("string_split", query, S("&")),
            exp.Lambda(
                this=anon(
                    "struct_pack",
                    exp.PropertyEQ(
                        this=exp.to_identifier("k"),
                        expression=anon("split_part", exp.column("p"), S("="), N(1)),
                    ),
                    exp.PropertyEQ(
                        this=exp.to_identifier("v"),
                        expression=anon("url_decode", anon("split_part", exp.column("p"), S("="), N(2))),
                    ),
                ),
                expressions=[exp.to_identifier("p")],
            ),
        ),
    )
    obj = anon(
        "json_object",
        S("Scheme"),
        g(1),
        S("Host"),
        g(4),
        S("Port"),
        g(5),
        S("Path"),
        g(6),
        S("Username"),
        g(2),
        S("Password"),
        g(3),
        S("Query Parameters"),
        fn("to_json", params),
        S("Fragment"),
        g(8),
    )
    return T(obj, "dynamic")


def f_parse_path(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    d = c.planner.dialect
    rx = r"^(.*[\\/])?([^\\/]*?)(?:\.([^.\\/]*))?$"
    obj = anon(
        "json_object",
        S("Scheme"),
        S(""),
        S("RootPath"),
        d.regex_extract(s, S(r"^([A-Za-z]:|\\\\[^\\]+)"), 1),
        S("DirectoryPath"),
        anon("rtrim", d.regex_extract(s, S(rx), 1), S("\\/")),
        S("DirectoryName"),
        d.regex_extract(s, S(r"([^\\/]+)[\\/][^\\/]*$"), 1),
        S("Filename"),
        d.regex_extract(s, S(r"([^\\/]*)$"), 1),
        S("Extension"),
        d.regex_extract(s, S(rx), 3),
        S("AlternateDataStreamName"),
        S(""),
    )
    return T(obj, "dynamic")


def f_base64_decode(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    return T(
        exp.Coalesce(this=anon("try", anon("decode", anon("from_base64", s))), expressions=[S("")]), "string"
    )


def f_base64_encode(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(anon("to_base64", anon("encode", to_string(args[0]).sql)), "string")


def f_url_decode(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(anon("url_decode", to_string(args[0]).sql), "string")


def f_url_encode(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(anon("url_encode", to_string(args[0]).sql), "string")


def hash_fn(name: str) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        return T(anon(name, to_string(args[0]).sql), "string")

    return lower


def f_hash(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    h: exp.Expression = exp.Cast(this=anon("hash", to_string(args[0]).sql), to=exp.DataType.build("HUGEINT"))
    if len(args) > 1:
        h = exp.Mod(this=h, expression=args[1].sql)
    else:  # DuckDB's hash is an unsigned 64-bit value: read it as a signed long, as Kusto's hash is
        h = exp.Case(
            ifs=[
                exp.If(this=exp.GTE(this=h, expression=N(2**63)), true=exp.Sub(this=h, expression=N(2**64)))
            ],
            default=h,
        )
    return T(exp.Cast(this=h, to=exp.DataType.build("BIGINT")), "long")


def ipv4_num(c: ExprCompiler, s: exp.Expression) -> exp.Expression:
    d = c.planner.dialect
    rx = S(r"^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/\d+)?\s*$")
    parts = [
        exp.TryCast(this=d.regex_extract(s, rx, i), to=exp.DataType.build("BIGINT")) for i in range(1, 5)
    ]
    num = exp.Add(
        this=exp.Add(
            this=exp.Mul(this=parts[0], expression=N(16777216)),
            expression=exp.Mul(this=parts[1], expression=N(65536)),
        ),
        expression=exp.Add(this=exp.Mul(this=parts[2], expression=N(256)), expression=parts[3]),
    )
    valid = exp.And(
        this=d.regex_match(s, rx),
        expression=exp.And(
            this=exp.And(
                this=exp.LTE(this=parts[0], expression=N(255)),
                expression=exp.LTE(this=parts[1], expression=N(255)),
            ),
            expression=exp.And(
                this=exp.LTE(this=parts[2], expression=N(255)),
                expression=exp.LTE(this=parts[3], expression=N(255)),
            ),
        ),
    )
    return exp.Case(ifs=[exp.If(this=valid, true=num)], default=exp.Null())


def prefix_mask(c: ExprCompiler, s: exp.Expression, default: exp.Expression | None) -> exp.Expression:
    bits = exp.TryCast(
        this=c.planner.dialect.regex_extract(s, S(r"/(\d+)\s*$"), 1), to=exp.DataType.build("BIGINT")
    )
    return exp.Coalesce(this=bits, expressions=[default if default is not None else N(32)])


def masked(num: exp.Expression, bits: exp.Expression) -> exp.Expression:
    size = anon("pow", N(2), exp.Sub(this=N(32), expression=bits))
    return exp.Cast(
        this=exp.Mul(this=anon("floor", exp.Div(this=num, expression=size)), expression=size),
        to=exp.DataType.build("BIGINT"),
    )


def f_parse_ipv4(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    return T(masked(ipv4_num(c, s), prefix_mask(c, s, None)), "long")


def f_ipv4_is_private(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    n = ipv4_num(c, to_string(args[0]).sql)
    ranges = [(167772160, 184549375), (2886729728, 2887778303), (3232235520, 3232301055)]
    ors: list[exp.Expression] = [exp.Between(this=n, low=N(a), high=N(b)) for a, b in ranges]
    out = ors[0]
    for o in ors[1:]:
        out = exp.Or(this=out, expression=o)
    return T(exp.Paren(this=out), "bool")


def f_ipv4_is_in_range(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    ip = to_string(args[0]).sql
    rng = to_string(args[1]).sql
    bits = prefix_mask(c, rng, None)
    return T(exp.EQ(this=masked(ipv4_num(c, ip), bits), expression=masked(ipv4_num(c, rng), bits)), "bool")


def f_ipv4_is_match(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    a, b = to_string(args[0]).sql, to_string(args[1]).sql
    bits: exp.Expression = anon("least", prefix_mask(c, a, None), prefix_mask(c, b, None))
    if len(args) == 3:
        bits = args[2].sql
    return T(exp.EQ(this=masked(ipv4_num(c, a), bits), expression=masked(ipv4_num(c, b), bits)), "bool")


def f_ipv4_compare(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    a, b = to_string(args[0]).sql, to_string(args[1]).sql
    bits: exp.Expression = anon("least", prefix_mask(c, a, None), prefix_mask(c, b, None))
    ma, mb = masked(ipv4_num(c, a), bits), masked(ipv4_num(c, b), bits)
    return T(
        exp.Cast(this=anon("sign", exp.Sub(this=ma, expression=mb)), to=exp.DataType.build("BIGINT")), "long"
    )


def math_fn(name: str, kind: str = "real") -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        return T(anon(name, *(convert(a, "real").sql if a.type == "dynamic" else a.sql for a in args)), kind)

    return lower


def f_abs(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Abs(this=args[0].sql), args[0].type)


def f_round(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    digits = exp.Cast(this=args[1].sql, to=exp.DataType.build("INT")) if len(args) > 1 else N(0)
    return T(anon("round", exp.Cast(this=args[0].sql, to=exp.DataType.build("DOUBLE")), digits), "real")


def f_minmax_of(name: str) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        values = unify(c, args)
        return T(anon(name, *(v.sql for v in values)), values[0].type)

    return lower


def f_gettype(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type != "dynamic":
        return string(
            {
                "long": "long",
                "int": "int",
                "real": "real",
                "string": "string",
                "bool": "bool",
                "datetime": "datetime",
                "timespan": "timespan",
                "guid": "guid",
            }.get(v.type, v.type)
        )
    jt = c.planner.dialect.json_type(v.sql)
    mapping = [
        ("ARRAY", "array"),
        ("OBJECT", "dictionary"),
        ("VARCHAR", "string"),
        ("BIGINT", "long"),
        ("UBIGINT", "long"),
        ("DOUBLE", "real"),
        ("BOOLEAN", "bool"),
        ("NULL", "null"),
    ]
    return T(
        exp.Case(
            ifs=[exp.If(this=exp.EQ(this=jt, expression=S(a)), true=S(b)) for a, b in mapping],
            default=S("null"),
        ),
        "string",
    )


def f_new_guid(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Cast(this=anon("uuid"), to=exp.DataType.build("VARCHAR")), "guid")


def f_row_number(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    start = args[0].sql if args else N(1)
    w = exp.Window(
        this=anon("row_number"), order=exp.Order(expressions=c.scope.order) if c.scope.order else None
    )
    return T(exp.Add(this=exp.Sub(this=w, expression=N(1)), expression=start), "long")


def nav_fn(name: str) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        offset = args[1].sql if len(args) > 1 else N(1)
        extra = (
            [convert(args[2], args[0].type).sql if args[2].type != args[0].type else args[2].sql]
            if len(args) > 2
            else []
        )
        w = exp.Window(
            this=anon(name, args[0].sql, offset, *extra),
            order=exp.Order(expressions=c.scope.order) if c.scope.order else None,
        )
        return T(w, args[0].type)

    return lower


def f_column_ifexists(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    raise c.err("column_ifexists() is resolved earlier", node)


def f_translate(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(
        anon("translate", to_string(args[2]).sql, to_string(args[0]).sql, to_string(args[1]).sql), "string"
    )


def f_parse_csv(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(fn("to_json", anon("string_split", to_string(args[0]).sql, S(","))), "dynamic")


def f_parse_command_line(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    return T(fn("to_json", anon("regexp_extract_all", s, S(r'"[^"]*"|\S+'))), "dynamic")


def f_todecimal(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return convert(args[0], "real")


def f_tohex(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Lower(this=anon("hex", args[0].sql)), "string")


def f_strrep(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    if len(args) == 3:
        body = exp.DPipe(this=s, expression=to_string(args[2]).sql)
        full = anon("repeat", body, exp.Sub(this=args[1].sql, expression=N(1)))
        return T(exp.DPipe(this=full, expression=s), "string")
    return T(anon("repeat", s, args[1].sql), "string")


def f_zip(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(fn("to_json", anon("list_zip", *(json_list(c, a) for a in args))), "dynamic")


def f_bag_merge(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(anon("json_merge_patch", *(dyn(c, a) for a in reversed(args))), "dynamic")


def f_rand(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    value = anon("random")
    if args:  # rand(n): an integer in [0, n)
        return T(
            exp.Cast(
                this=anon("floor", exp.Mul(this=value, expression=args[0].sql)),
                to=exp.DataType.build("BIGINT"),
            ),
            "long",
        )
    return T(value, "real")


def f_range(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    step = args[2].sql if len(args) > 2 else N(1)
    stop = exp.Add(this=args[1].sql, expression=step)
    return T(fn("to_json", anon("range", args[0].sql, stop, step)), "dynamic")


MORE_FUNCTIONS: dict[str, Lowering] = {
    "translate": f_translate,
    "strrep": f_strrep,
    "todecimal": f_todecimal,
    "tohex": f_tohex,
    "parse_json": f_parse_json,
    "parsejson": f_parse_json,
    "todynamic": f_parse_json,
    "toobject": f_parse_json,
    "extractjson": f_extractjson,
    "extract_json": f_extractjson,
    "parse_xml": f_parse_json,
    "array_length": f_array_length,
    "arraylength": f_array_length,
    "pack_array": f_pack_array,
    "pack": f_pack,
    "bag_pack": f_pack,
    "pack_dictionary": f_pack,
    "bag_keys": f_bag_keys,
    "bag_merge": f_bag_merge,
    "set_union": set_fn("union"),
    "set_intersect": set_fn("intersect"),
    "set_difference": set_fn("difference"),
    "array_concat": set_fn("concat"),
    "set_has_element": f_set_has_element,
    "array_index_of": f_array_index_of,
    "array_slice": f_array_slice,
    "strcat_array": f_strcat_array,
    "array_strcat": f_strcat_array,
    "array_sort_asc": f_array_sort(False),
    "array_sort_desc": f_array_sort(True),
    "zip": f_zip,
    "range": f_range,
    "parse_url": f_parse_url,
    "parseurl": f_parse_url,
    "parse_path": f_parse_path,
    "base64_decode_tostring": f_base64_decode,
    "base64_decodestring": f_base64_decode,
    "base64_encode_tostring": f_base64_encode,
    "base64_encodestring": f_base64_encode,
    "url_decode": f_url_decode,
    "url_encode": f_url_encode,
    "url_encode_component": f_url_encode,
    "hash_md5": hash_fn("md5"),
    "hash_sha256": hash_fn("sha256"),
    "hash_sha1": hash_fn("sha1"),
    "hash": f_hash,
    "parse_ipv4": f_parse_ipv4,
    "ipv4_is_private": f_ipv4_is_private,
    "ipv4_is_in_range": f_ipv4_is_in_range,
    "ipv4_is_match": f_ipv4_is_match,
    "ipv4_compare": f_ipv4_compare,
    "abs": f_abs,
    "round": f_round,
    "sqrt": math_fn("sqrt"),
    "log": math_fn("ln"),
    "log10": math_fn("log10"),
    "log2": math_fn("log2"),
    "exp": math_fn("exp"),
    "pow": math_fn("pow"),
    "power": math_fn("pow"),
    "ceiling": math_fn("ceiling"),
    "sign": math_fn("sign", "long"),
    "max_of": f_minmax_of("greatest"),
    "min_of": f_minmax_of("least"),
    "gettype": f_gettype,
    "new_guid": f_new_guid,
    "row_number": f_row_number,
    "prev": nav_fn("lag"),
    "next": nav_fn("lead"),
    "rand": f_rand,
    "parse_csv": f_parse_csv,
    "parse_command_line": f_parse_command_line,
}

#: every scalar function by lower-case name (legacy aliases included)
FUNCTIONS: dict[str, Lowering] = {**CORE_FUNCTIONS, **MORE_FUNCTIONS, **SERIES_FUNCTIONS}
