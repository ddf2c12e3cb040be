"""ipv4_lookup and ipv6_lookup: rows joined to the lookup table rows whose IP network (prefix notation) holds
their address, optionally on extra equal-valued key columns. Each network becomes a [first, last] address
range (IPv4 as integers, IPv6 as 32 hex digits, which order as the numbers do), so the join is a range join."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Plugin, Rel, Scope
from huntvault.kql.lowering.template import from_template
from huntvault.kql.values import alias, col, to_string

Range = Callable[[Planner, A.Node, Scope], tuple[exp.Expression, exp.Expression]]


def _split(text: exp.Expression, sep: str, part: int) -> exp.Expression:
    return exp.Anonymous(
        this="split_part", expressions=[text.copy(), exp.Literal.string(sep), exp.Literal.number(part)]
    )


def _ipv4_int(addr: exp.Expression) -> exp.Expression:
    total: exp.Expression = exp.Literal.number(0)
    for i, weight in enumerate((16777216, 65536, 256, 1), start=1):
        part = exp.TryCast(this=_split(addr, ".", i), to=exp.DataType.build("BIGINT"))
        total = exp.Add(this=total, expression=exp.Mul(this=part, expression=exp.Literal.number(weight)))
    return total


def _ipv4_range(p: Planner, node: A.Node, scope: Scope) -> tuple[exp.Expression, exp.Expression]:
    """The first and last address (as integers) of an IPv4 address or network `a.b.c.d[/n]`; null when the
    text is not one."""
    text = to_string(p.compile(node, scope)).sql
    template = from_template(
        "SELECT CAST(FLOOR(__ip / POW(2, 32 - __bits)) * POW(2, 32 - __bits) AS BIGINT) AS lo,"
        " CAST(FLOOR(__ip / POW(2, 32 - __bits)) * POW(2, 32 - __bits) + POW(2, 32 - __bits) - 1 AS BIGINT) AS hi",
        {},
        {
            "__ip": _ipv4_int(_split(text, "/", 1)),
            "__bits": exp.Coalesce(
                this=exp.TryCast(this=_split(text, "/", 2), to=exp.DataType.build("BIGINT")),
                expressions=[exp.Literal.number(32)],
            ),
        },
    )
    lo, hi = (e.this if isinstance(e, exp.Alias) else e for e in template.expressions)
    return lo, hi


def _ipv6_range(p: Planner, node: A.Node, scope: Scope) -> tuple[exp.Expression, exp.Expression]:
    """The first and last address of an IPv6 address or network `addr[/n]` as 32 lowercase hex digits: the
    first is parse_ipv6's masked address; the last sets the host bits (the prefix length is the text's, 128
    without one, 96 more for an IPv4 form); null when the text is not an address."""
    text = to_string(p.compile(node, scope)).sql
    masked = p.compile(A.Call("parse_ipv6", [node], pos=node.pos), scope).sql
    parts = from_template(
        "SELECT NULLIF(REPLACE(__m, ':', ''), '') AS h,"
        " LEAST(128, COALESCE(TRY_CAST(SPLIT_PART(__t, '/', 2) AS BIGINT), CASE WHEN __v6 THEN 128 ELSE 32 END)"
        " + CASE WHEN __v6 THEN 0 ELSE 96 END) AS b",
        {},
        {
            "__m": masked,
            "__t": text,
            "__v6": exp.Anonymous(
                this="contains", expressions=[_split(text, "/", 1), exp.Literal.string(":")]
            ),
        },
    )
    h, bits = (e.this if isinstance(e, exp.Alias) else e for e in parts.expressions)
    # the hex text and the prefix length go through one struct, so each is computed once per row
    pair = exp.Anonymous(
        this="struct_pack",
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier("h"), expression=h),
            exp.PropertyEQ(this=exp.to_identifier("b"), expression=bits),
        ],
    )
    last = from_template(
        "SELECT CASE WHEN __x.h IS NULL THEN NULL ELSE LEFT(__x.h, __x.b // 4)"
        " || CASE WHEN __x.b % 4 = 0 THEN '' ELSE LOWER(PRINTF('%x',"
        " CAST('0x' || SUBSTR(__x.h, __x.b // 4 + 1, 1) AS INTEGER) | (15 >> (__x.b % 4)))) END"
        " || REPEAT('f', 32 - __x.b // 4 - CASE WHEN __x.b % 4 = 0 THEN 0 ELSE 1 END) END AS hi",
        {},
        {},
    )
    return h, _bind_struct(last.expressions[0].this, pair)


def _bind_struct(template: exp.Expression, pair: exp.Expression) -> exp.Expression:
    """`template` over one row value `__x`: a lambda applied to it, so the value is computed once."""
    return exp.Anonymous(
        this="list_extract",
        expressions=[
            exp.Anonymous(
                this="list_transform",
                expressions=[
                    exp.Array(expressions=[pair]),
                    exp.Lambda(this=template, expressions=[exp.to_identifier("__x")]),
                ],
            ),
            exp.Literal.number(1),
        ],
    )


@dataclass(frozen=True)
class IpLookup:
    """One lookup plugin: its name, how a key becomes an address range, and whether the lookup table's
    columns come first in the output (as ipv6_lookup's reference page shows) or after the row's."""

    name: str
    family: str
    address_range: Range
    lookup_first: bool


def _lower(spec: IpLookup) -> Callable[[Planner, Rel, A.Call, Env], Rel]:
    def lower(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
        return _lookup(spec, p, rel, node, env)

    return lower


def _lookup(spec: IpLookup, p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    """`name(LookupTable, SourceKey, LookupKey [, ExtraKey...] [, return_unmatched])`: the row's columns and
    the lookup's (a name both have is the row's value); unmatched rows only with return_unmatched."""
    name = spec.name
    if len(node.args) < 3:
        raise p.semantic(
            f"{name}() takes the lookup table, the source {spec.family} column and the lookup column", node
        )
    table = node.args[0]
    if not p.is_tabular(table, Scope({}, env, p)):
        raise p.semantic(f"{name}(): the first argument must be a table", table)
    look = p.relation(table, env)
    src_scope, look_scope = p.scope_of(rel, env), p.scope_of(look, env)
    rest = list(node.args[3:])
    unmatched_node = node.named.get("return_unmatched")
    for key in node.named:
        if key != "return_unmatched":
            raise p.semantic(
                f"{name}(): unknown argument {key!r} (expected return_unmatched)", node.named[key]
            )
    if rest and not isinstance(rest[-1], A.Name) and unmatched_node is None:
        unmatched_node = rest.pop()
    unmatched = False
    if unmatched_node is not None:
        v = p.compile(unmatched_node, src_scope)
        if not (v.is_const and isinstance(v.const, bool)):
            raise p.semantic(f"{name}(): return_unmatched must be true or false", unmatched_node)
        unmatched = v.const
    have, look_have = dict(rel.cols), dict(look.cols)
    extra: list[str] = []
    for arg in rest:
        if not isinstance(arg, A.Name) or arg.name not in have or arg.name not in look_have:
            raise p.semantic(
                f"{name}(): an extra key must be a column of both the input and the lookup table", arg
            )
        extra.append(arg.name)
    for arg, scope in ((node.args[1], src_scope), (node.args[2], look_scope)):
        if p.compile(arg, scope).type not in ("string", "dynamic", "null"):
            raise p.semantic(f"{name}(): the {spec.family} keys must be strings", arg)
    s_lo, _ = spec.address_range(p, node.args[1], src_scope)
    l_lo, l_hi = spec.address_range(p, node.args[2], look_scope)
    inp = p.select(
        rel,
        [
            *[col(n) for n, _ in rel.cols],
            alias(s_lo, "__ip"),
            *[alias(col(k), f"__sk{i}") for i, k in enumerate(extra)],
        ],
    )
    kept = [(n, t) for n, t in look.cols if n not in have]
    lk = p.select(
        look,
        [
            *[alias(col(n), f"__l{i}") for i, (n, _) in enumerate(kept)],
            *[alias(col(k), f"__lk{i}") for i, k in enumerate(extra)],
            alias(l_lo, "__lo"),
            alias(l_hi, "__hi"),
        ],
    )
    on = "t.__ip BETWEEN l.__lo AND l.__hi" + "".join(
        f" AND t.__sk{i} = l.__lk{i}" for i in range(len(extra))
    )
    joined = from_template(
        f"SELECT * FROM inp AS t {'LEFT ' if unmatched else ''}JOIN look AS l ON {on}",
        {"inp": inp, "look": lk},
    )
    mine = {n: i for i, (n, _) in enumerate(kept)}
    if spec.lookup_first:
        cols = list(look.cols) + [(n, t) for n, t in rel.cols if n not in look_have]
    else:
        cols = [*rel.cols, *kept]
    proj: list[exp.Expression] = [alias(col(f"__l{mine[n]}"), n) if n in mine else col(n) for n, _ in cols]
    return Rel(exp.select(*proj).from_(joined.subquery(p.fresh(), copy=False), copy=False), cols)


IPV4 = IpLookup("ipv4_lookup", "IPv4", _ipv4_range, lookup_first=False)
IPV6 = IpLookup("ipv6_lookup", "IPv6", _ipv6_range, lookup_first=True)


def duckdb_only(p: Planner, rel: Rel, node: A.Call, env: Env) -> Rel:
    raise p.unsupported(f"evaluate {node.name}() runs on the DuckDB engine only", node)


PLUGINS: dict[str, Plugin] = {
    "ipv4_lookup": Plugin(_lower(IPV4)),
    "ipv6_lookup": Plugin(_lower(IPV6), spark=duckdb_only),  # the hex range text uses DuckDB's PRINTF
}
