"""Lowering of KQL scalar expressions to typed sqlglot trees: names, literals, operators (a table), calls."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from huntvault.errors import KqlSemanticError, KqlUnsupportedError
from huntvault.kql import ast as A
from huntvault.kql.values import (
    NOCONST,
    NUMERIC,
    T,
    as_bool,
    col,
    convert,
    fn,
    literal,
    null_of,
    promote,
    string,
    to_string,
)

if TYPE_CHECKING:
    from huntvault.kql.plan import Planner

#: Names the Sentinel flavour (and the legacy MDATP schema) use for Defender columns.
COLUMN_ALIASES: dict[str, str] = {
    "TimeGenerated": "Timestamp",
    "EventTime": "Timestamp",
    "ComputerName": "DeviceName",
    "MachineId": "DeviceId",
}

TERM = r"[^\pL\pN]"


@dataclass
class Scope:
    """What a scalar expression can see: columns (name -> lowered value), let bindings, the planner."""

    cols: dict[str, T]
    env: dict[str, Any]
    planner: Planner
    aggregates: list[Any] | None = None  # set inside summarize: aggregate calls are allowed
    order: list[exp.Ordered] | None = None  # serialized order, for row_number/prev/next
    sides: dict[str, dict[str, T]] = field(default_factory=dict)  # $left/$right in join conditions

    def child(self, **kw: Any) -> Scope:
        values: dict[str, Any] = {
            "cols": self.cols,
            "env": self.env,
            "planner": self.planner,
            "aggregates": self.aggregates,
            "order": self.order,
            "sides": self.sides,
        }
        values.update(kw)
        return Scope(**values)


def semantic(msg: str, node: A.Node, scope: Scope) -> KqlSemanticError:
    return scope.planner.error(KqlSemanticError, msg, node)


def is_term_char(ch: str) -> bool:
    return ch.isalnum()


def term_regex(needle: str, mode: str, case_sensitive: bool) -> str | None:
    """RE2 pattern for Kusto's term operators (has/hasprefix/hassuffix), None when a plain substring test is exact."""
    if not needle or not any(is_term_char(c) for c in needle):
        return None
    lead = mode in ("has", "prefix") and is_term_char(needle[0])
    trail = mode in ("has", "suffix") and is_term_char(needle[-1])
    if not lead and not trail:
        return None
    body = re.escape(needle)
    return (
        ("" if case_sensitive else "(?i)")
        + (f"(?:^|{TERM})" if lead else "")
        + body
        + (f"(?:$|{TERM})" if trail else "")
    )


class ExprCompiler:
    """Compiles one scalar AST node in a scope; functions and operators are looked up in tables."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.planner = scope.planner

    def err(self, msg: str, node: A.Node) -> KqlSemanticError:
        return semantic(msg, node, self.scope)

    def compile(self, node: A.Node) -> T:
        handler = NODE_HANDLERS.get(type(node))
        if handler is None:
            raise self.err(f"{type(node).__name__} cannot be used as a scalar expression", node)
        return handler(self, node)

    # ---------------------------------------------------------------- nodes

    def literal_node(self, node: A.Literal) -> T:
        if node.type == "null":
            return T(exp.Null(), "null", None)
        return literal(node.value, node.type)

    def name_node(self, node: A.Name) -> T:
        name = node.name
        cols = self.scope.cols
        if name in cols:
            v = cols[name]
            return T(v.sql, v.type, v.const, name)
        target = COLUMN_ALIASES.get(name)
        if target and target in cols:
            v = cols[target]
            return T(v.sql, v.type, v.const, name)
        binding = self.scope.env.get(name)
        if binding is not None:
            return self.planner.scalar_binding(name, binding, node, self.scope)
        if name in ("$left", "$right"):
            raise self.err(f"{name} is only valid in a join condition", node)
        close = [c for c in cols if c.lower() == name.lower()]
        hint = f" (did you mean {close[0]!r}? names are case-sensitive)" if close else ""
        raise self.err(f"unknown column or variable {name!r}{hint}", node)

    def member_node(self, node: A.Member) -> T:
        if isinstance(node.obj, A.Name) and node.obj.name in ("$left", "$right"):
            side = self.scope.sides.get(node.obj.name)
            if side is None:
                raise self.err(f"{node.obj.name} is only valid in a join condition", node)
            if node.name not in side:
                target = COLUMN_ALIASES.get(node.name)
                if target and target in side:
                    return T(side[target].sql, side[target].type, name=node.name)
                raise self.err(
                    f"unknown column {node.name!r} on the {node.obj.name[1:]} side of the join", node
                )
            v = side[node.name]
            return T(v.sql, v.type, name=node.name)
        base = self.compile(node.obj)
        return self.json_path(base, [("key", node.name)], node)

    def index_node(self, node: A.Index) -> T:
        base = self.compile(node.obj)
        idx = self.compile(node.index)
        if idx.is_const and isinstance(idx.const, str):
            return self.json_path(base, [("key", idx.const)], node)
        if idx.is_const and isinstance(idx.const, int):
            return self.json_path(base, [("index", idx.const)], node)
        if idx.type in ("string", "guid"):
            path = exp.DPipe(
                this=exp.DPipe(this=exp.Literal.string('$."'), expression=idx.sql),
                expression=exp.Literal.string('"'),
            )
        else:
            path = exp.DPipe(
                this=exp.DPipe(
                    this=exp.Literal.string("$["),
                    expression=exp.Cast(this=idx.sql, to=exp.DataType.build("VARCHAR")),
                ),
                expression=exp.Literal.string("]"),
            )
        return T(self.planner.dialect.json_extract(self.as_json(base), path), "dynamic")

    def as_json(self, base: T) -> exp.Expression:
        if base.type == "dynamic":
            return base.sql
        if base.type in ("string", "guid"):
            return self.planner.dialect.try_json(base.sql)
        return convert(base, "dynamic").sql

    def json_path(self, base: T, steps: list[tuple[str, Any]], node: A.Node) -> T:
        path = "$"
        for kind, value in steps:
            if kind == "key":
                path += '."' + str(value).replace('"', '\\"') + '"'
            elif value < 0:
                path += f"[#{value}]"
            else:
                path += f"[{value}]"
        inner = base.sql
        # merge chained accesses into one path: json_extract(json_extract(x, '$.a'), '$.b') -> '$.a.b'
        if isinstance(inner, exp.Anonymous) and inner.name.lower() == "__json_path":
            prev_base, prev_path = inner.expressions
            return T(
                anon_path(prev_base, prev_path.this + path[1:]), "dynamic", name=_member_name(base, steps)
            )
        return T(anon_path(self.as_json(base), path), "dynamic", name=_member_name(base, steps))

    def unary_node(self, node: A.Unary) -> T:
        v = self.compile(node.operand)
        if node.op == "+":
            return v
        if v.is_const and v.const is not None and v.type in (*NUMERIC, "timespan"):
            return literal(-v.const, v.type)
        return T(exp.Neg(this=v.sql), v.type)

    def binary_node(self, node: A.Binary) -> T:
        if node.op in ("and", "or"):
            left = self.compile(node.left)
            right = self.compile(node.right)
            cls = exp.And if node.op == "and" else exp.Or
            return T(
                cls(this=exp.Paren(this=as_bool(left)), expression=exp.Paren(this=as_bool(right))), "bool"
            )
        handler = BINARY.get(node.op)
        if handler is None:
            raise self.err(f"operator {node.op!r} is not supported", node)
        left = self.compile(node.left)
        right = self.compile(node.right)
        return handler(self, left, right, node)

    def between_node(self, node: A.Between) -> T:
        v = self.compile(node.expr)
        lo = self.compile(node.low)
        hi = self.compile(node.high)
        if v.type == "datetime" and hi.type == "timespan":
            hi = arith_add(self, lo, hi, node)
        v, lo = coerce_pair(self, v, lo)
        v, hi = coerce_pair(self, v, hi)
        expr: exp.Expression = exp.Between(this=v.sql, low=lo.sql, high=hi.sql)
        if node.negated:
            expr = exp.Not(this=exp.Paren(this=expr))
        return T(expr, "bool")

    def listop_node(self, node: A.ListOp) -> T:
        from huntvault.kql.calls import list_operator

        return list_operator(self, node)

    def call_node(self, node: A.Call) -> T:
        from huntvault.kql.calls import call_function

        return call_function(self, node)

    def star_node(self, node: A.Star) -> T:
        raise self.err("'*' is only valid as an argument of some aggregates", node)

    def typeof_node(self, node: A.TypeOf) -> T:
        return T(exp.Literal.string(node.type), "string", node.type)

    def tabular_node(self, node: A.Node) -> T:
        raise self.err("a tabular expression cannot be used as a scalar value (use toscalar())", node)


def anon_path(base: exp.Expression, path: str) -> exp.Expression:
    """A marker node for json access; the dialect renders it (merging chained paths)."""
    return exp.Anonymous(this="__json_path", expressions=[base, exp.Literal.string(path)])


def _member_name(base: T, steps: list[tuple[str, Any]]) -> str | None:
    if base.name is None:
        return None
    out = base.name
    for _, value in steps:
        out += "_" + str(value)
    return re.sub(r"[^A-Za-z0-9_]", "_", out)


NODE_HANDLERS: dict[type, Callable[[ExprCompiler, Any], T]] = {
    A.Literal: ExprCompiler.literal_node,
    A.Name: ExprCompiler.name_node,
    A.Member: ExprCompiler.member_node,
    A.Index: ExprCompiler.index_node,
    A.Unary: ExprCompiler.unary_node,
    A.Binary: ExprCompiler.binary_node,
    A.Between: ExprCompiler.between_node,
    A.ListOp: ExprCompiler.listop_node,
    A.Call: ExprCompiler.call_node,
    A.Star: ExprCompiler.star_node,
    A.TypeOf: ExprCompiler.typeof_node,
    A.Pipeline: ExprCompiler.tabular_node,
}


# -------------------------------------------------------------------- binary operators


def coerce_pair(c: ExprCompiler, a: T, b: T) -> tuple[T, T]:
    """Bring two operands of a comparison to a common type, as Kusto's implicit conversions do."""
    if a.type == b.type or "null" in (a.type, b.type):
        return a, b
    if a.type == "dynamic" and b.type != "dynamic":
        return convert(a, b.type if b.type != "guid" else "string"), b
    if b.type == "dynamic" and a.type != "dynamic":
        return a, convert(b, a.type if a.type != "guid" else "string")
    if a.type in NUMERIC and b.type in NUMERIC:
        return a, b
    if {a.type, b.type} <= {"string", "guid"}:
        return a, b
    if a.type == "datetime" and b.type in ("string", "guid"):
        return a, convert(b, "datetime")
    if b.type == "datetime" and a.type in ("string", "guid"):
        return convert(a, "datetime"), b
    if a.type in ("string", "guid"):
        return a, to_string(b)
    if b.type in ("string", "guid"):
        return to_string(a), b
    if a.type == "bool" and b.type in NUMERIC:
        return convert(a, "long"), b
    if b.type == "bool" and a.type in NUMERIC:
        return a, convert(b, "long")
    return a, b


def compare(cls: type[exp.Expression]) -> Callable[[ExprCompiler, T, T, A.Binary], T]:
    def lower(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
        a, b = coerce_pair(c, a, b)
        return T(cls(this=a.sql, expression=b.sql), "bool")

    return lower


def lower_str(v: T) -> exp.Expression:
    if v.is_const and isinstance(v.const, str):
        return exp.Literal.string(v.const.lower())
    return exp.Lower(this=to_string(v).sql)


def ci_equal(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    return T(exp.EQ(this=lower_str(a), expression=lower_str(b)), "bool")


def negate(f: Callable[[ExprCompiler, T, T, A.Binary], T]) -> Callable[[ExprCompiler, T, T, A.Binary], T]:
    def lower(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
        inner = f(c, a, b, node)
        return T(exp.Not(this=exp.Paren(this=inner.sql)), "bool")

    return lower


def substring_op(kind: str, case_sensitive: bool) -> Callable[[ExprCompiler, T, T, A.Binary], T]:
    """contains / startswith / endswith (+ _cs): plain substring tests; case-insensitive unless _cs."""

    def lower(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
        hay = to_string(a).sql if case_sensitive else lower_str(a)
        needle = to_string(b).sql if case_sensitive else lower_str(b)
        return T(c.planner.dialect.substring_test(kind, hay, needle), "bool")

    return lower


def term_op(mode: str, case_sensitive: bool) -> Callable[[ExprCompiler, T, T, A.Binary], T]:
    def lower(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
        return T(term_match(c, to_string(a), b, mode, case_sensitive), "bool")

    return lower


def term_match(c: ExprCompiler, hay: T, needle: T, mode: str, case_sensitive: bool) -> exp.Expression:
    """Kusto's has/hasprefix/hassuffix: a cheap substring pre-test, then the exact term-boundary regex."""
    d = c.planner.dialect
    if needle.is_const:
        text = "" if needle.const is None else str(needle.const)
        pattern = term_regex(text, mode, case_sensitive)
        if case_sensitive:
            pre = d.substring_test("contains", hay.sql, exp.Literal.string(text))
        else:
            pre = d.substring_test("contains", exp.Lower(this=hay.sql), exp.Literal.string(text.lower()))
        if pattern is None:
            return pre
        return exp.And(this=pre, expression=d.regex_match(hay.sql, exp.Literal.string(pattern)))
    ntext = to_string(needle).sql
    lead = f"(?:^|{TERM})" if mode in ("has", "prefix") else ""
    trail = f"(?:$|{TERM})" if mode in ("has", "suffix") else ""
    pat = exp.DPipe(
        this=exp.DPipe(
            this=exp.Literal.string(("" if case_sensitive else "(?i)") + lead),
            expression=d.regex_escape(ntext),
        ),
        expression=exp.Literal.string(trail),
    )
    return d.regex_match(hay.sql, pat)


def regex_op(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    if b.is_const and isinstance(b.const, str):
        check_regex(c, b.const, node)
    return T(c.planner.dialect.regex_match(to_string(a).sql, to_string(b).sql), "bool")


def check_regex(c: ExprCompiler, pattern: str, node: A.Node) -> None:
    if re.search(r"\(\?<?[=!]", pattern):
        raise c.err("regular expressions use RE2 syntax: lookaround (?= (?! (?<= (?<! is not supported", node)


def arith_add(c: ExprCompiler, a: T, b: T, node: A.Node) -> T:
    if a.is_const and b.is_const and a.const is not None and b.const is not None:
        if a.type == "datetime" and b.type == "timespan":
            return literal(a.const + timedelta(microseconds=b.const), "datetime")
        if a.type == "timespan" and b.type == "datetime":
            return literal(b.const + timedelta(microseconds=a.const), "datetime")
        if a.type == b.type == "timespan":
            return literal(a.const + b.const, "timespan")
    d = c.planner.dialect
    if a.type == "datetime" and b.type in ("timespan", *NUMERIC):
        return T(d.add_micros(a.sql, b.sql), "datetime")
    if b.type == "datetime" and a.type in ("timespan", *NUMERIC):
        return T(d.add_micros(b.sql, a.sql), "datetime")
    if a.type == "dynamic":
        a = convert(a, "real")
    if b.type == "dynamic":
        b = convert(b, "real")
    if a.type == "timespan" or b.type == "timespan":
        return T(exp.Add(this=a.sql, expression=b.sql), "timespan")
    if a.type in ("string", "guid") or b.type in ("string", "guid"):
        raise c.err("'+' does not concatenate strings in KQL; use strcat()", node)
    return T(exp.Add(this=a.sql, expression=b.sql), promote(a.type, b.type))


def arith_sub(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    d = c.planner.dialect
    if a.is_const and b.is_const and a.const is not None and b.const is not None:
        if a.type == "datetime" and b.type == "timespan":
            return literal(a.const - timedelta(microseconds=b.const), "datetime")
        if a.type == b.type == "datetime":
            return literal((a.const - b.const) / timedelta(microseconds=1), "timespan")
        if a.type == b.type == "timespan":
            return literal(a.const - b.const, "timespan")
    if a.type == "datetime" and b.type == "datetime":
        return T(exp.Sub(this=d.epoch_us(a.sql), expression=d.epoch_us(b.sql)), "timespan")
    if a.type == "datetime" and b.type in ("timespan", *NUMERIC):
        return T(d.add_micros(a.sql, exp.Neg(this=exp.Paren(this=b.sql))), "datetime")
    if a.type == "dynamic":
        a = convert(a, "real")
    if b.type == "dynamic":
        b = convert(b, "real")
    if a.type == "timespan" or b.type == "timespan":
        return T(exp.Sub(this=a.sql, expression=b.sql), "timespan")
    return T(exp.Sub(this=a.sql, expression=b.sql), promote(a.type, b.type))


def arith_mul(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    if (
        a.is_const
        and b.is_const
        and a.const is not None
        and b.const is not None
        and "timespan" in (a.type, b.type)
    ):
        return literal(a.const * b.const, "timespan")
    a, b = (convert(x, "real") if x.type == "dynamic" else x for x in (a, b))
    if "timespan" in (a.type, b.type):
        return T(
            exp.Cast(this=exp.Mul(this=a.sql, expression=b.sql), to=exp.DataType.build("BIGINT")), "timespan"
        )
    return T(exp.Mul(this=a.sql, expression=b.sql), promote(a.type, b.type))


def arith_div(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    a, b = (convert(x, "real") if x.type == "dynamic" else x for x in (a, b))
    if a.type == "timespan" and b.type == "timespan":
        return T(
            exp.Div(this=exp.Cast(this=a.sql, to=exp.DataType.build("DOUBLE")), expression=b.sql), "real"
        )
    if a.type == "timespan":
        return T(
            exp.Cast(this=exp.Div(this=a.sql, expression=b.sql), to=exp.DataType.build("BIGINT")), "timespan"
        )
    kind = promote(a.type, b.type)
    if kind == "long":
        q = exp.Div(this=exp.Cast(this=a.sql, to=exp.DataType.build("DOUBLE")), expression=b.sql)
        return T(exp.TryCast(this=fn("trunc", q), to=exp.DataType.build("BIGINT")), "long")
    return T(exp.Div(this=exp.Cast(this=a.sql, to=exp.DataType.build("DOUBLE")), expression=b.sql), "real")


def arith_mod(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    kind = "timespan" if "timespan" in (a.type, b.type) else promote(a.type, b.type)
    m = exp.Mod(
        this=exp.Paren(
            this=exp.Add(this=exp.Paren(this=exp.Mod(this=a.sql, expression=b.sql)), expression=b.sql)
        ),
        expression=b.sql,
    )
    return T(m, kind)


def equality(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    a, b = coerce_pair(c, a, b)
    if a.type == "dynamic" and b.type == "dynamic":
        a, b = to_string(a), to_string(b)
    return T(exp.EQ(this=a.sql, expression=b.sql), "bool")


def inequality(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    a, b = coerce_pair(c, a, b)
    if a.type == "dynamic" and b.type == "dynamic":
        a, b = to_string(a), to_string(b)
    return T(exp.NEQ(this=a.sql, expression=b.sql), "bool")


def like_op(c: ExprCompiler, a: T, b: T, node: A.Binary) -> T:
    return T(exp.Like(this=to_string(a).sql, expression=to_string(b).sql), "bool")


BINARY: dict[str, Callable[[ExprCompiler, T, T, A.Binary], T]] = {
    "==": equality,
    "!=": inequality,
    "<": compare(exp.LT),
    "<=": compare(exp.LTE),
    ">": compare(exp.GT),
    ">=": compare(exp.GTE),
    "=~": ci_equal,
    "!~": negate(ci_equal),
    "+": arith_add,
    "-": arith_sub,
    "*": arith_mul,
    "/": arith_div,
    "%": arith_mod,
    "matches regex": regex_op,
    "!matches regex": negate(regex_op),
    "like": like_op,
    "notlike": negate(like_op),
    "likecs": like_op,
    "notlikecs": negate(like_op),
}
for _kind in ("contains", "startswith", "endswith"):
    BINARY[_kind] = substring_op(_kind, False)
    BINARY[_kind + "_cs"] = substring_op(_kind, True)
    BINARY["!" + _kind] = negate(substring_op(_kind, False))
    BINARY["!" + _kind + "_cs"] = negate(substring_op(_kind, True))
for _word, _mode in (("has", "has"), ("hasprefix", "prefix"), ("hassuffix", "suffix")):
    BINARY[_word] = term_op(_mode, False)
    BINARY[_word + "_cs"] = term_op(_mode, True)
    BINARY["!" + _word] = negate(term_op(_mode, False))
    BINARY["!" + _word + "_cs"] = negate(term_op(_mode, True))


def const_value(v: T) -> Any:
    return v.const if v.is_const else NOCONST


def unsupported(msg: str, node: A.Node, scope: Scope) -> KqlUnsupportedError:
    return scope.planner.error(KqlUnsupportedError, msg, node)


__all__ = ["BINARY", "ExprCompiler", "Scope", "col", "null_of", "string"]
