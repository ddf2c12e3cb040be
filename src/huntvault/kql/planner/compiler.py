"""The scalar compiler: one AST expression in a scope to a typed sqlglot tree (nodes by table, calls by
the registry's lookup order, `and`/`or` chains flattened so their length costs no recursion)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from huntvault.errors import KqlError, KqlSemanticError
from huntvault.kql import ast as A
from huntvault.kql import registry
from huntvault.kql.dialects import JSON_PATH, json_path
from huntvault.kql.ir import Aggregate, Binding, Function, Offline, Planner, Scope, Special, TypeRule
from huntvault.kql.lowering.tables import Overlay
from huntvault.kql.scalar.comparison import between
from huntvault.kql.values import NUMERIC, T, as_bool, cast_expr, convert, dtype, literal

#: Names the Sentinel flavour (and the legacy MDATP schema) use for Defender columns.
COLUMN_ALIASES: dict[str, str] = {
    "TimeGenerated": "Timestamp",
    "EventTime": "Timestamp",
    "ComputerName": "DeviceName",
    "MachineId": "DeviceId",
    # Sentinel's UEBA IdentityInfo spells these IdentityInfo columns otherwise
    "AccountUPN": "AccountUpn",
    "AccountSID": "OnPremSid",
    "AccountCloudSID": "CloudSid",
    "MailAddress": "EmailAddress",
}

#: exceptions a lowering may raise on arguments it did not expect: reported as errors at the call
LOWERING_FAILURES = (
    IndexError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    AssertionError,
    ZeroDivisionError,
    OverflowError,
)


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


def check_arity(name: str, arity: tuple[int, int | None], given: int) -> str | None:
    """The error message when `given` arguments do not fit `arity` (min, max or None), else None."""
    lo, hi = arity
    if given >= lo and (hi is None or given <= hi):
        return None
    if hi is None:
        want = f"at least {lo} {_plural(lo)}"
    elif lo == hi:
        want = f"{lo} {_plural(lo)}"
    else:
        want = f"{lo} to {hi} arguments"
    return f"{name}() takes {want}, got {given}"


def chain(node: A.Binary) -> list[A.Node]:
    """The operands of an `and` (or `or`) chain, left to right, without recursion."""
    out: list[A.Node] = []
    stack: list[A.Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, A.Binary) and n.op == node.op:
            stack += [n.right, n.left]
        else:
            out.append(n)
    return out


def _member_name(base: T, steps: list[tuple[str, Any]]) -> str | None:
    if base.name is None:
        return None
    out = base.name
    for _, value in steps:
        out += "_" + str(value)
    return re.sub(r"[^A-Za-z0-9_]", "_", out)


class ExprCompiler:
    """Compiles one scalar AST node in a scope; node kinds, operators and functions are tables."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.planner: Planner = scope.planner

    def err(self, msg: str, node: A.Node) -> KqlSemanticError:
        return self.planner.semantic(msg, node)

    def compile(self, node: A.Node) -> T:
        self.planner.checkpoint()
        handler = NODE_HANDLERS.get(type(node))
        if handler is None:
            raise self.err(f"{type(node).__name__} cannot be used as a scalar expression", node)
        try:
            return handler(self, node)
        except KqlError:
            raise
        except (
            LOWERING_FAILURES
        ) as exc:  # a lowering met values it did not expect: a 400 at the node, not a crash
            raise self.err(
                f"internal error lowering this expression: {type(exc).__name__}: {exc}", node
            ) from None

    # ---------------------------------------------------------------- nodes

    def literal_node(self, node: A.Literal) -> T:
        if node.type == "null":
            return T(exp.Null(), "null", None)
        try:
            return literal(node.value, node.type)
        except (ValueError, OverflowError) as exc:
            raise self.err(f"invalid {node.type} literal: {exc}", node) from None

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
            return self.scalar_binding(name, binding, node)
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
        return self.json_path(self.compile(node.obj), [("key", node.name)])

    def index_node(self, node: A.Index) -> T:
        base = self.compile(node.obj)
        idx = self.compile(node.index)
        if idx.is_const and isinstance(idx.const, str):
            return self.json_path(base, [("key", idx.const)])
        if idx.is_const and isinstance(idx.const, int) and not isinstance(idx.const, bool):
            return self.json_path(base, [("index", idx.const)])
        if idx.type in ("string", "guid"):
            path = exp.DPipe(
                this=exp.DPipe(this=exp.Literal.string('$."'), expression=idx.sql),
                expression=exp.Literal.string('"'),
            )
        else:
            text = exp.Cast(this=idx.sql, to=dtype("VARCHAR"))
            path = exp.DPipe(
                this=exp.DPipe(this=exp.Literal.string("$["), expression=text),
                expression=exp.Literal.string("]"),
            )
        return T(self.planner.dialect.json_extract(self.as_json(base), path), "dynamic")

    def as_json(self, base: T) -> exp.Expression:
        if base.type == "dynamic":
            return base.sql
        if base.type in ("string", "guid"):
            return self.planner.dialect.try_json(base.sql)
        return convert(base, "dynamic").sql

    def json_path(self, base: T, steps: list[tuple[str, Any]]) -> T:
        path = "$"
        for kind, value in steps:
            if kind == "key":
                path += '."' + str(value).replace('"', '\\"') + '"'
            elif value < 0:
                path += f"[#{value}]"
            else:
                path += f"[{value}]"
        inner = base.sql
        name = _member_name(base, steps)
        # chained accesses merge into one path: json_extract(json_extract(x, '$.a'), '$.b') -> '$.a.b'
        if isinstance(inner, exp.Anonymous) and inner.name.lower() == JSON_PATH:
            prev_base, prev_path = inner.expressions
            return T(json_path(prev_base, prev_path.this + path[1:]), "dynamic", name=name)
        return T(json_path(self.as_json(base), path), "dynamic", name=name)

    def unary_node(self, node: A.Unary) -> T:
        v = self.compile(node.operand)
        if node.op == "+":
            return v
        if v.is_const and v.const is not None and v.type in (*NUMERIC, "timespan"):
            return literal(-v.const, v.type)
        return T(exp.Neg(this=v.sql), v.type)

    def binary_node(self, node: A.Binary) -> T:
        if node.op in ("and", "or"):
            parts = [exp.Paren(this=as_bool(self.compile(n))) for n in chain(node)]
            connector = exp.and_ if node.op == "and" else exp.or_
            return T(cast_expr(connector(*parts, copy=False)), "bool")
        lower = registry.BINARY.get(node.op)
        if lower is None:
            raise self.err(f"operator {node.op!r} is not supported", node)
        return lower(self, self.compile(node.left), self.compile(node.right), node)

    def between_node(self, node: A.Between) -> T:
        return between(self, node)

    def listop_node(self, node: A.ListOp) -> T:
        lower = registry.LIST_OPERATORS.get(node.op)
        if lower is None:
            raise self.err(f"operator {node.op!r} is not supported", node)
        return lower(self, node)

    def star_node(self, node: A.Star) -> T:
        raise self.err("'*' is only valid as an argument of some aggregates", node)

    def typeof_node(self, node: A.TypeOf) -> T:
        return T(exp.Literal.string(node.type), "string", node.type)

    def tabular_node(self, node: A.Node) -> T:
        raise self.err("a tabular expression cannot be used as a scalar value (use toscalar())", node)

    # ---------------------------------------------------------------- let bindings

    def scalar_binding(self, name: str, b: Binding, node: A.Node) -> T:
        if b.value is not None:  # one tree for every reference: the lowering never changes a tree it shares
            return T(b.value.sql, b.value.type, b.value.const, name)
        p = self.planner
        if b.rel is not None or (b.node is not None and p.is_tabular(b.node, Scope({}, b.env, p))):
            raise self.err(
                f"{name!r} is a tabular expression; it cannot be used as a scalar (use toscalar() or `in`)",
                node,
            )
        if b.func is not None:
            raise self.err(f"{name!r} is a function; call it with ()", node)
        assert b.node is not None  # a binding is a value, a relation, a function or a node
        value = ExprCompiler(Scope({}, b.env, p)).compile(b.node)
        b.value = value
        return T(value.sql, value.type, value.const, name)

    def call_user(self, name: str, b: Binding, node: A.Call) -> T:
        if b.func is None:
            raise self.err(f"{name!r} is not a function", node)
        p = self.planner
        fenv = p.call_env(name, b, node, self.scope)
        if p.is_tabular(b.func.body, Scope({}, fenv, p)):
            raise self.err(f"{name}() returns a table; it cannot be used as a scalar", node)
        return ExprCompiler(self.scope.with_env(fenv)).compile(b.func.body)

    # ---------------------------------------------------------------- calls

    def call_node(self, node: A.Call) -> T:
        name = node.name
        binding = self.scope.env.get(name)
        if binding is not None:
            return self.call_user(name, binding, node)
        entry = registry.resolve(name)
        if entry is None:
            if name.lower() in registry.GRAPH_FUNCTIONS:
                raise self.err(
                    f"{name}() is a graph function: use it in graph-match or graph-shortest-paths", node
                )
            raise self.err(f"unknown function {name}()", node)
        try:
            return CALLS[type(entry)](self, entry, node)
        except KqlError:
            raise
        except LOWERING_FAILURES as exc:
            raise self.err(f"internal error lowering {name}(): {type(exc).__name__}: {exc}", node) from None

    def call_special(self, entry: Special, node: A.Call) -> T:
        self.arity(node, entry.arity)
        return entry.lower(self, node)

    def call_offline(self, entry: Offline, node: A.Call) -> T:
        raise self.planner.unsupported(f"{entry.reason}: not available offline", node)

    def call_aggregate(self, entry: Aggregate, node: A.Call) -> T:
        if self.scope.aggregates is None:
            scalar = registry.FUNCTIONS.get(node.name.lower())
            if scalar is not None:  # hll_merge(): an aggregate in summarize, a scalar function elsewhere
                return self.call_function(scalar, node)
            raise self.err(
                f"aggregate {node.name}() is only valid in summarize (or make-series/top-nested)", node
            )
        if entry.extreme in ("max", "min"):  # take_any inside an expression is one value (any_value)
            raise self.err(f"{node.name}() must be the whole aggregate expression", node)
        inner = ExprCompiler(self.scope.with_aggregates(None))
        args = [inner.compile(a) for a in node.args if not isinstance(a, A.Star)]
        self.arity(node, entry.arity, len(args))
        lower = (
            entry.spark if entry.spark is not None and self.planner.dialect.name == "spark" else entry.lower
        )
        v = self.typed(node, entry.returns, args, lower(self, args, node))
        self.scope.aggregates.append(node)
        return v

    def call_function(self, entry: Function, node: A.Call) -> T:
        self.arity(node, entry.arity)
        args: list[T] = []
        for a in node.args:
            if entry.stars and isinstance(a, A.Star):
                cols = self.scope.cols
                if isinstance(cols, Overlay):  # the input row: not the columns the same extend assigns
                    cols = cols.base
                args += [T(v.sql, v.type, name=name) for name, v in cols.items()]
            else:
                args.append(self.compile(a))
        lower = (
            entry.spark if entry.spark is not None and self.planner.dialect.name == "spark" else entry.lower
        )
        return self.typed(node, entry.returns, args, lower(self, args, node))

    def arity(self, node: A.Call, arity: tuple[int, int | None], given: int | None = None) -> None:
        problem = check_arity(node.name, arity, len(node.args) if given is None else given)
        if problem is not None:
            raise self.err(problem, node)

    def typed(self, node: A.Call, returns: str | TypeRule | None, args: list[T], v: T) -> T:
        """The lowered value, checked against the entry's declared result type."""
        if returns is None:
            return v
        want = returns if isinstance(returns, str) else returns(args)
        if v.type != want and not (v.is_const and v.const is None):
            raise self.err(
                f"internal error lowering {node.name}(): a {v.type} value where {want} is declared", node
            )
        return v


NODE_HANDLERS: dict[type[A.Node], Callable[[ExprCompiler, Any], T]] = {
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

CALLS: dict[type, Callable[[ExprCompiler, Any, A.Call], T]] = {
    Special: ExprCompiler.call_special,
    Offline: ExprCompiler.call_offline,
    Aggregate: ExprCompiler.call_aggregate,
    Function: ExprCompiler.call_function,
}
