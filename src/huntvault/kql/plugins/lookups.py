"""ipv4_lookup, ipv6_lookup: rows joined to the lookup table rows whose IP network (prefix notation) holds their address."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel, Scope
from huntvault.kql.lowering.template import from_template
from huntvault.kql.plugins.timeline import duckdb_only
from huntvault.kql.pyfuncs import UDF_NAME
from huntvault.kql.values import S, alias, call, col, dtype, to_string


def _ipv4_range(text: exp.Expression) -> tuple[exp.Expression, exp.Expression]:
    """The first and last address (as integers) of an IPv4 address or network `a.b.c.d[/n]`; null when the
    text is not one."""
    template = from_template(
        "SELECT CAST(FLOOR(__ip / POW(2, 32 - __bits)) * POW(2, 32 - __bits) AS BIGINT) AS lo,"
        " CAST(FLOOR(__ip / POW(2, 32 - __bits)) * POW(2, 32 - __bits) + POW(2, 32 - __bits) - 1 AS BIGINT) AS hi",
        {},
        {
            "__ip": _ipv4_int(
                exp.Anonymous(
                    this="split_part",
                    expressions=[text.copy(), exp.Literal.string("/"), exp.Literal.number(1)],
                )
            ),
            "__bits": exp.Coalesce(
                this=exp.TryCast(
                    this=exp.Anonymous(
                        this="split_part",
                        expressions=[text.copy(), exp.Literal.string("/"), exp.Literal.number(2)],
                    ),
                    to=exp.DataType.build("BIGINT"),
                ),
                expressions=[exp.Literal.number(32)],
            ),
        },
    )
    lo, hi = (e.this if isinstance(e, exp.Alias) else e for e in template.expressions)
    return lo, hi


def _ipv4_int(addr: exp.Expression) -> exp.Expression:
    total: exp.Expression = exp.Literal.number(0)
    for i, weight in enumerate((16777216, 65536, 256, 1), start=1):
        part = exp.TryCast(
            this=exp.Anonymous(
                this="split_part", expressions=[addr.copy(), exp.Literal.string("."), exp.Literal.number(i)]
            ),
            to=exp.DataType.build("BIGINT"),
        )
        total = exp.Add(this=total, expression=exp.Mul(this=part, expression=exp.Literal.number(weight)))
    return total


def lower_ipv4_lookup(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """ipv4_lookup(LookupTable, SourceKey, LookupKey [, return_unmatched]): the lookup's columns after the
    row's (a name the row already has is kept from the row); unmatched rows only with return_unmatched."""
    if len(node.args) < 3:
        raise p.semantic(
            "ipv4_lookup() takes the lookup table, the source IPv4 column and the lookup column", node
        )
    table = node.args[0]
    if not p.is_tabular(table, Scope({}, env, p)):
        raise p.semantic("ipv4_lookup(): the first argument must be a table", table)
    look = p.relation(table, env)
    unmatched_node = node.named.get("return_unmatched") or (node.args[3] if len(node.args) > 3 else None)
    unmatched = False
    if unmatched_node is not None:
        v = p.compile(unmatched_node, p.scope_of(rel, env))
        if not (v.is_const and isinstance(v.const, bool)):
            raise p.semantic("ipv4_lookup(): return_unmatched must be true or false", unmatched_node)
        unmatched = v.const
    source = to_string(p.compile(node.args[1], p.scope_of(rel, env))).sql
    key = to_string(p.compile(node.args[2], p.scope_of(look, env))).sql
    s_lo, _ = _ipv4_range(source)
    l_lo, l_hi = _ipv4_range(key)
    inp = p.select(rel, [*[col(n) for n, _ in rel.cols], alias(s_lo, "__ip")])
    kept = [(n, t) for n, t in look.cols if n not in dict(rel.cols)]
    lk = p.select(
        look,
        [
            *[alias(col(n), f"__l{i}") for i, (n, _) in enumerate(kept)],
            alias(l_lo, "__lo"),
            alias(l_hi, "__hi"),
        ],
    )
    joined = from_template(
        f"SELECT * FROM inp AS t {'LEFT ' if unmatched else ''}JOIN look AS l ON t.__ip BETWEEN l.__lo AND l.__hi",
        {"inp": inp, "look": lk},
    )
    proj = [col(n) for n, _ in rel.cols] + [alias(col(f"__l{i}"), n) for i, (n, _) in enumerate(kept)]
    return Rel(
        exp.select(*proj).from_(joined.subquery(p.fresh(), copy=False), copy=False), [*rel.cols, *kept]
    )


def _ipv6_match(ip: exp.Expression, net: exp.Expression) -> exp.Expression:
    """ipv6_is_match(ip, net) through the Python function (both may carry a prefix: the smaller applies)."""
    args = call("json_array", call("to_json", ip), call("to_json", net))
    udf = call(
        UDF_NAME, S("ipv6_is_match"), S("string,string->bool"), exp.Cast(this=args, to=dtype("VARCHAR"))
    )
    return exp.Coalesce(this=exp.TryCast(this=udf, to=dtype("BOOLEAN")), expressions=[exp.false()])


def lower_ipv6_lookup(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """ipv6_lookup(LookupTable, SourceKey, LookupKey [, return_unmatched]): the lookup's columns, then the
    row's (as the ipv6_lookup page shows them; a name both have is kept from the row); unmatched rows
    (lookup columns null) only with return_unmatched."""
    if not 3 <= len(node.args) <= 4:
        raise p.semantic(
            "ipv6_lookup() takes the lookup table, the source IPv6 column, the lookup column"
            " and optionally return_unmatched",
            node,
        )
    table = node.args[0]
    if not p.is_tabular(table, Scope({}, env, p)):
        raise p.semantic("ipv6_lookup(): the first argument must be a table", table)
    look = p.relation(table, env)
    unmatched_node = node.named.get("return_unmatched") or (node.args[3] if len(node.args) > 3 else None)
    unmatched = False
    if unmatched_node is not None:
        v = p.compile(unmatched_node, p.scope_of(rel, env))
        if not (v.is_const and isinstance(v.const, bool)):
            raise p.semantic("ipv6_lookup(): return_unmatched must be true or false", unmatched_node)
        unmatched = v.const
    source = to_string(p.compile(node.args[1], p.scope_of(rel, env))).sql
    key = to_string(p.compile(node.args[2], p.scope_of(look, env))).sql
    inp = p.select(rel, [*[col(n) for n, _ in rel.cols], alias(source, "__ip")])
    kept = [(n, t) for n, t in look.cols if n not in dict(rel.cols)]
    lk = p.select(look, [*[alias(col(n), f"__l{i}") for i, (n, _) in enumerate(kept)], alias(key, "__net")])
    joined = from_template(
        f"SELECT * FROM inp AS t {'LEFT ' if unmatched else ''}JOIN look AS l ON __match",
        {"inp": inp, "look": lk},
        {"__match": _ipv6_match(exp.column("__ip", table="t"), exp.column("__net", table="l"))},
    )
    proj = [alias(col(f"__l{i}"), n) for i, (n, _) in enumerate(kept)] + [col(n) for n, _ in rel.cols]
    return Rel(
        exp.select(*proj).from_(joined.subquery(p.fresh(), copy=False), copy=False), [*kept, *rel.cols]
    )


PLUGINS: dict[str, Plugin] = {
    "ipv4_lookup": Plugin(lower_ipv4_lookup),
    "ipv6_lookup": Plugin(lower_ipv6_lookup, spark=duckdb_only),  # a Python predicate per pair
}
