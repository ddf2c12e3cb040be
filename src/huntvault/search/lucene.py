"""Full Lucene syntax (`queryType=full`): fields, AND/OR/NOT && || !, + -, groups, ~ fuzzy/proximity, ^, /regex/, wildcards."""

from __future__ import annotations

import math
from dataclasses import dataclass

from huntvault.search.ast import Bool, Boost, MatchAll, Node, Not, Text
from huntvault.search.bounds import check_depth
from huntvault.search.simple import parse_error, scan_phrase

MAX_NUMBER = 2**31 - 1  # the largest ~ slop or distance
TERM_STOP = set(' \t\r\n()"^~:[]{}')


@dataclass
class _Tok:
    kind: (
        str  # term | phrase | regex | and | or | not | plus | lparen | rparen | colon | caret | tilde | range
    )
    text: str
    pos: int
    wild: bool = False  # the term had an unescaped * or ?
    number: str = ""  # argument of ^ or ~


#: one-character tokens of the full Lucene syntax (`&&`, `||`, `^n`, `~n`, phrases, regexes and terms are scanned)
PUNCTUATION: dict[str, str] = {
    "(": "lparen",
    ")": "rparen",
    ":": "colon",
    **dict.fromkeys("[]{}", "range"),
    "+": "plus",
    **dict.fromkeys("-!", "not"),
}


def _lex(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        if c in PUNCTUATION:
            toks.append(_Tok(PUNCTUATION[c], c, i))
            i += 1
        elif c in "^~":
            j = i + 1
            while j < n and (q[j].isdigit() or q[j] == "."):
                j += 1
            toks.append(_Tok("caret" if c == "^" else "tilde", c, i, number=q[i + 1 : j]))
            i = j
        elif q.startswith("&&", i):
            toks.append(_Tok("and", "&&", i))
            i += 2
        elif q.startswith("||", i):
            toks.append(_Tok("or", "||", i))
            i += 2
        elif c == '"':
            phrase, end = scan_phrase(q, i)
            toks.append(_Tok("phrase", phrase, i))
            i = end
        elif c == "/":
            j, buf = i + 1, []
            while j < n and q[j] != "/":
                if q[j] == "\\" and j + 1 < n and q[j + 1] == "/":
                    j += 1
                buf.append(q[j])
                j += 1
            if j >= n:
                raise parse_error(q, i, "unterminated regular expression")
            toks.append(_Tok("regex", "".join(buf), i))
            i = j + 1
        else:
            j, buf, wild = i, [], False
            while j < n and q[j] not in TERM_STOP:
                ch = q[j]
                if ch == "\\":
                    if j + 1 >= n:
                        raise parse_error(q, j, "a trailing backslash escapes nothing")
                    buf.append(q[j + 1])
                    j += 2
                    continue
                if ch in "*?":
                    wild = True
                buf.append(ch)
                j += 1
            word = "".join(buf)
            if not wild and word in ("AND", "OR", "NOT") and q[i:j] == word:
                toks.append(_Tok(word.lower(), word, i))
            else:
                toks.append(_Tok("term", word, i, wild=wild))
            i = j
    return toks


@dataclass
class _Neg:
    node: Node


@dataclass
class _Req:
    node: Node


_Item = Node | _Neg | _Req


class _Parser:
    def __init__(self, query: str, mode: str) -> None:
        self.q = query
        self.toks = _lex(query)
        self.i = 0
        self.default_and = mode == "all"
        self.depth = 0  # open groups and unary operators (bounded before recursing)

    def peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self, kind: str) -> _Tok | None:
        tok = self.peek()
        if tok is not None and tok.kind == kind:
            self.i += 1
            return tok
        return None

    def parse(self) -> Node:
        if not self.toks:
            return MatchAll()
        item = self.or_expr()
        tok = self.peek()
        if tok is not None:
            raise parse_error(self.q, tok.pos, f"unexpected '{tok.text}'")
        if isinstance(item, _Neg) or (
            isinstance(item, Bool) and item.must_not and not item.must and not item.should
        ):
            raise parse_error(
                self.q, 0, "a query made only of negations is not supported; add a positive clause"
            )
        return _node(item)

    def or_expr(self) -> _Item:
        items = [self.and_expr()]
        while self.take("or"):
            items.append(self.and_expr())
        if len(items) == 1:
            return items[0]
        return Bool(should=[_or_operand(x) for x in items])

    def and_expr(self) -> _Item:
        items = [self.seq()]
        while self.take("and"):
            items.append(self.seq())
        if len(items) == 1:
            return items[0]
        return _bool(items, default_and=True)

    def seq(self) -> _Item:
        items = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind not in ("or", "and", "rparen"):
            items.append(self.unary())
        if len(items) == 1:
            return items[0]
        return _bool(items, default_and=self.default_and)

    def unary(self) -> _Item:
        tok = self.peek()
        if tok is None:
            raise parse_error(self.q, len(self.q), "the query ends where a term was expected")
        if tok.kind in ("not", "plus"):
            self.i += 1
            self.depth += 1
            check_depth(self.depth, "search")
            inner = _node(self.unary())
            self.depth -= 1
            return _Neg(inner) if tok.kind == "not" else _Req(inner)
        return self.primary()

    def primary(self, field: str | None = None) -> Node:
        tok = self.peek()
        if tok is None:
            raise parse_error(self.q, len(self.q), "the query ends where a term was expected")
        self.i += 1
        if tok.kind == "term" and self.peek() is not None and self.peek().kind == "colon":  # type: ignore[union-attr]
            if field is not None:
                raise parse_error(self.q, tok.pos, "a field name cannot follow another field name")
            self.i += 1
            if tok.wild or not tok.text:
                raise parse_error(self.q, tok.pos, f"invalid field name '{tok.text}'")
            return self.primary(field=tok.text)
        node: Node
        if tok.kind == "lparen":
            self.depth += 1
            check_depth(self.depth, "search")
            inner = self.or_expr()
            self.depth -= 1
            if not self.take("rparen"):
                raise parse_error(self.q, tok.pos, "unbalanced '('")
            node = _with_field(_node(inner), field)
        elif tok.kind == "phrase":
            node = Text(tok.text, "phrase", field)
            if (t := self.take("tilde")) is not None:
                node.slop = _int(self.q, t, default=0)
        elif tok.kind == "regex":
            node = Text(tok.text, "regex", field)
        elif tok.kind == "term":
            node = self._term(tok, field)
        elif tok.kind == "range":
            raise parse_error(self.q, tok.pos, "range queries are not supported in search; use $filter")
        else:
            raise parse_error(self.q, tok.pos, f"unexpected '{tok.text}'")
        if (t := self.take("caret")) is not None:
            try:
                factor = float(t.number)
                if not math.isfinite(factor):
                    raise ValueError
                node = Boost(node, factor)
            except ValueError:
                raise parse_error(self.q, t.pos, "'^' must be followed by a number") from None
        return node

    def _term(self, tok: _Tok, field: str | None) -> Node:
        text = tok.text
        if text == "*":
            return MatchAll()
        if (t := self.take("tilde")) is not None:
            if tok.wild:
                raise parse_error(self.q, t.pos, "fuzzy search cannot be combined with wildcards")
            return Text(text, "fuzzy", field, distance=min(_int(self.q, t, default=2), 2))
        if tok.wild:
            if text[0] in "*?":
                raise parse_error(
                    self.q, tok.pos, "a wildcard cannot start a term; use a regular expression /.*x/"
                )
            if text.endswith("*") and "*" not in text[:-1] and "?" not in text:
                return Text(text[:-1], "prefix", field)
            return Text(text.lower(), "wildcard", field)
        return Text(text, "term", field)


def _int(q: str, tok: _Tok, default: int) -> int:
    if not tok.number:
        return default
    try:
        value = int(float(tok.number))
        if value > MAX_NUMBER:
            raise ValueError
        return value
    except (ValueError, OverflowError):
        raise parse_error(q, tok.pos, f"'{tok.text}' must be followed by a number") from None


def _with_field(node: Node, field: str | None) -> Node:
    if field is None:
        return node
    if isinstance(node, Text):
        if node.field is None:
            node.field = field
        return node
    if isinstance(node, Bool):
        for group in (node.must, node.should, node.must_not):
            group[:] = [_with_field(n, field) for n in group]
        return node
    if isinstance(node, (Not, Boost)):
        node.node = _with_field(node.node, field)
    return node


def _node(item: _Item) -> Node:
    if isinstance(item, _Neg):
        return Not(item.node)
    if isinstance(item, _Req):
        return item.node
    return item


def _or_operand(item: _Item) -> Node:
    return Not(item.node) if isinstance(item, _Neg) else _node(item)


def _bool(items: list[_Item], default_and: bool) -> Bool:
    out = Bool()
    for item in items:
        if isinstance(item, _Neg):
            out.must_not.append(item.node)  # NOT is always ANDed onto the query
        elif isinstance(item, _Req) or default_and:
            out.must.append(_node(item))
        else:
            out.should.append(item)
    return out


def parse_lucene(query: str, search_mode: str = "any") -> Node:
    """Parse full Lucene syntax; NOT is always a required exclusion whatever the searchMode."""
    return _Parser(query, search_mode).parse()
