"""parse and parse-where: text patterns (simple, regex, relaxed) extracted into typed columns."""

from __future__ import annotations

import re

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import options, parse_expr
from huntvault.kql.values import T, alias, col, convert, to_string


def parse_parse(c: Cursor, t: Token) -> A.Node:
    return _parse(c, t, where=False)


def parse_parse_where(c: Cursor, t: Token) -> A.Node:
    return _parse(c, t, where=True)


def _parse(c: Cursor, t: Token, where: bool) -> A.Node:
    opts = options(c, {"kind", "flags"})
    kind = "simple"
    if "kind" in opts and isinstance(opts["kind"], A.Name):
        kind = opts["kind"].name.lower()
    flags = ""
    if "flags" in opts and isinstance(opts["flags"], A.Name):
        flags = opts["flags"].name
    expr = parse_expr(c)
    c.expect_word("with")
    parts: list[A.ParsePart] = []
    while not c.at_end():
        s = c.tok
        if c.at("*"):
            c.advance()
            parts.append(A.ParsePart(pos=s.pos))
        elif c.tok.kind == "string":
            parts.append(A.ParsePart(literal=str(c.advance().value), pos=s.pos))
        elif c.at_identifier():
            name = c.identifier()
            ctype = c.type_name() if c.accept(":") else None
            parts.append(A.ParsePart(column=name, type=ctype, pos=s.pos))
        else:
            raise c.error(f"unexpected {c.describe(s)} in a parse pattern")
    return A.Parse(expr, parts, kind, flags, where, pos=t.pos)


#: the text a typed column of a strict pattern must look like
_TYPED_BODIES = {
    "long": r"-?\d+",
    "int": r"-?\d+",
    "real": r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
}


def _user_groups(literal: str) -> int:
    """How many capturing groups a regex-mode literal opens itself (they shift the columns' groups)."""
    try:
        return re.compile(literal).groups
    except re.error:
        return len(re.findall(r"(?<!\\)\((?!\?)", literal))


def _pattern(op: A.Parse) -> tuple[str, list[tuple[str, str, int]]]:
    """The RE2 pattern of the parse expression and its capture columns (name, type, group number)."""
    # simple and relaxed patterns span newlines; regex mode takes RE2 flags (U swaps greediness)
    flags = "".join(f for f in "imsU" if f in op.flags)
    if op.kind != "regex" and "s" not in flags:
        flags += "s"
    pattern = f"(?{flags})" if flags else ""
    if op.kind != "regex":
        pattern += "^"
    groups: list[tuple[str, str, int]] = []
    group = 0
    for i, part in enumerate(op.parts):
        last = i == len(op.parts) - 1
        if part.literal is not None:
            if op.kind == "regex":
                pattern += part.literal
                group += _user_groups(part.literal)
            else:
                pattern += re.escape(part.literal)
        elif part.column is not None:
            kind = part.type or "string"
            lazy = ".*" if last else ".*?"
            typed = _TYPED_BODIES.get(kind)
            if typed is not None:
                # relaxed: a value of another shape still matches (and converts to null)
                body = f"{typed}|{lazy}" if op.kind == "relaxed" else typed
            elif op.kind == "regex":
                body = ".*"  # regex mode is greedy unless flags=U
            else:
                body = lazy
            pattern += f"({body})"
            group += 1
            groups.append((part.column, kind, group))
        else:
            pattern += ".*" if last else ".*?"
    return pattern, groups


def lower_parse(p: Planner, rel: Rel, op: A.Parse, env: Env) -> Rel:
    src = to_string(p.compile(op.expr, p.scope_of(rel, env))).sql
    if "U" in op.flags and p.dialect.name != "duckdb":  # Java's (?U) is not RE2's ungreedy swap
        raise p.unsupported("parse flags=U (ungreedy) runs on the DuckDB engine only", op)
    pattern, groups = _pattern(op)
    d = p.dialect
    matched = d.regex_match(src, exp.Literal.string(pattern))
    converted: dict[str, tuple[exp.Expression, str]] = {}
    for name, kind, gi in groups:
        raw = T(d.regex_extract(src, exp.Literal.string(pattern), gi), "string")
        if kind != "string":
            raw = T(exp.Trim(this=raw.sql), "string")
        converted[name] = ((raw if kind == "string" else convert(raw, kind)).sql, kind)
    # simple and regex kinds are strict: a typed column that does not convert fails the whole match
    ok: exp.Expression = matched
    if op.kind != "relaxed":
        for e, kind in converted.values():
            if kind != "string":
                ok = exp.And(this=ok, expression=exp.Not(this=exp.Is(this=e.copy(), expression=exp.Null())))
    new: dict[str, tuple[exp.Expression, str]] = {}
    for name, (e, kind) in converted.items():
        miss = exp.Literal.string("") if kind == "string" else exp.Null()
        value = exp.Case(ifs=[exp.If(this=ok.copy(), true=e)], default=miss)
        new[name] = (value, kind)
    proj: list[exp.Expression] = []
    cols: list[tuple[str, str]] = []
    known = rel.types()
    for n, t in rel.cols:
        if n in new:
            proj.append(alias(new[n][0], n))
            cols.append((n, new[n][1]))
        else:
            proj.append(col(n))
            cols.append((n, t))
    for n, (e, t) in new.items():
        if n not in known:
            proj.append(alias(e, n))
            cols.append((n, t))
    sql = p.select(rel, proj)
    if op.where:
        sql = sql.where(ok.copy(), copy=False)
    return Rel(sql, cols, rel.order)


OPERATORS: list[Operator] = [
    operator(A.Parse, {"parse": parse_parse, "parse-where": parse_parse_where}, lower_parse),
]
