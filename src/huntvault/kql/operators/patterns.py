"""reduce: strings grouped by their pattern of frequent terms (Pattern, Count, Representative), or with
kind=source each row with its Pattern. The mining is Python (`pyfuncs/mining.py`), on DuckDB and Spark."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, Scope, operator
from huntvault.kql.lowering.rows import python_rows
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import parse_expr
from huntvault.kql.values import alias, col, to_string

#: `reduce ... with` options: name -> (KQL types accepted, what the error says it takes)
REDUCE_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "threshold": (("real", "decimal", "long", "int"), "a constant number between 0 and 1"),
    "characters": (("string",), "a constant string of separator characters"),
}


def parse_reduce(c: Cursor, t: Token) -> A.Node:
    kind = None
    if c.at_word("kind") and c.peek().kind == "punct" and c.peek().value == "=":
        c.advance()
        c.advance()
        at = c.tok
        kind = c.identifier("source after kind=")
        if kind.lower() != "source":
            raise c.error(f"reduce kind={kind}: the only kind is 'source'", at)
        kind = "source"
    c.expect_word("by")
    expr = parse_expr(c)
    opts: dict[str, A.Node] = {}
    if c.accept_word("with"):
        while True:
            at = c.tok
            name = c.identifier("threshold or characters").lower()
            if name not in REDUCE_OPTIONS:
                raise c.error(f"reduce with {name}: expected threshold or characters", at)
            if name in opts:
                raise c.error(f"reduce with {name} is given twice", at)
            c.expect("=")
            opts[name] = parse_expr(c)
            if not c.accept(","):
                break
    return A.Reduce(expr, kind, opts, pos=t.pos)


def _option(p: Planner, op: A.Reduce, name: str, env: Env) -> object:
    node = op.options.get(name)
    if node is None:
        return None
    v = p.compile(node, Scope({}, env, p))
    kinds, what = REDUCE_OPTIONS[name]
    if not v.is_const or v.const is None or v.type not in kinds:
        raise p.semantic(f"reduce: {name} must be {what}", node)
    return v.const


def lower_reduce(p: Planner, rel: Rel, op: A.Reduce, env: Env) -> Rel:
    """A term is a run of characters that are not separators (by default every character that is not an
    ASCII letter or digit); see `pyfuncs.mining.reduce_patterns` for which terms a pattern keeps."""
    options: dict[str, object] = {}
    threshold = _option(p, op, "threshold", env)
    if threshold is not None:
        ratio = float(threshold)  # type: ignore[arg-type]
        if not 0.0 <= ratio <= 1.0:
            raise p.semantic(
                f"reduce: threshold must be between 0 and 1, got {threshold}", op.options["threshold"]
            )
        options["threshold"] = ratio
    characters = _option(p, op, "characters", env)
    if characters is not None:
        if characters == "":
            raise p.semantic("reduce: characters must name at least one separator", op.options["characters"])
        options["characters"] = characters
    value = to_string(p.compile(op.expr, p.scope_of(rel, env)))
    if op.kind != "source":
        out = [("Pattern", "string"), ("Count", "long"), ("Representative", "string")]
        return python_rows(p, rel, "__reduce", [value], options, out)
    patterns = python_rows(
        p, rel, "__reduce_source", [value], options, [("__v", "string"), ("Pattern", "string")]
    )
    left, right = p.fresh("r"), p.fresh("m")
    keep = [(n, t) for n, t in rel.cols if n != "Pattern"]
    outer = p.scope_of(rel, env, table=left)
    key = to_string(p.compile(op.expr, outer))
    sql = (
        exp.select(*[col(n, left) for n, _ in keep], alias(col("Pattern", right), "Pattern"))
        .from_(rel.sql.subquery(left, copy=False), copy=False)
        .join(
            patterns.sql.subquery(right, copy=False),
            on=exp.EQ(this=key.sql, expression=col("__v", right)),
            join_type="LEFT",
            copy=False,
        )
    )
    return Rel(sql, [*keep, ("Pattern", "string")])


OPERATORS: list[Operator] = [
    operator(A.Reduce, {"reduce": parse_reduce}, lower_reduce),
]
