"""Window functions over serialized rows: row_number, prev, next (in the order of the last sort)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Lowering, same_as
from huntvault.kql.lowering.pycall import py_value
from huntvault.kql.values import N, T, call, convert, dtype, fn


def _order(c: Compiler) -> exp.Order | None:
    return exp.Order(expressions=c.scope.order) if c.scope.order else None


def f_row_number(c: Compiler, args: list[T], node: A.Call) -> T:
    start = args[0].sql if args else N(1)
    w = exp.Window(
        this=call("row_number"), partition_by=_partition(c, args, node, 1) or None, order=_order(c)
    )
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


def _changes_of(node: A.Node) -> str | None:
    """The column X of a restart condition `prev(X) != X` (or `X != prev(X)`): restart when X changes."""
    if not isinstance(node, A.Binary) or node.op != "!=":
        return None
    for a, b in ((node.left, node.right), (node.right, node.left)):
        if (
            isinstance(a, A.Call)
            and a.name.lower() == "prev"
            and len(a.args) == 1
            and isinstance(a.args[0], A.Name)
            and isinstance(b, A.Name)
            and a.args[0].name == b.name
        ):
            return b.name
    return None


def _partition(c: Compiler, args: list[T], node: A.Call, at: int) -> list[exp.Expression]:
    """The PARTITION BY of a `restart` argument: none when absent or false; `prev(X) != X` restarts per X."""
    if len(args) <= at or (args[at].is_const and args[at].const is False):
        return []
    column = _changes_of(node.args[at])
    if column is None:
        raise c.planner.unsupported(
            f"{node.name}(): a restart condition other than prev(X) != X is not supported", node
        )
    return [c.compile(A.Name(name=column)).sql]


def f_row_cumsum(c: Compiler, args: list[T], node: A.Call) -> T:
    frame = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
    w = exp.Window(
        this=exp.Sum(this=args[0].sql),
        partition_by=_partition(c, args, node, 1) or None,
        order=_order(c),
        spec=frame,
    )
    kind = "real" if args[0].type in ("real", "decimal") else args[0].type
    return T(w if kind == "real" else exp.Cast(this=w, to=dtype("BIGINT")), kind)


def rank_fn(name: str) -> Lowering:
    """row_rank_dense/row_rank_min: the rank of the row's term where the rows are serialized sorted by it.

    The window orders by the term alone (in the direction the last sort gave it), so rows that tie on the
    term share a rank whatever other sort keys break the tie."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        term = args[0].sql
        ordered = next(
            (o for o in c.scope.order or [] if isinstance(o, exp.Ordered) and o.this == term),
            exp.Ordered(this=term),
        )
        order = exp.Order(expressions=[ordered])
        w = exp.Window(this=call(name), partition_by=_partition(c, args, node, 1) or None, order=order)
        return T(exp.Cast(this=w, to=dtype("BIGINT")), "long")

    return lower


def f_row_window_session(c: Compiler, args: list[T], node: A.Call) -> T:
    """row_window_session(t, max_from_first, max_between [, restart]): each row's session start, from the
    rows before it in the serialized order (their times as one window list, walked in Python)."""
    if args[0].type != "datetime":
        raise c.err(f"{node.name}() takes a datetime expression first", node)
    frame = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
    times = exp.Window(
        this=call("list", c.planner.dialect.epoch_us(args[0].sql)),
        partition_by=_partition(c, args, node, 3) or None,
        order=_order(c),
        spec=frame,
    )
    history = T(fn("to_json", times), "dynamic")
    return py_value(c, "row_window_session", [history, args[1], args[2]], "datetime")


FUNCTIONS: dict[str, Function] = {
    "row_window_session": Function(f_row_window_session, (3, 4), "datetime"),
    "row_cumsum": Function(f_row_cumsum, (1, 2), None),
    "row_rank_dense": Function(rank_fn("dense_rank"), (1, 2), "long"),
    "row_rank_min": Function(rank_fn("rank"), (1, 2), "long"),
    "row_number": Function(f_row_number, (0, 2), "long"),
    "prev": Function(nav_fn("lag"), (1, 3), same_as(0)),
    "next": Function(nav_fn("lead"), (1, 3), same_as(0)),
}
