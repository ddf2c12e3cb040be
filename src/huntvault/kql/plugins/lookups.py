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


@dataclass
class AddressRange:
    """An address column's bounds: `first` and `last` over the columns `pre` computes (name, expression)
    in a step before."""

    pre: list[tuple[str, exp.Expression]]
    first: exp.Expression
    last: exp.Expression


Range = Callable[[Planner, A.Node, Scope], AddressRange]


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


def _ipv4_range(p: Planner, node: A.Node, scope: Scope) -> AddressRange:
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
    return AddressRange([], lo, hi)


def _ipv6_range(p: Planner, node: A.Node, scope: Scope) -> AddressRange:
    """The first and last address of an IPv6 address or network `addr[/n]` as 32 lowercase hex digits: the
    first is parse_ipv6's masked address; the last sets the host bits (the prefix length is the text's, 128
    without one, 96 more for an IPv4 form); null when the text is not an address. Computed in two steps:
    the hex text `__h` and the prefix length `__bits` first, the bounds over them."""
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
            "__v6": exp.GT(
                this=exp.StrPosition(this=_split(text, "/", 1), substr=exp.Literal.string(":")),
                expression=exp.Literal.number(0),
            ),
        },
    )
    h, bits = (e.this if isinstance(e, exp.Alias) else e for e in parts.expressions)
    bounds = from_template(
        "SELECT __h AS lo, CASE WHEN __h IS NULL THEN NULL ELSE SUBSTR(__h, 1, CAST(FLOOR(__bits / 4) AS INT))"
        " || CASE WHEN __bits % 4 = 0 THEN '' ELSE SUBSTR('0123456789abcdef',"
        " ((STRPOS('0123456789abcdef', SUBSTR(__h, CAST(FLOOR(__bits / 4) AS INT) + 1, 1)) - 1)"
        " | (15 >> CAST(__bits % 4 AS INT))) + 1, 1) END"
        " || REPEAT('f', 32 - CAST(FLOOR(__bits / 4) AS INT) - CASE WHEN __bits % 4 = 0 THEN 0 ELSE 1 END) END AS hi",
        {},
        {},
    )
    lo, hi = (e.this if isinstance(e, exp.Alias) else e for e in bounds.expressions)
    return AddressRange([("__h", h), ("__bits", bits)], lo, hi)


@dataclass(frozen=True)
class IpLookup:
    """One lookup plugin: its name, how a key becomes an address range, and whether the lookup table's
    columns come first in the output (as ipv6_lookup's reference page shows) or after the row's."""

    name: str
    family: str
    address_range: Range
    lookup_first: bool


def _two_step(
    p: Planner, inner: exp.Select, passed: list[exp.Expression], computed: list[exp.Expression]
) -> exp.Select:
    """`SELECT passed..., computed... FROM (inner)`: the computed bounds read the inner step's columns."""
    return exp.select(*passed, *computed).from_(inner.subquery(p.fresh(), copy=False), copy=False)


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
    src = spec.address_range(p, node.args[1], src_scope)
    net = spec.address_range(p, node.args[2], look_scope)
    kept = [(n, t) for n, t in look.cols if n not in have]
    inp = _two_step(
        p,
        p.select(
            rel,
            [
                *[col(n) for n, _ in rel.cols],
                *[alias(col(k), f"__sk{i}") for i, k in enumerate(extra)],
                *[alias(e, n) for n, e in src.pre],
            ],
        ),
        [*[col(n) for n, _ in rel.cols], *[col(f"__sk{i}") for i in range(len(extra))]],
        [alias(src.first, "__ip")],
    )
    passed = [f"__l{i}" for i in range(len(kept))] + [f"__lk{i}" for i in range(len(extra))]
    lk = _two_step(
        p,
        p.select(
            look,
            [
                *[alias(col(n), f"__l{i}") for i, (n, _) in enumerate(kept)],
                *[alias(col(k), f"__lk{i}") for i, k in enumerate(extra)],
                *[col(n) for n, _ in look.cols],
                *[alias(e, n) for n, e in net.pre],
            ],
        ),
        [col(n) for n in passed],
        [alias(net.first, "__lo"), alias(net.last, "__hi")],
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


PLUGINS: dict[str, Plugin] = {
    "ipv4_lookup": Plugin(_lower(IPV4)),
    "ipv6_lookup": Plugin(_lower(IPV6)),
}
