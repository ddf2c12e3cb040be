"""IPv4 functions: parse_ipv4, ipv4_is_private, ipv4_is_in_range, ipv4_is_match, ipv4_compare."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.dialects import Dialect
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.lowering.pycall import py_function
from huntvault.kql.values import N, S, T, call, dtype, to_string

_IPV4 = r"^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/\d+)?\s*$"
#: 10/8, 172.16/12, 192.168/16 as number ranges
_PRIVATE = [(167772160, 184549375), (2886729728, 2887778303), (3232235520, 3232301055)]


def ipv4_num(d: Dialect, s: exp.Expression) -> exp.Expression:
    """The address as a number, null unless it is a valid dotted quad (an optional /prefix allowed)."""
    rx = S(_IPV4)
    parts = [exp.TryCast(this=d.regex_extract(s, rx, i), to=dtype("BIGINT")) for i in range(1, 5)]
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


def prefix_mask(d: Dialect, s: exp.Expression, default: exp.Expression | None) -> exp.Expression:
    bits = exp.TryCast(this=d.regex_extract(s, S(r"/(\d+)\s*$"), 1), to=dtype("BIGINT"))
    return exp.Coalesce(this=bits, expressions=[default if default is not None else N(32)])


def masked(num: exp.Expression, bits: exp.Expression) -> exp.Expression:
    size = call("pow", N(2), exp.Sub(this=N(32), expression=bits))
    floor = exp.Mul(this=call("floor", exp.Div(this=num, expression=size)), expression=size)
    return exp.Cast(this=floor, to=dtype("BIGINT"))


def combined_prefix(d: Dialect, a: exp.Expression, b: exp.Expression, extra: list[T]) -> exp.Expression:
    """The bits compared: the smallest of both addresses' /prefix (32 when absent) and the optional argument."""
    parts = [prefix_mask(d, a, None), prefix_mask(d, b, None)]
    if extra:
        # a prefix argument outside 0..32 is clamped to the address width
        parts.append(
            call("least", N(32), call("greatest", N(0), exp.Cast(this=extra[0].sql, to=dtype("BIGINT"))))
        )
    return call("least", *parts)


def f_parse_ipv4(c: Compiler, args: list[T], node: A.Call) -> T:
    d = c.planner.dialect
    s = to_string(args[0]).sql
    return T(masked(ipv4_num(d, s), prefix_mask(d, s, None)), "long")


def f_ipv4_is_private(c: Compiler, args: list[T], node: A.Call) -> T:
    n = ipv4_num(c.planner.dialect, to_string(args[0]).sql)
    ors: list[exp.Expression] = [exp.Between(this=n, low=N(a), high=N(b)) for a, b in _PRIVATE]
    out = ors[0]
    for o in ors[1:]:
        out = exp.Or(this=out, expression=o)
    return T(exp.Paren(this=out), "bool")


def f_ipv4_is_in_range(c: Compiler, args: list[T], node: A.Call) -> T:
    d = c.planner.dialect
    ip = to_string(args[0]).sql
    rng = to_string(args[1]).sql
    bits = prefix_mask(d, rng, None)
    return T(exp.EQ(this=masked(ipv4_num(d, ip), bits), expression=masked(ipv4_num(d, rng), bits)), "bool")


def f_ipv4_is_match(c: Compiler, args: list[T], node: A.Call) -> T:
    d = c.planner.dialect
    a, b = to_string(args[0]).sql, to_string(args[1]).sql
    bits = combined_prefix(d, a, b, args[2:])
    return T(exp.EQ(this=masked(ipv4_num(d, a), bits), expression=masked(ipv4_num(d, b), bits)), "bool")


def f_ipv4_compare(c: Compiler, args: list[T], node: A.Call) -> T:
    d = c.planner.dialect
    a, b = to_string(args[0]).sql, to_string(args[1]).sql
    bits = combined_prefix(d, a, b, args[2:])
    ma, mb = masked(ipv4_num(d, a), bits), masked(ipv4_num(d, b), bits)
    return T(exp.Cast(this=call("sign", exp.Sub(this=ma, expression=mb)), to=dtype("BIGINT")), "long")


FUNCTIONS: dict[str, Function] = {
    "parse_ipv4": Function(f_parse_ipv4, (1, 1), "long"),
    "ipv4_is_private": Function(f_ipv4_is_private, (1, 1), "bool"),
    "ipv4_is_in_range": Function(f_ipv4_is_in_range, (2, 2), "bool"),
    "ipv4_is_match": Function(f_ipv4_is_match, (2, 3), "bool"),
    "ipv4_compare": Function(f_ipv4_compare, (2, 3), "long"),
    "ipv4_is_in_any_range": py_function("ipv4_is_in_any_range", (2, None), "bool"),
    "format_ipv4": py_function("format_ipv4", (1, 2), "string"),
    "format_ipv4_mask": py_function("format_ipv4_mask", (1, 2), "string"),
    "parse_ipv4_mask": py_function("parse_ipv4_mask", (2, 2), "long"),
    "ipv4_netmask_suffix": py_function("ipv4_netmask_suffix", (1, 1), "long"),
    "ipv4_range_to_cidr_list": py_function("ipv4_range_to_cidr_list", (2, 2), "dynamic"),
    "parse_ipv6": py_function("parse_ipv6", (1, 1), "string"),
    "parse_ipv6_mask": py_function("parse_ipv6_mask", (2, 2), "string"),
    "ipv6_compare": py_function("ipv6_compare", (2, 3), "long"),
    "ipv6_is_match": py_function("ipv6_is_match", (2, 3), "bool"),
    "ipv6_is_in_range": py_function("ipv6_is_in_range", (2, 2), "bool"),
    "ipv6_is_in_any_range": py_function("ipv6_is_in_any_range", (2, None), "bool"),
    "has_ipv4": py_function("has_ipv4", (2, 2), "bool"),
    "has_ipv4_prefix": py_function("has_ipv4_prefix", (2, 2), "bool"),
    "has_any_ipv4": py_function("has_any_ipv4", (2, None), "bool"),
    "has_any_ipv4_prefix": py_function("has_any_ipv4_prefix", (2, None), "bool"),
}
