"""What the user-analytics plugins (kql/plugins) share: their argument checks, the timeline as numbers
(datetimes as epoch microseconds), the analysis window's bins, dimension columns, and the timeline given
back in its own type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from huntvault.errors import KqlLimitError
from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Rel
from huntvault.kql.values import T, alias, col


def compile_args(p: Planner, rel: Rel, node: A.Call, env: Env, least: int, most: int) -> list[T]:
    """The positional arguments compiled over the input, after an arity check naming the plugin."""
    if node.named:
        key, arg = next(iter(node.named.items()))
        raise p.semantic(f"{node.name}(): unknown named argument {key!r}", arg)
    if not least <= len(node.args) <= most:
        want = f"{least}" if least == most else f"{least} to {most}"
        raise p.semantic(f"{node.name}() takes {want} arguments, got {len(node.args)}", node)
    scope = p.scope_of(rel, env)
    return [p.compile(a, scope) for a in node.args]


def micros(p: Planner, v: T) -> exp.Expression:
    """A datetime as epoch microseconds (timespans and numbers are already numbers)."""
    return p.dialect.epoch_us(v.sql) if v.type == "datetime" else v.sql


def column_name(node: A.Node, fallback: str) -> str:
    return node.name if isinstance(node, A.Name) else fallback


def require_constants(p: Planner, node: A.Call, args: list[tuple[A.Node, T]], what: str) -> None:
    for arg, v in args:
        if not v.is_const or v.const is None:
            raise p.semantic(f"{node.name}(): {what} must be a constant", arg)


def require_timeline(p: Planner, node: A.Call, arg: A.Node, v: T) -> None:
    if v.type not in ("datetime", "long", "int", "real", "decimal", "timespan"):
        raise p.semantic(f"{node.name}(): the timeline must be a datetime or a number, not {v.type}", arg)


def require_step(p: Planner, node: A.Call, arg: A.Node, v: T, what: str) -> None:
    if not v.is_const or v.const is None:
        raise p.semantic(f"{node.name}(): {what} must be a constant", arg)
    if v.type not in ("timespan", "long", "int", "real", "decimal"):
        raise p.semantic(f"{node.name}(): {what} must be a timespan or a number, not {v.type}", arg)
    if not isinstance(v.const, (int, float)) or isinstance(v.const, bool) or v.const <= 0:
        raise p.semantic(f"{node.name}(): {what} must be positive", arg)


@dataclass
class Dims:
    """The dimension columns: their output names and types, and their internal names `__d0`, ..."""

    names: list[str]
    values: list[T]

    @property
    def keys(self) -> list[str]:
        return [f"__d{i}" for i in range(len(self.values))]

    def items(self) -> list[tuple[str, exp.Expression]]:
        return [(k, v.sql) for k, v in zip(self.keys, self.values, strict=True)]

    def sel(self, table: str = "") -> str:
        """`, t.__d0, t.__d1` (or unqualified)."""
        q = f"{table}." if table else ""
        return "".join(f", {q}{k}" for k in self.keys)

    def eq(self, a: str, b: str) -> str:
        return "".join(f" AND {a}.{k} IS NOT DISTINCT FROM {b}.{k}" for k in self.keys)

    def out(self) -> list[exp.Expression]:
        return [alias(col(k), n) for k, n in zip(self.keys, self.names, strict=True)]

    def cols(self) -> list[tuple[str, str]]:
        return [(n, v.type) for n, v in zip(self.names, self.values, strict=True)]


def dims_of(p: Planner, node: A.Call, nodes: list[A.Node], values: list[T]) -> Dims:
    names = [column_name(n, f"dim{i}") for i, n in enumerate(nodes)]
    for n, v in zip(nodes, values, strict=True):
        if v.is_const:
            raise p.semantic(f"{node.name}(): a dimension must be a column", n)
    return Dims(names, values)


def time_out(p: Planner, micros_expr: exp.Expression, kql_type: str) -> exp.Expression:
    """A bin computed as a number given back as the timeline's type."""
    if kql_type == "datetime":
        return p.dialect.from_epoch_us(micros_expr)
    if kql_type in ("long", "int", "timespan"):
        return exp.Cast(this=micros_expr, to=exp.DataType.build("BIGINT"))
    return exp.Cast(this=micros_expr, to=exp.DataType.build("DOUBLE"))


def input_of(p: Planner, rel: Rel, items: list[tuple[str, exp.Expression]]) -> exp.Select:
    return p.select(rel, [alias(e, n) for n, e in items])


#: the most analysis windows a plugin enumerates between Start and End (range()'s cap)
MAX_WINDOWS = 1_048_576


def check_window_count(p: Planner, node: A.Call, start: T, end: T, size: T, days: float = 0.0) -> None:
    """A KqlLimitError when Start..End holds more than MAX_WINDOWS windows of `size` (or of `days` days for
    a calendar window): enumerating them would not finish."""
    a, b = start.const, end.const
    if isinstance(a, datetime) and isinstance(b, datetime):
        span = (b - a).total_seconds() * 1e6
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        span = float(b) - float(a)
    else:
        return
    step = days * 86_400e6 if days else float(size.const) if isinstance(size.const, (int, float)) else 0.0
    if step > 0 and span / step > MAX_WINDOWS:
        where = p.semantic(
            f"{node.name}(): Start to End holds {int(span / step):,} windows; the maximum is {MAX_WINDOWS:,}"
            " (a larger window or a shorter range); see docs/kql.md, Limits",
            node,
        )
        raise KqlLimitError(where.message, where.line, where.column, where.query)
