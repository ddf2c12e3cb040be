"""Conditionals and emptiness: iff/iif, case, coalesce, not, assert, isempty/isnotempty, isnull/isnotnull."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Rel
from huntvault.kql.lowering.coerce import unify
from huntvault.kql.lowering.fold import folded_scalar
from huntvault.kql.values import S, T, alias, as_bool, literal, to_string


def f_isempty(c: Compiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type in ("string", "guid"):
        return T(
            exp.Or(
                this=exp.Is(this=v.sql, expression=exp.Null()),
                expression=exp.EQ(this=v.sql, expression=S("")),
            ),
            "bool",
        )
    if v.type == "dynamic":
        empty = exp.EQ(this=to_string(v).sql, expression=S(""))
        return T(exp.Or(this=exp.Is(this=v.sql, expression=exp.Null()), expression=empty), "bool")
    return T(exp.Is(this=v.sql, expression=exp.Null()), "bool")


def f_isnotempty(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Not(this=exp.Paren(this=f_isempty(c, args, node).sql)), "bool")


def f_isnull(c: Compiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type in ("string", "guid"):
        return literal(False, "bool")  # Kusto strings are never null
    return T(exp.Is(this=v.sql, expression=exp.Null()), "bool")


def f_isnotnull(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Not(this=exp.Paren(this=f_isnull(c, args, node).sql)), "bool")


def f_iff(c: Compiler, args: list[T], node: A.Call) -> T:
    a, b = unify([args[1], args[2]])
    return T(exp.Case(ifs=[exp.If(this=as_bool(args[0]), true=a.sql)], default=b.sql), a.type)


def f_case(c: Compiler, args: list[T], node: A.Call) -> T:
    if len(args) < 3 or len(args) % 2 == 0:
        raise c.err("case() takes pairs of predicate and value, then an else value", node)
    values = unify([args[i] for i in range(1, len(args) - 1, 2)] + [args[-1]])
    ifs = [exp.If(this=as_bool(args[2 * i]), true=values[i].sql) for i in range(len(values) - 1)]
    return T(exp.Case(ifs=ifs, default=values[-1].sql), values[0].type)


def f_coalesce(c: Compiler, args: list[T], node: A.Call) -> T:
    values = unify(args)
    if len(values) == 1:
        return values[0]
    if values[0].type in ("string", "guid"):
        # an empty string counts as null for coalesce in Kusto
        ifs = [exp.If(this=exp.NEQ(this=v.sql, expression=S("")), true=v.sql) for v in values[:-1]]
        return T(exp.Case(ifs=ifs, default=values[-1].sql), "string")
    return T(exp.Coalesce(this=values[0].sql, expressions=[v.sql for v in values[1:]]), values[0].type)


def f_not(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Not(this=exp.Paren(this=as_bool(args[0]))), "bool")


def f_assert(c: Compiler, args: list[T], node: A.Call) -> T:
    """assert(condition, message): true, or the query fails naming the message. The condition must be
    known before the query runs (constants and let values, never a row's column), as Kusto requires."""
    cond, message = args
    if not (message.is_const and isinstance(message.const, str)):
        raise c.err("assert(): the message must be a string literal", node.args[1])
    value = cond.const if cond.is_const else None
    if not cond.is_const:
        folded = folded_scalar(c.planner, Rel(exp.select(alias(as_bool(cond), "v")), [("v", "bool")]))
        if folded is None or not folded.is_const:
            raise c.err("assert(): the condition must be a constant (not a row's value)", node.args[0])
        value = folded.const
    if value is not True:
        raise c.err(f"assert() has failed with message: '{message.const}'", node)
    return literal(True, "bool")


FUNCTIONS: dict[str, Function] = {
    "assert": Function(f_assert, (2, 2), "bool"),
    "isempty": Function(f_isempty, (1, 1), "bool"),
    "isnotempty": Function(f_isnotempty, (1, 1), "bool"),
    "isnull": Function(f_isnull, (1, 1), "bool"),
    "isnotnull": Function(f_isnotnull, (1, 1), "bool"),
    "notempty": Function(f_isnotempty, (1, 1), "bool"),  # deprecated alias of isnotempty
    "notnull": Function(f_isnotnull, (1, 1), "bool"),  # deprecated alias of isnotnull
    "iff": Function(f_iff, (3, 3), None),
    "iif": Function(f_iff, (3, 3), None),
    "case": Function(f_case, (3, None), None),
    "coalesce": Function(f_coalesce, (1, 64), None),
    "not": Function(f_not, (1, 1), "bool"),
}
