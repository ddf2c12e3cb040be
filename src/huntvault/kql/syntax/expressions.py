"""The expression grammar: scalar expressions, literals, tabular sources and pipelines (`source | op | op`).

Pipelines live here because KQL nests them inside expressions (`(T | where x)`, `toscalar(...)`);
each pipe operator is parsed by an entry of the cursor's operator table (kql/operators/).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from huntvault.errors import KqlSyntaxError
from huntvault.kql import ast as A
from huntvault.kql.pyfuncs import format_timespan
from huntvault.kql.syntax.cursor import Cursor
from huntvault.kql.syntax.literals import parse_datetime_text, parse_timespan_text
from huntvault.kql.syntax.tokens import Token

#: binary string/comparison operators spelled as words (also with `!` and `_cs`).
WORD_OPS = frozenset(
    {
        *(
            f"{neg}{base}{cs}"
            for neg in ("", "!")
            for cs in ("", "_cs")
            for base in ("has", "hasprefix", "hassuffix")
        ),
        *(
            f"{neg}{base}{cs}"
            for neg in ("", "!")
            for cs in ("", "_cs")
            for base in ("contains", "startswith", "endswith")
        ),
        "like",
        "notlike",
        "likecs",
        "notlikecs",
    }
)
LIST_OPS = frozenset({"in", "!in", "in~", "!in~", "has_any", "has_all", "!has_any", "!has_all", "has_any_cs"})
COMPARE_PUNCT = frozenset({"==", "!=", "<>", "=~", "!~", "<", "<=", ">", ">="})


# -------------------------------------------------------------------- pipelines


def parse_pipeline(c: Cursor, allow_implicit: bool = False) -> A.Node:
    """A tabular or scalar expression, with pipe operators after it; `allow_implicit`: the body of
    mv-apply / partition / a function, whose first operator may come without a source."""
    start = c.tok
    source: A.Node | None
    ops: list[A.Node] = []
    if allow_implicit and c.at("|"):
        source = None
    elif allow_implicit and (c.dashed_word() or "").lower() in c.operators and _implicit_operator_start(c):
        source = None
        ops.append(parse_operator(c))
    else:
        source = parse_expr(c)
    if not ops and not c.at("|"):
        assert source is not None  # an implicit source is only taken before an operator
        return source
    while c.accept("|"):
        if len(ops) >= c.budget.bounds.max_pipeline:
            raise c.limit(f"a pipeline has more than {c.budget.bounds.max_pipeline} operators")
        ops.append(parse_operator(c))
    return A.Pipeline(source, ops, pos=start.pos)


def _implicit_operator_start(c: Cursor) -> bool:
    """In a body with an implicit input, `where x` starts an operator; `where` alone is a name."""
    nxt = c.peek(1 + 2 * (c.dashed_word() or "").count("-"))
    return not (nxt.kind == "punct" and nxt.value in ("|", ")", ";", "}", ",", "."))


def parse_operator(c: Cursor) -> A.Node:
    word = c.dashed_word()
    t = c.tok
    if word is None or word.lower() not in c.operators:
        raise c.error(f"expected a tabular operator after '|', found {c.describe(t)}")
    c.consume_dashed(word)
    return c.operators[word.lower()](c, t)


# -------------------------------------------------------------------- operator arguments


def options(c: Cursor, names: set[str]) -> dict[str, A.Node]:
    """`name=value` pairs before an operator's body (kind=, hint.x=, isfuzzy=, withsource=...)."""
    out: dict[str, A.Node] = {}
    while c.tok.kind == "ident":
        word = str(c.tok.value)
        k = 1
        while c.peek(k).kind == "punct" and c.peek(k).value == "." and c.peek(k + 1).kind == "ident":
            word += "." + str(c.peek(k + 1).value)
            k += 2
        low = word.lower()
        if not (c.peek(k).kind == "punct" and c.peek(k).value == "="):
            break
        if low not in names and not low.startswith("hint."):
            break
        c.i += k + 1
        if c.tok.kind == "ident":
            v = c.advance()
            out[low] = A.Name(str(v.value), pos=v.pos)
        else:
            out[low] = parse_primary(c)
    return out


def assignments(c: Cursor) -> list[A.Assign]:
    items = [assignment(c)]
    while c.accept(","):
        items.append(assignment(c))
    return items


def assignment(c: Cursor) -> A.Assign:
    """`name = expr`, `(a, b) = expr` or a bare `expr`."""
    t = c.tok
    if c.at("(") and _tuple_assignment_ahead(c):
        c.advance()
        names = [c.identifier()]
        while c.accept(","):
            names.append(c.identifier())
        c.expect(")")
        c.expect("=")
        return A.Assign(names, parse_expr(c), pos=t.pos)
    if c.at_identifier():
        save = c.i
        name = c.identifier()
        if c.at("="):
            c.advance()
            return A.Assign([name], parse_expr(c), pos=t.pos)
        c.i = save
    return A.Assign(None, parse_expr(c), pos=t.pos)


def _tuple_assignment_ahead(c: Cursor) -> bool:
    k = c.i + 1
    while k < len(c.toks):
        t = c.toks[k]
        if t.kind == "punct" and t.value == ")":
            nxt = c.toks[k + 1]
            return nxt.kind == "punct" and nxt.value == "="
        if not (t.kind == "ident" or (t.kind == "punct" and t.value == ",")):
            return False
        k += 1
    return False


def union_tables(c: Cursor) -> list[A.Node]:
    """The tables of union/find/search: names (wildcards allowed), calls, or parenthesised pipelines."""
    tables: list[A.Node] = []
    while True:
        s = c.tok
        if c.at("("):
            c.advance()
            inner = parse_pipeline(c)
            c.expect(")")
            tables.append(inner)
        else:
            name = c.identifier("a table name")
            while (c.at("*") or c.tok.kind == "ident") and c.adjacent(c.toks[c.i - 1], c.tok):
                name += str(c.advance().text)
            node: A.Node = A.Name(name, pos=s.pos)
            if c.at("(") and c.adjacent(c.toks[c.i - 1], c.tok):
                node = call_args(c, name, s)
                if c.at(".") and c.peek().kind == "ident":  # a pattern's path: P(args).path
                    c.advance()
                    node = A.Member(node, str(c.advance().value), pos=s.pos)
                elif c.at("["):  # P(args)["path"]
                    c.advance()
                    node = A.Index(node, parse_expr(c), pos=s.pos)
                    c.expect("]")
            tables.append(node)
        if not c.accept(","):
            return tables


def sort_keys(c: Cursor) -> list[A.SortKey]:
    """`expr [asc|desc] [nulls first|last], ...` of sort and top."""
    keys = []
    while True:
        s = c.tok
        expr = parse_expr(c)
        desc = True
        if c.accept_word("asc"):
            desc = False
        elif c.accept_word("desc"):
            desc = True
        nulls = None
        if c.accept_word("nulls"):
            which = c.tok
            if c.accept_word("first"):
                nulls = True
            elif c.accept_word("last"):
                nulls = False
            else:
                raise c.error("expected 'first' or 'last' after 'nulls'", which)
        keys.append(A.SortKey(expr, desc, nulls, pos=s.pos))
        if not c.accept(","):
            return keys


# -------------------------------------------------------------------- scalar expressions


def parse_expr(c: Cursor) -> A.Node:
    with c.deeper():
        return _or(c)


def _or(c: Cursor) -> A.Node:
    left = _and(c)
    while c.at_word("or"):
        t = c.advance()
        left = A.Binary("or", left, _and(c), pos=t.pos)
    return left


def _and(c: Cursor) -> A.Node:
    left = _comparison(c)
    while c.at_word("and"):
        t = c.advance()
        left = A.Binary("and", left, _comparison(c), pos=t.pos)
    return left


def _bang_word(c: Cursor) -> str | None:
    """`!has`, `!contains`, `!in~`... written as `!` followed by an adjacent word."""
    if c.at("!") and c.peek().kind == "ident" and c.adjacent(c.tok, c.peek()):
        return "!" + str(c.peek().value).lower()
    return None


def _comparison(c: Cursor) -> A.Node:
    left = _additive(c)
    while True:
        t = c.tok
        if t.kind == "punct" and t.value in COMPARE_PUNCT:
            c.advance()
            op = "!=" if t.value == "<>" else str(t.value)
            left = A.Binary(op, left, _additive(c), pos=t.pos)
            continue
        if t.kind == "punct" and t.value == ":" and isinstance(left, A.Name) and c.peek().kind == "string":
            c.advance()  # search's `Column:"term"` (the term tested in one column)
            s = c.advance()
            left = A.Binary(":", left, A.Literal(str(s.value), "string", pos=s.pos), pos=t.pos)
            continue
        width = 1
        if t.kind == "ident":
            word: str | None = str(t.value).lower()
        else:
            word = _bang_word(c)
            width = 2
        if word is None:
            return left
        nxt = c.peek(width)  # `in~` / `!in~`
        if (
            word in ("in", "!in")
            and nxt.kind == "punct"
            and nxt.value == "~"
            and c.adjacent(c.peek(width - 1), nxt)
        ):
            word += "~"
            width += 1
        if word in WORD_OPS:
            c.i += width
            left = A.Binary(word, left, _additive(c), pos=t.pos)
        elif word in LIST_OPS:
            c.i += width
            left = A.ListOp(word, left, _paren_list(c), pos=t.pos)
        elif word in ("between", "!between"):
            c.i += width
            c.expect("(")
            lo = _additive(c)
            c.expect("..", "'..' between the bounds")
            hi = _additive(c)
            c.expect(")")
            left = A.Between(left, lo, hi, word.startswith("!"), pos=t.pos)
        elif word in ("matches", "!matches"):
            c.i += width
            c.expect_word("regex")
            op = "matches regex" if word == "matches" else "!matches regex"
            left = A.Binary(op, left, _additive(c), pos=t.pos)
        else:
            return left


def _paren_list(c: Cursor) -> list[A.Node]:
    if not c.at("("):  # `x in dynamic([..])` / `has_any mylist` without parentheses
        return [_additive(c)]
    return c.delimited("(", ")", lambda: _list_item(c), "')' closing the list")


def _list_item(c: Cursor) -> A.Node:
    """One item of an `in (...)` list: a lone string or number is taken at once (lists of 10,000 terms)."""
    t = c.tok
    if t.kind in ("string", "number") and _is_punct(c.peek(), ",", ")"):
        c.advance()
        if t.kind == "string":
            return A.Literal(str(t.value), "string", pos=t.pos)
        return A.Literal(t.value, "long" if isinstance(t.value, int) else "real", pos=t.pos)
    return parse_pipeline(c)


def _additive(c: Cursor) -> A.Node:
    left = _multiplicative(c)
    while c.tok.kind == "punct" and c.tok.value in ("+", "-"):
        t = c.advance()
        left = A.Binary(str(t.value), left, _multiplicative(c), pos=t.pos)
    return left


def _multiplicative(c: Cursor) -> A.Node:
    left = _unary(c)
    while c.tok.kind == "punct" and c.tok.value in ("*", "/", "%"):
        t = c.advance()
        left = A.Binary(str(t.value), left, _unary(c), pos=t.pos)
    return left


def _unary(c: Cursor) -> A.Node:
    t = c.tok
    if t.kind == "punct" and t.value in ("-", "+"):
        c.advance()
        with c.deeper():
            operand = _unary(c)
        if t.value == "-" and isinstance(operand, A.Literal) and operand.type in ("long", "real", "timespan"):
            return A.Literal(-operand.value, operand.type, pos=t.pos)
        return A.Unary(str(t.value), operand, pos=t.pos)
    return parse_postfix(c)


def parse_postfix(c: Cursor) -> A.Node:
    """A primary followed by `.member`, `["key"]` and `[index]` accesses."""
    node = parse_primary(c)
    while True:
        if c.at(".") and c.peek().kind == "ident":
            c.advance()
            name_tok = c.advance()
            node = A.Member(node, str(name_tok.value), pos=node.pos)
        elif c.at(".") and c.peek().kind == "punct" and c.peek().value == "[":
            c.advance()
        elif c.at("["):
            c.advance()
            idx = parse_expr(c)
            c.expect("]")
            node = A.Index(node, idx, pos=node.pos)
        else:
            return node


def call_args(c: Cursor, name: str, start: Token) -> A.Call:
    """`name(arg, key = arg, *)` with the cursor on `(`."""
    c.expect("(")
    args: list[A.Node] = []
    named: dict[str, A.Node] = {}
    while not c.at(")"):
        if c.at("*") and c.peek().kind == "punct" and c.peek().value in (",", ")"):
            s = c.advance()
            args.append(A.Star(pos=s.pos))
        elif (
            c.tok.kind == "ident"
            and c.peek().kind == "punct"
            and c.peek().value == "="
            and not (c.peek(2).kind == "punct" and c.peek(2).value == "=")
        ):
            key = str(c.advance().value)
            c.advance()
            named[key] = parse_pipeline(c)
        else:
            args.append(parse_pipeline(c))
        if not c.accept(","):
            break
    c.expect(")", "')' closing the argument list")
    return A.Call(name, args, named, pos=start.pos)


def parse_primary(c: Cursor) -> A.Node:
    t = c.tok
    if t.kind == "string":
        c.advance()
        value = str(t.value)
        while c.tok.kind == "string":  # adjacent literals concatenate
            value += str(c.advance().value)
        return A.Literal(value, "string", pos=t.pos)
    if t.kind == "number":
        c.advance()
        return A.Literal(t.value, "long" if isinstance(t.value, int) else "real", pos=t.pos)
    if t.kind == "timespan":
        c.advance()
        return A.Literal(t.value, "timespan", pos=t.pos)
    if c.at("("):
        c.advance()
        inner = parse_pipeline(c)
        if c.at(","):
            # a parenthesised list, only meaningful as an argument list; kept as a call to a tuple
            items = [inner]
            while c.accept(","):
                items.append(parse_pipeline(c))
            c.expect(")")
            return A.Call("__tuple", items, pos=t.pos)
        c.expect(")", "')'")
        return inner
    if c.at("[") and c.peek().kind == "string":
        c.i += 1
        name = str(c.advance().value)
        c.expect("]")
        return A.Name(name, pos=t.pos)
    if c.at("*"):
        c.advance()
        return A.Star(pos=t.pos)
    if t.kind == "ident":
        return _word(c, t)
    raise c.error(f"expected an expression, found {c.describe(t)}")


def _is_punct(t: Token, *values: str) -> bool:
    return t.kind == "punct" and t.value in values


def _word(c: Cursor, t: Token) -> A.Node:
    """A name, a call, a keyword literal, a typed literal or a tabular source starting with a word."""
    word = str(t.value)
    low = word.lower()
    nxt = c.peek()
    is_call = _is_punct(nxt, "(")
    if low in ("true", "false") and not is_call:
        c.advance()
        return A.Literal(low == "true", "bool", pos=t.pos)
    if low == "null" and not is_call:
        c.advance()
        return A.Literal(None, "null", pos=t.pos)
    if low in ("datatable", "externaldata") and (is_call or nxt.kind == "ident"):
        return SOURCES[low](c, t)
    if low == "print" and not is_call:
        return SOURCES[low](c, t)
    if low == "union" and not _is_punct(nxt, "|", ")", ",", ";"):
        return SOURCES[low](c, t)
    if (
        low == "range"
        and nxt.kind == "ident"
        and c.peek(2).kind == "ident"
        and str(c.peek(2).value).lower() == "from"
    ):
        return SOURCES[low](c, t)
    if (
        low in ("find", "search")
        and not is_call
        and not _is_punct(nxt, "|", ")", ",", ";", "=")
        and nxt.kind != "eof"
    ):
        return SOURCES[low](c, t)
    if low == "dynamic" and is_call:
        c.advance()
        c.advance()
        value = _json_value(c)
        c.expect(")")
        return A.Literal(value, "dynamic", pos=t.pos)
    if low in TYPED_LITERALS and is_call:
        return _typed_literal(c, low, t)
    special = _special_real(c) if low in ("real", "double") and is_call else None
    if special is not None:
        c.advance()
        c.advance()
        if c.tok.kind == "punct":  # the sign is its own token
            c.advance()
        c.advance()
        c.expect(")")
        return A.Literal(special, "real", pos=t.pos)
    if low == "decimal" and is_call:  # decimal(1.5) is a literal of the decimal type: todecimal's value
        c.advance()
        return call_args(c, "todecimal", t)
    if low == "typeof" and is_call:
        c.advance()
        c.advance()
        ty = c.type_name()
        c.expect(")")
        return A.TypeOf(ty, pos=t.pos)
    c.advance()
    if is_call:
        return call_args(c, word, t)
    return A.Name(word, pos=t.pos)


_SPECIAL_REALS = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}


def _special_real(c: Cursor) -> float | None:
    """`real(nan)`, `real(+inf)`, `real(-inf)`: the value when the tokens after `real` spell one."""
    first, second = c.peek(2), c.peek(3)
    if first.kind == "ident":
        return _SPECIAL_REALS.get(str(first.value).lower())
    if _is_punct(first, "+", "-") and second.kind == "ident":
        return _SPECIAL_REALS.get(f"{first.value}{str(second.value).lower()}")
    return None


#: the literal forms whose text is read raw: `datetime(2020-01-01)`, `time(1d)`, `guid(74be...)`, `uuid(...)`
TYPED_LITERALS = frozenset({"datetime", "date", "timespan", "time", "guid", "uuid", "uniqueid"})


def _typed_literal(c: Cursor, low: str, t: Token) -> A.Literal:
    c.advance()
    c.expect("(")
    if c.tok.kind in ("raw", "string"):
        raw = str(c.advance().value)
    elif c.at(")"):
        raw = ""
    else:
        raise c.error(f"unexpected {c.describe(c.tok)} in {low}(...)")
    c.expect(")", f"')' closing {low}(...)")
    kind = {"date": "datetime", "time": "timespan", "uuid": "guid", "uniqueid": "guid"}.get(low, low)
    if raw.lower() == "null" or raw == "":
        return A.Literal(None, kind, pos=t.pos)
    try:
        if kind == "timespan":
            return A.Literal(parse_timespan_text(raw), "timespan", pos=t.pos)
        if kind == "datetime":
            return A.Literal(parse_datetime_text(raw), "datetime", pos=t.pos)
    except KqlSyntaxError as exc:
        raise c.error(exc.message, t) from None
    return A.Literal(raw, kind, pos=t.pos)


def _json_item(value: Any, kind: str) -> Any:
    """A KQL literal inside dynamic(...) as the value the dynamic holds: a timespan as its text
    (`"1.00:00:00"`), as Kusto's JSON and pack() write it; a datetime stays one (written with 7 digits)."""
    if kind == "timespan" and value is not None:
        return format_timespan(timedelta(microseconds=value))
    return value


def _json_value(c: Cursor) -> Any:
    """One value inside `dynamic(...)`: JSON plus KQL literals (datetime(), timespans, negative numbers)."""
    t = c.tok
    with c.deeper():
        if c.at("["):
            return c.delimited("[", "]", lambda: _json_value(c))
        if c.accept("{"):
            obj: dict[str, Any] = {}
            while not c.at("}"):
                kt = c.advance()
                if kt.kind not in ("string", "ident"):
                    raise c.error("expected a property name in dynamic({...})", kt)
                c.expect(":")
                obj[str(kt.value)] = _json_value(c)
                if not c.accept(","):
                    break
            c.expect("}")
            return obj
    if t.kind == "string":
        c.advance()
        return t.value
    if t.kind == "punct" and t.value == "-" and c.peek().kind in ("number", "timespan"):
        c.advance()
        number = c.advance()
        assert isinstance(number.value, (int, float))  # number and timespan tokens carry numbers
        return _json_item(-number.value, number.kind)
    if t.kind in ("number", "timespan"):
        c.advance()
        return _json_item(t.value, t.kind)
    if t.kind == "ident":
        low = str(t.value).lower()
        if low in ("true", "false"):
            c.advance()
            return low == "true"
        if low == "null":
            c.advance()
            return None
        if low in TYPED_LITERALS and _is_punct(c.peek(), "("):
            lit = _typed_literal(c, low, t)
            return _json_item(lit.value, lit.type)
        if low == "dynamic" and _is_punct(c.peek(), "("):  # dynamic({"a": dynamic([1])}) nests
            c.advance()
            c.advance()
            value = _json_value(c)
            c.expect(")")
            return value
    raise c.error(f"unexpected {c.describe(t)} inside dynamic(...)")


# -------------------------------------------------------------------- tabular sources


def _datatable(c: Cursor, t: Token) -> A.Node:
    c.advance()
    options(c, set())
    cols = c.delimited("(", ")", c.column_decl)
    values = c.delimited("[", "]", lambda: parse_expr(c))
    return A.Datatable(cols, values, pos=t.pos)


def _externaldata(c: Cursor, t: Token) -> A.Node:
    c.advance()
    options(c, set())
    cols = c.delimited("(", ")", c.column_decl)
    uris = c.delimited("[", "]", lambda: parse_expr(c))
    opts: dict[str, A.Node] = {}
    if c.accept_word("with"):
        c.expect("(")
        while not c.at(")"):
            key = c.identifier("an option name")
            c.expect("=")
            opts[key.lower()] = parse_expr(c)
            if not c.accept(","):
                break
        c.expect(")")
    return A.Externaldata(cols, uris, opts, pos=t.pos)


def _print(c: Cursor, t: Token) -> A.Node:
    c.advance()
    items: list[tuple[str | None, A.Node]] = []
    if not (c.at("|") or c.at(";") or c.tok.kind == "eof"):
        for a in assignments(c):
            items.append((a.names[0] if a.names else None, a.expr))
    return A.PrintSource(items, pos=t.pos)


def _range(c: Cursor, t: Token) -> A.Node:
    c.advance()
    col = c.identifier()
    c.expect_word("from")
    start = parse_expr(c)
    c.expect_word("to")
    stop = parse_expr(c)
    c.expect_word("step")
    step = parse_expr(c)
    return A.RangeSource(col, start, stop, step, pos=t.pos)


def _union(c: Cursor, t: Token) -> A.Node:
    c.advance()
    opts = options(c, {"kind", "withsource", "isfuzzy"})
    return A.UnionSource(union_tables(c), opts, pos=t.pos)


def _in_tables(c: Cursor) -> list[A.Node]:
    if not c.accept_word("in"):
        return []
    c.expect("(")
    tables = union_tables(c)
    c.expect(")")
    return tables


def _find(c: Cursor, t: Token) -> A.Node:
    c.advance()
    opts = options(c, {"withsource", "datascope", "database"})
    tables = _in_tables(c)
    if tables:
        c.expect_word("where")
    else:
        c.accept_word("where")  # `find Session_Id == 'x'`: the abbreviated form over every table
    pred = parse_expr(c)
    project: list[str] | None = None
    if c.accept_word("project"):
        project = []
        while True:  # column names, and pack_all() for a bag of the other columns
            if c.at_word("pack_all") and _is_punct(c.peek(), "("):
                c.advance()
                c.expect("(")
                c.expect(")")
                project.append("pack_all()")
            else:
                project.append(c.identifier("a column name"))
            if not c.accept(","):
                break
    elif c.dashed_word() == "project-smart":
        c.consume_dashed("project-smart")
    return A.FindSource(tables, pred, project, opts, pos=t.pos)


def _search(c: Cursor, t: Token) -> A.Node:
    c.advance()
    opts = options(c, {"kind", "withsource"})
    tables = _in_tables(c)
    return A.SearchSource(tables, search_expr(c), opts, pos=t.pos)


def search_expr(c: Cursor) -> A.Node:
    """search's predicate: `*` alone (every row) or an expression."""
    if c.at("*") and (
        c.peek().kind == "eof" or (c.peek().kind == "punct" and c.peek().value in ("|", ";", ")"))
    ):
        return A.Star(pos=c.advance().pos)
    return parse_expr(c)


#: tabular sources that start with a keyword (the conditions under which the word starts one are in `_word`)
SOURCES: dict[str, Callable[[Cursor, Token], A.Node]] = {
    "datatable": _datatable,
    "externaldata": _externaldata,
    "print": _print,
    "range": _range,
    "union": _union,
    "find": _find,
    "search": _search,
}
