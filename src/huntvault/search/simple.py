"""Azure's simple query syntax (`queryType=simple`): + | - "phrase" prefix* ( ) and backslash escapes."""

from __future__ import annotations

from dataclasses import dataclass

from huntvault.errors import SearchError
from huntvault.search.ast import Bool, MatchAll, Node, Not, Text
from huntvault.search.bounds import check_depth

SPECIAL = set('+|"()')


def parse_error(query: str, pos: int, why: str) -> SearchError:
    return SearchError(
        f"Failed to parse query string at line 1, column {pos + 1}: {why}. "
        f"See https://aka.ms/azsearch/queryparsing for supported syntax.\r\nParameter name: search"
    )


def scan_phrase(q: str, i: int) -> tuple[str, int]:
    """The `"..."` phrase opening at `q[i]` (backslash escapes any character) and the index after it."""
    j, buf, n = i + 1, [], len(q)
    while j < n and q[j] != '"':
        if q[j] == "\\" and j + 1 < n:
            j += 1
        buf.append(q[j])
        j += 1
    if j >= n:
        raise parse_error(q, i, "unterminated phrase")
    return "".join(buf), j + 1


@dataclass
class _Tok:
    kind: str  # term | phrase | and | or | not | lparen | rparen
    text: str
    pos: int
    prefix: bool = False


#: one-character tokens of the simple syntax (`-` is NOT only where an operand starts; phrases and terms are scanned)
PUNCTUATION: dict[str, str] = {"(": "lparen", ")": "rparen", "+": "and", "|": "or"}


def _lex(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        at_start = not toks or toks[-1].kind in ("and", "or", "not", "lparen") or q[i - 1].isspace()
        if c in PUNCTUATION:
            toks.append(_Tok(PUNCTUATION[c], c, i))
            i += 1
        elif c == "-" and at_start:
            toks.append(_Tok("not", c, i))
            i += 1
        elif c == '"':
            phrase, end = scan_phrase(q, i)
            toks.append(_Tok("phrase", phrase, i))
            i = end
        else:
            j, buf = i, []
            prefix = False
            while j < n and not q[j].isspace() and q[j] not in SPECIAL:
                if q[j] == "\\" and j + 1 < n:
                    buf.append(q[j + 1])
                    j += 2
                    continue
                if q[j] == "*" and (j + 1 == n or q[j + 1].isspace() or q[j + 1] in SPECIAL):
                    prefix = True
                    j += 1
                    break
                buf.append(q[j])
                j += 1
            toks.append(_Tok("term", "".join(buf), i, prefix))
            i = j
    return toks


class _Parser:
    def __init__(self, query: str, mode: str) -> None:
        self.q = query
        self.toks = _lex(query)
        self.i = 0
        self.default_and = mode == "all"
        self.depth = 0  # open groups and `-` operators (bounded before recursing)

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Node:
        if not self.toks:
            return MatchAll()
        node = self.seq()
        tok = self.peek()
        if tok is not None:
            raise parse_error(self.q, tok.pos, f"unexpected '{tok.text}'")
        return node

    def seq(self) -> Node:
        """Operands combined left to right with explicit + / | or the searchMode default."""
        result: Node | None = None
        op: str | None = None
        while (tok := self.peek()) is not None and tok.kind != "rparen":
            if tok.kind in ("and", "or"):
                op = tok.kind
                self.i += 1
                continue
            operand = self.unary()
            if result is None:
                result = operand
            else:
                use_and = op == "and" if op else self.default_and
                result = _combine(result, operand, use_and)
            op = None
        return result if result is not None else MatchAll()

    def unary(self) -> Node:
        tok = self.peek()
        assert tok is not None
        if tok.kind == "not":
            self.i += 1
            if self.peek() is None or self.peek().kind in ("rparen", "and", "or"):  # type: ignore[union-attr]
                raise parse_error(self.q, tok.pos, "'-' must be followed by a term")
            self.depth += 1
            check_depth(self.depth, "search")
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        tok = self.peek()
        assert tok is not None
        self.i += 1
        if tok.kind == "lparen":
            self.depth += 1
            check_depth(self.depth, "search")
            inner = self.seq()
            self.depth -= 1
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise parse_error(self.q, tok.pos, "unbalanced '('")
            self.i += 1
            return inner
        if tok.kind == "phrase":
            return Text(tok.text, "phrase")
        if tok.kind == "term":
            if tok.prefix:
                if not tok.text:
                    return MatchAll()
                return Text(tok.text, "prefix")
            return Text(tok.text, "term")
        raise parse_error(self.q, tok.pos, f"unexpected '{tok.text}'")


def _combine(left: Node, right: Node, use_and: bool) -> Node:
    if use_and:
        if isinstance(left, Bool) and not left.should:
            left.must.append(right)
            return left
        return Bool(must=[left, right])
    if isinstance(left, Bool) and not left.must and not left.must_not:
        left.should.append(right)
        return left
    return Bool(should=[left, right])


def parse_simple(query: str, search_mode: str = "any") -> Node:
    """Parse simple syntax. Under searchMode=any, `-x` means "or not x" (Azure's documented behaviour)."""
    return _Parser(query, search_mode).parse()
