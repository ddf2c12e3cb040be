"""The statement grammar: a script of `let` statements (values, tabular lets, functions, views) and queries."""

from __future__ import annotations

from collections.abc import Mapping

from huntvault.errors import KqlLimitError, KqlSyntaxError
from huntvault.kql import ast as A
from huntvault.kql.limits import Budget
from huntvault.kql.syntax.cursor import Cursor, OperatorParser
from huntvault.kql.syntax.expressions import parse_expr, parse_pipeline


def parse_script(
    text: str, operators: Mapping[str, OperatorParser], budget: Budget | None = None
) -> A.Script:
    """Parse a whole query (let statements and tabular expressions; the last one runs) into a Script."""
    c = Cursor(text, operators, budget)
    lets: list[A.Let] = []
    queries: list[A.Node] = []
    while c.tok.kind != "eof":
        if c.accept(";"):
            continue
        if c.at_word("let"):
            lets.append(_let(c))
        elif c.at_word("declare") and c.peek().kind == "ident" and str(c.peek().value).lower() == "pattern":
            pattern = _pattern(c)
            if pattern is not None:
                lets.append(pattern)
        elif c.at_word("set") and _setting_name(c) in VALUE_SETTINGS:
            lets.append(_setting(c))
        elif c.at_word("declare") and _setting_name(c) == "query_parameters":
            lets.extend(_query_parameters(c))
        elif c.at_word("declare", "set", "alias", "restrict"):
            while c.tok.kind != "eof" and not c.at(";"):  # settings and declarations do not change results
                c.advance()
        else:
            queries.append(parse_pipeline(c))
        if c.tok.kind == "eof":
            break
        if not c.at(";"):
            prev = c.toks[c.i - 1]
            if c.tok.line > prev.line:
                raise c.error(
                    "several queries in one block without ';' between them (the next query starts here); "
                    "run them one at a time or separate the statements with ';'"
                )
            raise c.error(f"unexpected {c.describe(c.tok)}; expected '|', ';' or the end of the query")
    if not queries:
        t = c.toks[-1]
        raise KqlSyntaxError(
            "the query has no tabular expression to run (only let statements)", t.line, t.column, text
        )
    script = A.Script(lets, queries[-1], len(queries), pos=0, text=text)
    check_depth(script, c)
    return script


#: `set` options a query reads as values (bin_auto's bin size and fixed point); they bind like `let`s of
#: the same name. Other options (hints, limits) do not change results and are skipped.
VALUE_SETTINGS = frozenset({"query_bin_auto_size", "query_bin_auto_at"})


def _setting_name(c: Cursor) -> str | None:
    nxt = c.peek()
    return str(nxt.value).lower() if nxt.kind == "ident" else None


def _setting(c: Cursor) -> A.Let:
    """`set query_bin_auto_size = 1h;` as a value bound to the option's name."""
    start = c.expect_word("set")
    name = c.identifier("an option name after set").lower()
    c.expect("=", f"'=' and a value after set {name}")
    return A.Let(name, parse_expr(c), pos=start.pos)


def _query_parameters(c: Cursor) -> list[A.Let]:
    """`declare query_parameters(n:long = 90, s:string)`: a parameter's default binds like a `let`
    (in process no request carries parameter values, so a parameter without a default stays unknown)."""
    c.expect_word("declare")
    c.identifier("query_parameters")
    c.expect("(")
    out: list[A.Let] = []
    while not c.at(")"):
        t = c.tok
        name = c.identifier("a parameter name")
        c.expect(":", "':' and a type")
        kind = c.type_name()
        if c.accept("="):
            value = parse_expr(c)
            conv = "todouble" if kind == "real" else f"to{kind}"
            out.append(A.Let(name, A.Call(conv, [value], pos=value.pos), pos=t.pos))
        if not c.accept(","):
            break
    c.expect(")")
    return out


def _pattern(c: Cursor) -> A.Let | None:
    """`declare pattern Name = (a:string, ...)[(p:string)] { ("v", ...).["path"] = { query }; ... }`; a pattern
    declared without a body (`declare pattern Name;`) has no rules and binds nothing."""
    start = c.expect_word("declare")
    c.expect_word("pattern")
    name = c.identifier("a pattern name")
    if not c.accept("="):
        return None
    params = [decl.name for decl in c.delimited("(", ")", c.column_decl)]
    has_path = False
    if c.accept("["):
        c.column_decl()
        c.expect("]")
        has_path = True
    c.expect("{")
    rules: list[A.PatternRule] = []
    while not c.at("}"):
        at = c.tok
        values = [str(v) for v in c.delimited("(", ")", lambda: _pattern_value(c))]
        path = None
        if has_path:
            c.expect(".")
            if c.accept("["):
                path = _pattern_value(c)
                c.expect("]")
            else:
                path = c.identifier("a pattern path")
        c.expect("=")
        c.expect("{")
        body = parse_pipeline(c)
        c.accept(";")
        c.expect("}")
        rules.append(A.PatternRule(values, path, body, pos=at.pos))
        if not c.accept(";"):
            break
    c.expect("}")
    return A.Let(name, A.Pattern(params, has_path, rules, pos=start.pos), pos=start.pos)


def _pattern_value(c: Cursor) -> str:
    t = c.tok
    if t.kind == "string":
        c.advance()
        return str(t.value)
    if c.accept("*"):
        return "*"
    raise c.error("expected a string (or *) in a pattern", t)


def _let(c: Cursor) -> A.Let:
    start = c.expect_word("let")
    name = c.identifier("a name after let")
    c.expect("=", "'=' after the let name")
    value: A.Node
    if c.at_word("view") and c.peek().kind == "punct" and c.peek().value == "(":
        c.advance()
        value = _lambda(c, view=True)
    elif c.at("(") and _looks_like_lambda(c):
        value = _lambda(c, view=False)
    else:
        value = parse_pipeline(c)
    return A.Let(name, value, pos=start.pos)


def _looks_like_lambda(c: Cursor) -> bool:
    """`(params) {` ahead: the parentheses are a parameter list, not an expression."""
    depth = 0
    k = c.i
    while k < len(c.toks):
        t = c.toks[k]
        if t.kind == "punct" and str(t.value) in "([{":
            depth += 1
        elif t.kind == "punct" and str(t.value) in ")]}":
            depth -= 1
            if depth == 0:
                nxt = c.toks[k + 1] if k + 1 < len(c.toks) else t
                return nxt.kind == "punct" and nxt.value == "{"
        elif t.kind == "eof":
            return False
        k += 1
    return False


def _lambda(c: Cursor, view: bool) -> A.Lambda:
    start = c.expect("(")
    params: list[tuple[str, str | list[A.ColumnDecl] | None, A.Node | None]] = []
    with c.deeper():
        while not c.at(")"):
            pname = c.identifier("a parameter name")
            ptype: str | list[A.ColumnDecl] | None = None
            default: A.Node | None = None
            if c.accept(":"):
                if c.at("("):
                    if c.peek().kind == "punct" and c.peek().value == "*":  # (*): any table
                        c.advance()
                        c.advance()
                        c.expect(")")
                        ptype = []
                    else:
                        ptype = c.delimited("(", ")", c.column_decl)
                else:
                    ptype = c.type_name()
            if c.accept("="):
                default = parse_expr(c)
            params.append((pname, ptype, default))
            if not c.accept(","):
                break
        c.expect(")")
        c.expect("{")
        lets: list[A.Let] = []
        body: A.Node | None = None
        while not c.at("}"):
            if c.accept(";"):
                continue
            if c.at_word("let"):
                lets.append(_let(c))
            else:
                body = parse_pipeline(c)
        c.expect("}")
    if body is None:
        raise c.error("a function body needs an expression", start)
    return A.Lambda(params, lets, body, view, pos=start.pos)


def _children(value: object) -> list[A.Node]:
    """The AST nodes directly inside a node field (a node, or nodes in lists, tuples and dicts)."""
    out: list[A.Node] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, A.Node):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return out


def check_depth(script: A.Script, c: Cursor) -> None:
    """Reject an expression more than `max_expression_depth` operators deep (a chain of 5,000 `+`):
    the lowering and the SQL engine recurse over it. An `and`/`or` chain counts as one level."""
    limit = c.budget.bounds.max_expression_depth
    stack: list[tuple[A.Node, int]] = [(script, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise KqlLimitError(
                f"an expression is more than {limit} operators deep (a long chain of '+', '*', "
                "comparisons or calls); see docs/kql.md, Limits",
                *_line_col(c, node.pos),
                c.text,
            )
        chain = node.op if isinstance(node, A.Binary) and node.op in ("and", "or") else None
        for field in vars(node).values():
            for child in _children(field):
                same = chain is not None and isinstance(child, A.Binary) and child.op == chain
                stack.append((child, depth if same else depth + 1))


def _line_col(c: Cursor, pos: int) -> tuple[int, int]:
    line = c.text.count("\n", 0, pos) + 1
    return line, pos - (c.text.rfind("\n", 0, pos) + 1) + 1
