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


def _pattern(op: A.Parse) -> tuple[str, list[tuple[str, str]]]:
    """The RE2 pattern of the parse expression and its capture columns (name, type)."""
    pattern = "(?s)" if op.kind != "regex" or "s" in op.flags else ""
    if "i" in op.flags.lower():
        pattern += "(?i)"
    if op.kind != "regex":
        pattern += "^"
    groups: list[tuple[str, str]] = []
    for i, part in enumerate(op.parts):
        last = i == len(op.parts) - 1
        if part.literal is not None:
            pattern += part.literal if op.kind == "regex" else re.escape(part.literal)
        elif part.column is not None:
            kind = part.type or "string"
            if kind in ("long", "int"):
                body = r"-?\d+"
            elif kind in ("real", "decimal"):
                body = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
            elif op.kind == "regex":
                body = ".*?" if not last else ".*"
            else:
                body = ".*" if last else ".*?"
            pattern += f"({body})"
            groups.append((part.column, kind))
        else:
            pattern += ".*" if last else ".*?"
    return pattern, groups


def lower_parse(p: Planner, rel: Rel, op: A.Parse, env: Env) -> Rel:
    src = to_string(p.compile(op.expr, p.scope_of(rel, env))).sql
    pattern, groups = _pattern(op)
    d = p.dialect
    matched = d.regex_match(src, exp.Literal.string(pattern))
    new: dict[str, tuple[exp.Expression, str]] = {}
    for gi, (name, kind) in enumerate(groups, start=1):
        extracted = d.regex_extract(src, exp.Literal.string(pattern), gi)
        raw = T(
            exp.Case(ifs=[exp.If(this=matched, true=extracted)], default=exp.Literal.string("")), "string"
        )
        value = raw if kind == "string" else convert(raw, kind)
        new[name] = (value.sql, kind)
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
        sql = sql.where(matched.copy(), copy=False)
    return Rel(sql, cols, rel.order)


OPERATORS: list[Operator] = [
    operator(A.Parse, {"parse": parse_parse, "parse-where": parse_parse_where}, lower_parse),
]
