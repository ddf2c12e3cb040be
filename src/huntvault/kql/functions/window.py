"""Window functions over serialized rows: row_number, prev, next (in the order of the last sort)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Lowering, same_as
from huntvault.kql.values import N, T, call, convert


def _order(c: Compiler) -> exp.Order | None:
    return exp.Order(expressions=c.scope.order) if c.scope.order else None


def f_row_number(c: Compiler, args: list[T], node: A.Call) -> T:
    start = args[0].sql if args else N(1)
    w = exp.Window(this=call("row_number"), order=_order(c))
    return T(exp.Add(this=exp.Sub(this=w, expression=N(1)), expression=start), "long")


def nav_fn(name: str) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        offset = args[1].sql if len(args) > 1 else N(1)
        extra = []
        if len(args) > 2:
            extra = [convert(args[2], args[0].type).sql if args[2].type != args[0].type else args[2].sql]
        w = exp.Window(this=call(name, args[0].sql, offset, *extra), order=_order(c))
        return T(w, args[0].type)

    return lower


FUNCTIONS: dict[str, Function] = {
    "row_number": Function(f_row_number, (0, 2), "long"),
    "prev": Function(nav_fn("lag"), (1, 3), same_as(0)),
    "next": Function(nav_fn("lead"), (1, 3), same_as(0)),
}
