"""The parser's cursor over the token list: looking ahead, accepting, errors with positions, nesting and budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TypeVar

from huntvault.errors import KqlLimitError, KqlSyntaxError
from huntvault.kql import ast as A
from huntvault.kql.limits import Budget
from huntvault.kql.syntax.literals import TYPE_NAMES
from huntvault.kql.syntax.tokens import Token, tokenize

Item = TypeVar("Item")

#: Parses one pipe operator; called with the cursor just past the operator's (dashed) name token `t`.
OperatorParser = Callable[["Cursor", Token], A.Node]

#: tokens consumed between two budget checks
_CHECK_MASK = 255


class _Deeper:
    """`with cursor.deeper():` around a construct that may nest (a sub-expression, a dynamic literal)."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor

    def __enter__(self) -> None:
        c = self.cursor
        c.depth += 1
        if c.depth > c.budget.bounds.max_nesting:
            raise c.limit(
                f"the query nests deeper than {c.budget.bounds.max_nesting} levels "
                "(parentheses, brackets, calls, sub-queries and unary operators inside one another)"
            )

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cursor.depth -= 1


class Cursor:
    """Position in the token list of one query, the pipe-operator parsers it knows, and its budget."""

    def __init__(
        self, text: str, operators: Mapping[str, OperatorParser], budget: Budget | None = None
    ) -> None:
        self.text = text
        self.budget = budget or Budget()
        if len(text) > self.budget.bounds.max_chars:
            raise KqlLimitError(
                f"the query is {len(text):,} characters long; the maximum is {self.budget.bounds.max_chars:,}"
            )
        self.toks = tokenize(text, self.budget)
        self.operators = operators
        self.i = 0
        self.depth = 0

    # ---------------------------------------------------------------- looking

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, value: str, kind: str = "punct") -> bool:
        return self.tok.kind == kind and self.tok.value == value

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "ident" and str(self.tok.value).lower() in words

    def at_end(self) -> bool:
        """At the end of an operator's arguments: `|`, `;`, `)` or the end of the query."""
        return self.at("|") or self.at(";") or self.at(")") or self.tok.kind == "eof"

    def adjacent(self, a: Token, b: Token) -> bool:
        return a.end == b.pos

    def at_identifier(self) -> bool:
        return self.tok.kind == "ident" or (
            self.at("[")
            and self.peek().kind == "string"
            and self.peek(2).kind == "punct"
            and self.peek(2).value == "]"
        )

    def dashed_word(self) -> str | None:
        """An operator name possibly written with dashes (mv-expand, project-away...), without consuming."""
        if self.tok.kind != "ident":
            return None
        word = str(self.tok.value)
        k = 1
        while (
            self.peek(k).kind == "punct"
            and self.peek(k).value == "-"
            and self.peek(k + 1).kind == "ident"
            and self.adjacent(self.peek(k - 1), self.peek(k))
            and self.adjacent(self.peek(k), self.peek(k + 1))
        ):
            word += "-" + str(self.peek(k + 1).value)
            k += 2
        return word

    # ---------------------------------------------------------------- moving

    def advance(self) -> Token:
        t = self.tok
        if t.kind != "eof":
            self.i += 1
            if not self.i & _CHECK_MASK:
                self.budget.check()
        return t

    def accept(self, value: str) -> Token | None:
        if self.at(value):
            return self.advance()
        return None

    def accept_word(self, *words: str) -> Token | None:
        if self.at_word(*words):
            return self.advance()
        return None

    def expect(self, value: str, what: str | None = None) -> Token:
        if not self.at(value):
            raise self.error(f"expected {what or repr(value)}, found {self.describe(self.tok)}")
        return self.advance()

    def expect_word(self, word: str) -> Token:
        if not self.at_word(word):
            raise self.error(f"expected '{word}', found {self.describe(self.tok)}")
        return self.advance()

    def consume_dashed(self, word: str) -> None:
        self.i += 1 + 2 * word.count("-")

    def delimited(
        self, open_: str, close: str, item: Callable[[], Item], what: str | None = None
    ) -> list[Item]:
        """`open_ item, item, ... close` (a trailing comma allowed), e.g. `( a:string, b:long )`."""
        self.expect(open_)
        out: list[Item] = []
        while not self.at(close):
            out.append(item())
            if not self.accept(","):
                break
        self.expect(close, what)
        return out

    # ---------------------------------------------------------------- small grammar pieces

    def identifier(self, what: str = "a name") -> str:
        t = self.tok
        if t.kind == "ident":
            self.advance()
            return str(t.value)
        if self.at_identifier():
            self.i += 3
            return str(self.toks[self.i - 2].value)
        raise self.error(f"expected {what}, found {self.describe(t)}")

    def type_name(self) -> str:
        t = self.tok
        word = self.identifier("a type name").lower()
        if word not in TYPE_NAMES:
            raise self.error(f"unknown type {word!r}", t)
        return TYPE_NAMES[word]

    def column_decl(self) -> A.ColumnDecl:
        t = self.tok
        name = self.identifier("a column name")
        self.expect(":", "':' and a type")
        return A.ColumnDecl(name, self.type_name(), pos=t.pos)

    def name_patterns(self) -> list[str]:
        """Column names or wildcard patterns (`Device*`), comma-separated."""
        out: list[str] = []
        while True:
            if self.at("*"):
                text = "*"
                self.advance()
            else:
                text = self.identifier("a column name")
            while (self.at("*") or self.tok.kind == "ident") and self.adjacent(
                self.toks[self.i - 1], self.tok
            ):
                text += str(self.advance().text)
            out.append(text)
            if not self.accept(","):
                return out

    # ---------------------------------------------------------------- errors, nesting

    @staticmethod
    def describe(t: Token) -> str:
        if t.kind == "eof":
            return "end of query"
        return repr(t.text)

    def error(self, message: str, tok: Token | None = None) -> KqlSyntaxError:
        t = tok or self.tok
        return KqlSyntaxError(message, t.line, t.column, self.text)

    def error_at(self, message: str, pos: int) -> KqlSyntaxError:
        """An error at a node's position (the token that starts at `pos`)."""
        for t in self.toks:
            if t.pos >= pos:
                return self.error(message, t)
        return self.error(message)

    def limit(self, message: str, tok: Token | None = None) -> KqlLimitError:
        t = tok or self.tok
        return KqlLimitError(f"{message}; see docs/kql.md, Limits", t.line, t.column, self.text)

    def deeper(self) -> _Deeper:
        return _Deeper(self)
