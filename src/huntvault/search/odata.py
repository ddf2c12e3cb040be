"""The OData subset of Azure AI Search: $filter, $orderby and $select parsed into small trees."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from huntvault.errors import SearchError
from huntvault.search.bounds import MAX_DEPTH

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})"
)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(?:/[A-Za-z_][A-Za-z_0-9]*)*")
COMPARISONS = ("eq", "ne", "gt", "lt", "ge", "le")
MAX_ORDERBY = 32
MAX_FILTER_CLAUSES = 1000


def odata_error(parameter: str, text: str, pos: int, why: str = "Syntax error") -> SearchError:
    return SearchError(
        f"Invalid expression: {why} at position {pos} in '{text}'.\r\nParameter name: {parameter}"
    )


@dataclass
class Tok:
    kind: str  # ident | string | number | datetime | bool | null | op | lparen | rparen | comma | colon | eof
    value: Any
    pos: int


def tokenize(text: str, parameter: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "(":
            toks.append(Tok("lparen", c, i))
            i += 1
        elif c == ")":
            toks.append(Tok("rparen", c, i))
            i += 1
        elif c == ",":
            toks.append(Tok("comma", c, i))
            i += 1
        elif c == ":":
            toks.append(Tok("colon", c, i))
            i += 1
        elif c == "'":
            j, buf = i + 1, []
            while True:
                if j >= n:
                    break
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        buf.append("'")
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            if j >= n:  # reported when the parser reaches it, so an earlier stray quote is named first
                toks.append(Tok("error", "Unterminated string literal", i))
                break
            toks.append(Tok("string", "".join(buf), i))
            i = j + 1
        elif (m := _DATETIME.match(text, i)) is not None:
            toks.append(Tok("datetime", _parse_dt(m, parameter, text, i), i))
            i = m.end()
        elif (m := _NUMBER.match(text, i)) is not None and (c.isdigit() or c in "+-."):
            raw = m.group(0)
            value: int | float = float(raw) if any(ch in raw for ch in ".eE") else int(raw)
            toks.append(Tok("number", value, i))
            i = m.end()
        elif (m := _IDENT.match(text, i)) is not None:
            word = m.group(0)
            end = m.end()
            # function names with a dot: search.in, search.ismatch(scoring), search.score, geo.distance
            if word in ("search", "geo") and end < n and text[end] == ".":
                m2 = re.compile(r"[A-Za-z]+").match(text, end + 1)
                if m2:
                    word = word + "." + m2.group(0)
                    end = m2.end()
            if word in ("true", "false"):
                toks.append(Tok("bool", word == "true", i))
            elif word == "null":
                toks.append(Tok("null", None, i))
            elif word in ("INF", "NaN"):
                toks.append(Tok("number", float("inf") if word == "INF" else float("nan"), i))
            elif word in (*COMPARISONS, "and", "or", "not"):
                toks.append(Tok("op", word, i))
            else:
                toks.append(Tok("ident", word, i))
            i = end
        else:
            raise odata_error(parameter, text, i)
    toks.append(Tok("eof", None, n))
    return toks


def _parse_dt(m: re.Match[str], parameter: str, text: str, pos: int) -> datetime:
    year, month, day, hour, minute, second, frac, tz = m.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((frac or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        raise odata_error(parameter, text, pos, "Invalid DateTimeOffset literal") from None
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        value -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    return value


# ---- filter tree ---------------------------------------------------------------------------------


@dataclass
class Compare:
    path: str
    op: str
    value: Any
    pos: int


@dataclass
class Logical:
    op: str  # and | or
    left: FilterNode
    right: FilterNode


@dataclass
class NotExpr:
    operand: FilterNode


@dataclass
class InSet:
    path: str
    values: list[str]
    pos: int


@dataclass
class IsMatch:
    search: str
    fields: list[str]
    query_type: str
    search_mode: str
    scoring: bool
    pos: int


@dataclass
class BoolField:
    path: str
    pos: int


@dataclass
class Constant:
    value: bool


@dataclass
class Lambda:
    path: str
    kind: str  # any | all
    var: str | None
    body: FilterNode | None
    pos: int


FilterNode = Compare | Logical | NotExpr | InSet | IsMatch | BoolField | Constant | Lambda
_NODES = (Compare, Logical, NotExpr, InSet, IsMatch, BoolField, Constant, Lambda)


@dataclass
class _Parser:
    text: str
    parameter: str
    toks: list[Tok] = field(default_factory=list)
    i: int = 0
    clauses: int = 0
    depth: int = 0
    lambda_vars: list[str] = field(default_factory=list)

    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: Tok, why: str = "Syntax error") -> SearchError:
        return odata_error(self.parameter, self.text, tok.pos, why)

    def expect(self, kind: str, what: str) -> Tok:
        tok = self.next()
        if tok.kind != kind:
            raise self.fail(tok, f"'{what}' expected")
        return tok

    def parse(self) -> FilterNode:
        node = self.or_expr()
        tok = self.peek()
        if tok.kind == "error":
            raise self.fail(tok, str(tok.value))
        if tok.kind != "eof":
            raise self.fail(tok, "')' or operator expected")
        return node

    def or_expr(self) -> FilterNode:
        nodes = [self.and_expr()]
        while self.peek().kind == "op" and self.peek().value == "or":
            self.next()
            nodes.append(self.and_expr())
        return _balanced("or", nodes)

    def and_expr(self) -> FilterNode:
        nodes = [self.unary()]
        while self.peek().kind == "op" and self.peek().value == "and":
            self.next()
            nodes.append(self.unary())
        return _balanced("and", nodes)

    def nest(self, tok: Tok) -> None:
        """One more level of parentheses, `not` or lambda: bounded before the parser recurses."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SearchError(
                f"Invalid expression: the filter is nested more than {MAX_DEPTH} levels deep at position "
                f"{tok.pos}: the limit is {MAX_DEPTH}.\r\nParameter name: {self.parameter}"
            )

    def unary(self) -> FilterNode:
        tok = self.peek()
        if tok.kind == "op" and tok.value == "not":
            self.next()
            operand_tok = self.peek()
            self.nest(tok)
            operand = self.unary()
            self.depth -= 1
            if isinstance(operand, Compare) and operand_tok.kind != "lparen":
                raise self.fail(
                    tok,
                    "A unary operator with an incompatible type was detected. Found operand type of a "
                    f"comparison on '{operand.path}' for operator kind 'Not'; write not (...)",
                )
            return NotExpr(operand)
        return self.comparison()

    def comparison(self) -> FilterNode:
        self.clauses += 1
        if self.clauses > MAX_FILTER_CLAUSES:
            raise self.fail(self.peek(), f"The filter has more than {MAX_FILTER_CLAUSES} clauses")
        left_tok = self.peek()
        left = self.operand()
        tok = self.peek()
        if tok.kind == "op" and tok.value in COMPARISONS:
            self.next()
            right_tok = self.peek()
            right = self.operand()
            if isinstance(left, _Path) and isinstance(right, _Const):
                return Compare(left.path, tok.value, right.value, left_tok.pos)
            if isinstance(right, _Path) and isinstance(left, _Const):
                return Compare(right.path, _FLIP[tok.value], left.value, right_tok.pos)
            if isinstance(left, _Path) and isinstance(right, bool):
                return Compare(left.path, tok.value, right, left_tok.pos)
            raise self.fail(tok, "A comparison needs a field on one side and a constant on the other")
        if isinstance(left, _Path):
            return BoolField(left.path, left_tok.pos)
        if isinstance(left, bool):
            return Constant(left)
        if isinstance(left, _NODES):
            return left
        raise self.fail(left_tok, "A boolean expression was expected")

    def operand(self) -> Any:
        tok = self.next()
        if tok.kind == "error":
            raise self.fail(tok, str(tok.value))
        if tok.kind == "lparen":
            self.nest(tok)
            inner = self.or_expr()
            self.depth -= 1
            self.expect("rparen", ")")
            return inner
        if tok.kind in ("string", "number", "datetime", "bool", "null"):
            return _Const(tok.value) if tok.kind != "bool" else tok.value
        if tok.kind == "ident":
            name = tok.value
            if name in FUNCTIONS:
                return FUNCTIONS[name](self, tok)
            path = name
            if self.lambda_vars and path.split("/")[0] in self.lambda_vars:
                return _Path(path)
            return self._maybe_lambda(tok, path)
        raise self.fail(tok, "An operand was expected")

    def _maybe_lambda(self, tok: Tok, path: str) -> Any:
        # `Rooms/any(r: ...)` lexes as ident "Rooms/any" followed by "("
        head, _, last = path.rpartition("/")
        if last in ("any", "all") and head and self.peek().kind == "lparen":
            self.next()
            if self.peek().kind == "rparen":
                self.next()
                if last == "all":
                    raise self.fail(tok, "'all' requires a lambda expression")
                return Lambda(head, last, None, None, tok.pos)
            var = self.expect("ident", "lambda variable").value
            self.expect("colon", ":")
            self.lambda_vars.append(var)
            self.nest(tok)
            body = self.or_expr()
            self.depth -= 1
            self.lambda_vars.pop()
            self.expect("rparen", ")")
            return Lambda(head, last, var, body, tok.pos)
        return _Path(path)

    def string_args(self, tok: Tok, lo: int, hi: int) -> list[Any]:
        self.expect("lparen", "(")
        args: list[Any] = []
        while True:
            arg = self.next()
            if arg.kind not in ("string", "ident"):
                raise self.fail(arg, f"{tok.value} expects string arguments")
            args.append(arg.value if arg.kind == "string" else _Path(arg.value))
            sep = self.next()
            if sep.kind == "rparen":
                break
            if sep.kind != "comma":
                raise self.fail(sep, "',' or ')' expected")
        if not lo <= len(args) <= hi:
            raise self.fail(tok, f"{tok.value} takes {lo} to {hi} arguments, got {len(args)}")
        return args


def _balanced(op: str, nodes: list[FilterNode]) -> FilterNode:
    """`a op b op c ...` as a balanced tree (depth log2 n): a long `or` chain cannot exhaust the stack."""
    while len(nodes) > 1:
        paired: list[FilterNode] = [Logical(op, a, b) for a, b in zip(nodes[::2], nodes[1::2], strict=False)]
        nodes = paired + ([nodes[-1]] if len(nodes) % 2 else [])
    return nodes[0]


@dataclass
class _Path:
    path: str


@dataclass
class _Const:
    value: Any


_FLIP = {"eq": "eq", "ne": "ne", "gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}


def _search_in(p: _Parser, tok: Tok) -> FilterNode:
    args = p.string_args(tok, 2, 3)
    if not isinstance(args[0], _Path) or not all(isinstance(a, str) for a in args[1:]):
        raise p.fail(tok, "search.in expects a field and one or two string literals")
    delims = args[2] if len(args) == 3 else " ,"
    pattern = "[" + re.escape(delims) + "]"
    values = [v for v in re.split(pattern, args[1]) if v != ""]
    return InSet(args[0].path, values, tok.pos)


def _ismatch(scoring: bool) -> Any:
    def build(p: _Parser, tok: Tok) -> FilterNode:
        if p.lambda_vars:
            raise p.fail(tok, f"{tok.value} cannot be used inside a lambda expression")
        args = p.string_args(tok, 1, 4)
        if not all(isinstance(a, str) for a in args) or len(args) == 3:
            raise p.fail(tok, f"{tok.value} expects (search[, searchFields[, queryType, searchMode]])")
        fields = [f.strip() for f in args[1].split(",") if f.strip()] if len(args) > 1 else []
        qtype = args[2] if len(args) > 2 else "simple"
        mode = args[3] if len(args) > 3 else "any"
        if qtype not in ("simple", "full") or mode not in ("any", "all"):
            raise p.fail(tok, f"{tok.value}: queryType must be simple|full and searchMode any|all")
        return IsMatch(args[0], fields, qtype, mode, scoring, tok.pos)

    return build


def _unsupported(p: _Parser, tok: Tok) -> Any:
    raise p.fail(tok, f"The function '{tok.value}' is not supported by this service (no geography fields)")


def _score_in_filter(p: _Parser, tok: Tok) -> Any:
    raise p.fail(tok, "search.score() can only be used in $orderby")


FUNCTIONS: dict[str, Any] = {
    "search.in": _search_in,
    "search.ismatch": _ismatch(False),
    "search.ismatchscoring": _ismatch(True),
    "search.score": _score_in_filter,
    "geo.distance": _unsupported,
    "geo.intersects": _unsupported,
}


def parse_filter(text: str) -> FilterNode:
    parser = _Parser(text, "$filter", tokenize(text, "$filter"))
    node = parser.parse()
    return _unwrap(node, parser)


def _unwrap(node: Any, parser: _Parser) -> FilterNode:
    if isinstance(node, _Path):
        return BoolField(node.path, 0)
    if isinstance(node, _Const):
        raise odata_error("$filter", parser.text, 0, "A boolean expression was expected")
    return node  # type: ignore[no-any-return]


# ---- $orderby and $select ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderKey:
    path: str  # "search.score()" for the score
    descending: bool


SCORE = "search.score()"


def parse_orderby(text: str) -> list[OrderKey]:
    keys: list[OrderKey] = []
    pos = 0
    for raw in text.split(","):
        clause = raw.strip()
        if not clause:
            raise odata_error("$orderby", text, pos, "Empty order-by clause")
        parts = clause.split()
        direction = "asc"
        if len(parts) == 2 and parts[1] in ("asc", "desc"):
            direction = parts[1]
        elif len(parts) != 1:
            raise odata_error("$orderby", text, pos + len(parts[0]) + 1, "'asc', 'desc' or ',' expected")
        target = parts[0]
        if target.replace(" ", "") == SCORE:
            target = SCORE
        elif target.startswith(("geo.", "search.")):
            raise odata_error("$orderby", text, pos, f"The function '{target}' is not supported in $orderby")
        elif not _IDENT.fullmatch(target):
            raise odata_error("$orderby", text, pos)
        keys.append(OrderKey(target, direction == "desc"))
        pos += len(raw) + 1
    if len(keys) > MAX_ORDERBY:
        raise SearchError(
            f"$orderby has {len(keys)} clauses; at most {MAX_ORDERBY} are allowed.\r\nParameter name: $orderby"
        )
    return keys


def parse_select(text: str) -> list[str] | None:
    """Field paths of $select, or None for `*` / all retrievable fields."""
    items = [s.strip() for s in text.split(",")]
    if items == ["*"] or items == [""]:
        return None
    pos = 0
    for item in items:
        if not _IDENT.fullmatch(item):
            raise odata_error("$select", text, pos)
        pos += len(item) + 1
    return items
