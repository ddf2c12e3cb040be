"""parse-kv: key/value pairs of a text extracted into typed columns (delimited, free-form, or by regex)."""

from __future__ import annotations

import re

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Operator, Planner, Rel, operator
from huntvault.kql.syntax import Cursor, Token
from huntvault.kql.syntax.expressions import parse_expr
from huntvault.kql.values import T, alias, call, col, convert, to_string

_OPTIONS = {"pair_delimiter", "kv_delimiter", "quote", "escape", "greedy", "regex"}


def parse_parse_kv(c: Cursor, t: Token) -> A.Node:
    expr = parse_expr(c)
    c.expect_word("as")
    keys = c.delimited("(", ")", c.column_decl)
    options: dict[str, list[A.Node]] = {}
    if c.accept_word("with"):
        c.expect("(")
        while not c.at(")"):
            at = c.tok
            name = c.identifier("a parse-kv option").lower()
            if name not in _OPTIONS:
                raise c.error(
                    f"unknown parse-kv option {name!r} (expected one of {', '.join(sorted(_OPTIONS))})", at
                )
            c.expect("=")
            options.setdefault(name, []).append(parse_expr(c))
            if not c.accept(","):
                break
        c.expect(")")
    return A.ParseKv(expr, keys, options, pos=t.pos)


def _texts(p: Planner, op: A.ParseKv, name: str, env: Env) -> list[str]:
    out: list[str] = []
    for node in op.options.get(name, []):
        v = p.compile(node, p.scope_of(Rel(exp.select("1"), []), env))
        if not v.is_const or not isinstance(v.const, (str, bool)):
            raise p.semantic(f"parse-kv: {name} must be a constant", node)
        out.append(str(v.const).lower() if isinstance(v.const, bool) else v.const)
    return out


def _class(chars: str) -> str:
    return "".join("\\" + ch if ch in "\\]^-[" else ch for ch in chars)


def _key_pattern(
    key: str, pair: str | None, kv: str | None, quotes: list[str], escapes: list[str], greedy: bool
) -> tuple[str, int]:
    """The RE2 pattern finding `key` and its value; the value is the concatenation of the groups from 1 to
    the returned count (one alternative per quote pair matches, the others are empty)."""
    key_forms = [re.escape(key)] + [re.escape(q[0]) + re.escape(key) + re.escape(q[-1]) for q in quotes]
    keyre = "(?:" + "|".join(key_forms) + ")"
    quote_chars = "".join(dict.fromkeys(ch for q in quotes for ch in (q[0], q[-1])))
    if pair is not None and kv is not None:
        start = f"(?:^|{re.escape(pair)})"
        sep = rf"\s*{re.escape(kv)}\s*"
        unquoted = (
            rf"(.*?)\s*(?:{re.escape(pair)}[^{_class(pair + kv)}]*{re.escape(kv)}|$)"
            if greedy
            else (f"([^{_class(pair)}]*)")
        )
    else:  # no delimiters: any character but a letter or digit delimits
        start = "(?:^|[^A-Za-z0-9_])"
        sep = rf"(?:\s*[^A-Za-z0-9_\s{_class(quote_chars)}]\s*|\s+)"
        unquoted = r"([A-Za-z0-9_]+)"
    alternatives = []
    for q in quotes:
        opening, closing = re.escape(q[0]), re.escape(q[-1])
        if escapes:
            esc = _class("".join(escapes))
            body = f"((?:[^{_class(q[-1])}{esc}]|[{esc}].)*)"
        else:
            body = f"([^{_class(q[-1])}]*)"
        alternatives.append(opening + body + closing)
    alternatives.append(unquoted)
    return "(?s)" + start + r"\s*" + keyre + sep + "(?:" + "|".join(alternatives) + ")", len(alternatives)


def lower_parse_kv(p: Planner, rel: Rel, op: A.ParseKv, env: Env) -> Rel:
    src = to_string(p.compile(op.expr, p.scope_of(rel, env))).sql
    d = p.dialect
    pairs, kvs = _texts(p, op, "pair_delimiter", env), _texts(p, op, "kv_delimiter", env)
    pair = pairs[0] if pairs else None
    kv = kvs[0] if kvs else None
    if (pair is None) != (kv is None):
        raise p.semantic("parse-kv needs both pair_delimiter and kv_delimiter, or neither", op)
    quotes = _texts(p, op, "quote", env)
    escapes = _texts(p, op, "escape", env)
    greedy = (_texts(p, op, "greedy", env) or ["false"])[0] == "true"
    regex = _texts(p, op, "regex", env)
    for q in quotes:
        if len(q) not in (1, 2):
            raise p.semantic(f"parse-kv: a quote is one or two characters, not {q!r}", op)
    new: list[tuple[str, exp.Expression, str]] = []
    for key in op.keys:
        if regex:  # the first match whose group 1 (trimmed) is the key gives group 2
            names = call(
                "regexp_extract_all", src.copy(), exp.Literal.string(regex[0]), exp.Literal.number(1)
            )
            values = call(
                "regexp_extract_all", src.copy(), exp.Literal.string(regex[0]), exp.Literal.number(2)
            )
            lam = exp.Lambda(this=call("trim", exp.column("x")), expressions=[exp.to_identifier("x")])
            at = call("list_position", call("list_transform", names, lam), exp.Literal.string(key.name))
            raw: exp.Expression = exp.Coalesce(
                this=call("list_extract", values, at), expressions=[exp.Literal.string("")]
            )
        else:
            pattern, groups = _key_pattern(key.name, pair, kv, quotes, escapes, greedy)
            parts = [
                d.regex_extract(src.copy(), exp.Literal.string(pattern), g) for g in range(1, groups + 1)
            ]
            raw = parts[0]
            for more in parts[1:]:
                raw = exp.DPipe(this=raw, expression=more)
            raw = exp.Coalesce(this=raw, expressions=[exp.Literal.string("")])
            if escapes:
                esc = _class("".join(escapes))
                raw = d.regex_replace(raw, exp.Literal.string(f"[{esc}](.)"), exp.Literal.string("\\1"))
        value = T(call("trim", raw), "string")
        out = value if key.type == "string" else convert(value, key.type)
        new.append((key.name, out.sql, key.type))
    replaced = {n for n, _, _ in new}
    cols = [(n, t) for n, t in rel.cols if n not in replaced]
    proj: list[exp.Expression] = [col(n) for n, _ in cols]
    for n, e, t in new:
        proj.append(alias(e, n))
        cols.append((n, t))
    return Rel(p.select(rel, proj), cols, rel.order)


OPERATORS: list[Operator] = [operator(A.ParseKv, {"parse-kv": parse_parse_kv}, lower_parse_kv)]
