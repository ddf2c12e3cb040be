"""The expression half of the KQL parser: token helpers, scalar expressions, literals and tabular sources."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from huntvault.errors import KqlSyntaxError, NormaliseError
from huntvault.kql import ast as A
from huntvault.kql.tokens import TIMESPAN_UNITS, Token, tokenize
from huntvault.schema.normalise import parse_datetime

T = TypeVar("T")

TYPE_NAMES: dict[str, str] = {
    "string": "string",
    "long": "long",
    "int": "int",
    "int32": "int",
    "int64": "long",
    "real": "real",
    "double": "real",
    "float": "real",
    "bool": "bool",
    "boolean": "bool",
    "datetime": "datetime",
    "date": "datetime",
    "timespan": "timespan",
    "time": "timespan",
    "dynamic": "dynamic",
    "guid": "guid",
    "uniqueid": "guid",
    "decimal": "decimal",
}

#: binary string/comparison operators spelled as words (also with `!` and `_cs`).
WORD_OPS = {
    "has",
    "!has",
    "has_cs",
    "!has_cs",
    "hasprefix",
    "!hasprefix",
    "hasprefix_cs",
    "!hasprefix_cs",
    "hassuffix",
    "!hassuffix",
    "hassuffix_cs",
    "!hassuffix_cs",
    "contains",
    "!contains",
    "contains_cs",
    "!contains_cs",
    "startswith",
    "!startswith",
    "startswith_cs",
    "!startswith_cs",
    "endswith",
    "!endswith",
    "endswith_cs",
    "!endswith_cs",
    "like",
    "notlike",
    "likecs",
    "notlikecs",
}
LIST_OPS = {"in", "!in", "in~", "!in~", "has_any", "has_all", "!has_any", "!has_all", "has_any_cs"}
COMPARE_PUNCT = {"==", "!=", "<>", "=~", "!~", "<", "<=", ">", ">="}

JOIN_KINDS = {
    "innerunique",
    "inner",
    "leftouter",
    "rightouter",
    "fullouter",
    "leftanti",
    "anti",
    "leftantisemi",
    "rightanti",
    "rightantisemi",
    "leftsemi",
    "semi",
    "rightsemi",
    "outer",
}


class ExpressionParser:
    """Recursive descent over the token list for expressions and sources; errors carry line and column."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    def parse_pipeline(self, allow_implicit: bool = False) -> A.Node:
        """A tabular expression (defined by Parser; expressions nest pipelines inside parentheses)."""
        raise NotImplementedError

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def error(self, message: str, tok: Token | None = None) -> KqlSyntaxError:
        t = tok or self.tok
        return KqlSyntaxError(message, t.line, t.column, self.text)

    def advance(self) -> Token:
        t = self.tok
        if t.kind != "eof":
            self.i += 1
        return t

    def at(self, value: str, kind: str = "punct") -> bool:
        return self.tok.kind == kind and self.tok.value == value

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "ident" and str(self.tok.value).lower() in words

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

    def delimited(self, open_: str, close: str, item: Callable[[], T], what: str | None = None) -> list[T]:
        """`open_ item, item, ... close` (a trailing comma allowed), e.g. `( a:string, b:long )`."""
        self.expect(open_)
        out: list[T] = []
        while not self.at(close):
            out.append(item())
            if not self.accept(","):
                break
        self.expect(close, what)
        return out

    @staticmethod
    def describe(t: Token) -> str:
        if t.kind == "eof":
            return "end of query"
        return repr(t.text)

    def adjacent(self, a: Token, b: Token) -> bool:
        return a.end == b.pos

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

    def consume_dashed(self, word: str) -> None:
        self.i += 1 + 2 * word.count("-")

    def identifier(self, what: str = "a name") -> str:
        t = self.tok
        if t.kind == "ident":
            self.advance()
            return str(t.value)
        if (
            self.at("[")
            and self.peek().kind == "string"
            and self.peek(2).kind == "punct"
            and self.peek(2).value == "]"
        ):
            self.i += 3
            return str(self.toks[self.i - 2].value)
        raise self.error(f"expected {what}, found {self.describe(t)}")

    def at_identifier(self) -> bool:
        return self.tok.kind == "ident" or (
            self.at("[")
            and self.peek().kind == "string"
            and self.peek(2).kind == "punct"
            and self.peek(2).value == "]"
        )

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

    def options(self, names: set[str]) -> dict[str, A.Node]:
        """`name=value` pairs before an operator's body (kind=, hint.x=, isfuzzy=, withsource=...)."""
        out: dict[str, A.Node] = {}
        while self.tok.kind == "ident":
            word = str(self.tok.value)
            k = 1
            while (
                self.peek(k).kind == "punct"
                and self.peek(k).value == "."
                and self.peek(k + 1).kind == "ident"
            ):
                word += "." + str(self.peek(k + 1).value)
                k += 2
            low = word.lower()
            if not (self.peek(k).kind == "punct" and self.peek(k).value == "="):
                break
            if low not in names and not low.startswith("hint."):
                break
            self.i += k + 1
            if self.tok.kind == "ident":
                v = self.advance()
                out[low] = A.Name(str(v.value), pos=v.pos)
            else:
                out[low] = self.parse_primary()
        return out

    def assignments(self, stop: set[str] | None = None) -> list[A.Assign]:
        items = [self.assignment()]
        while self.accept(","):
            items.append(self.assignment())
        return items

    def assignment(self) -> A.Assign:
        t = self.tok
        if self.at("(") and self.tuple_assignment_ahead():
            self.advance()
            names = [self.identifier()]
            while self.accept(","):
                names.append(self.identifier())
            self.expect(")")
            self.expect("=")
            return A.Assign(names, self.parse_expr(), pos=t.pos)
        if self.at_identifier():
            save = self.i
            name = self.identifier()
            if self.at("="):
                self.advance()
                return A.Assign([name], self.parse_expr(), pos=t.pos)
            self.i = save
        return A.Assign(None, self.parse_expr(), pos=t.pos)

    def tuple_assignment_ahead(self) -> bool:
        k = self.i + 1
        while k < len(self.toks):
            t = self.toks[k]
            if t.kind == "punct" and t.value == ")":
                nxt = self.toks[k + 1]
                return nxt.kind == "punct" and nxt.value == "="
            if not (t.kind == "ident" or (t.kind == "punct" and t.value == ",")):
                return False
            k += 1
        return False

    def name_patterns(self) -> list[str]:
        out: list[str] = []
        while True:
            start = self.tok
            if self.at("*"):
                text = "*"
                self.advance()
            else:
                text = self.identifier("a column name")
            while (self.at("*") or self.tok.kind == "ident") and self.adjacent(
                self.toks[self.i - 1], self.tok
            ):
                text += str(self.advance().text)
            if not text:
                raise self.error("expected a column name", start)
            out.append(text)
            if not self.accept(","):
                return out

    def line_col(self, pos: int) -> tuple[int, int]:
        for tk in self.toks:
            if tk.pos == pos:
                return tk.line, tk.column
        return 0, 0

    def union_tables(self) -> list[A.Node]:
        tables = []
        while True:
            s = self.tok
            if self.at("("):
                self.advance()
                inner = self.parse_pipeline()
                self.expect(")")
                tables.append(inner)
            else:
                name = self.identifier("a table name")
                while (self.at("*") or self.tok.kind == "ident") and self.adjacent(
                    self.toks[self.i - 1], self.tok
                ):
                    name += str(self.advance().text)
                node: A.Node = A.Name(name, pos=s.pos)
                if self.at("(") and self.adjacent(self.toks[self.i - 1], self.tok):
                    node = self.call_args(name, s)
                tables.append(node)
            if not self.accept(","):
                return tables

    def parse_expr(self) -> A.Node:
        return self.parse_or()

    def parse_or(self) -> A.Node:
        left = self.parse_and()
        while self.at_word("or"):
            t = self.advance()
            left = A.Binary("or", left, self.parse_and(), pos=t.pos)
        return left

    def parse_and(self) -> A.Node:
        left = self.parse_not()
        while self.at_word("and"):
            t = self.advance()
            left = A.Binary("and", left, self.parse_not(), pos=t.pos)
        return left

    def parse_not(self) -> A.Node:
        return self.parse_comparison()

    def bang_word(self) -> str | None:
        """`!has`, `!contains`, `!in~`... written as `!` followed by an adjacent word."""
        if self.at("!") and self.peek().kind == "ident" and self.adjacent(self.tok, self.peek()):
            return "!" + str(self.peek().value).lower()
        return None

    def parse_comparison(self) -> A.Node:
        left = self.parse_additive()
        while True:
            t = self.tok
            if t.kind == "punct" and t.value in COMPARE_PUNCT:
                self.advance()
                op = "!=" if t.value == "<>" else str(t.value)
                left = A.Binary(op, left, self.parse_additive(), pos=t.pos)
                continue
            word: str | None = None
            width = 1
            if t.kind == "ident":
                word = str(t.value).lower()
            else:
                word = self.bang_word()
                width = 2
            if word is None:
                return left
            # `in~` / `!in~`
            nxt = self.peek(width)
            if (
                word in ("in", "!in")
                and nxt.kind == "punct"
                and nxt.value == "~"
                and self.adjacent(self.peek(width - 1), nxt)
            ):
                word += "~"
                width += 1
            if word in WORD_OPS:
                self.i += width
                left = A.Binary(word, left, self.parse_additive(), pos=t.pos)
            elif word in LIST_OPS:
                self.i += width
                left = A.ListOp(word, left, self.paren_list(), pos=t.pos)
            elif word in ("between", "!between"):
                self.i += width
                self.expect("(")
                lo = self.parse_additive()
                self.expect("..", "'..' between the bounds")
                hi = self.parse_additive()
                self.expect(")")
                left = A.Between(left, lo, hi, word.startswith("!"), pos=t.pos)
            elif word in ("matches", "!matches"):
                self.i += width
                self.expect_word("regex")
                left = A.Binary(
                    "matches regex" if word == "matches" else "!matches regex",
                    left,
                    self.parse_additive(),
                    pos=t.pos,
                )
            else:
                return left

    def paren_list(self) -> list[A.Node]:
        if not self.at("("):
            # `x in dynamic([..])` / `has_any mylist` without parentheses
            return [self.parse_additive()]
        return self.delimited("(", ")", self.parse_pipeline, "')' closing the list")

    def parse_additive(self) -> A.Node:
        left = self.parse_multiplicative()
        while self.tok.kind == "punct" and self.tok.value in ("+", "-"):
            t = self.advance()
            left = A.Binary(str(t.value), left, self.parse_multiplicative(), pos=t.pos)
        return left

    def parse_multiplicative(self) -> A.Node:
        left = self.parse_unary()
        while self.tok.kind == "punct" and self.tok.value in ("*", "/", "%"):
            t = self.advance()
            left = A.Binary(str(t.value), left, self.parse_unary(), pos=t.pos)
        return left

    def parse_unary(self) -> A.Node:
        t = self.tok
        if t.kind == "punct" and t.value in ("-", "+"):
            self.advance()
            operand = self.parse_unary()
            if (
                t.value == "-"
                and isinstance(operand, A.Literal)
                and operand.type in ("long", "real", "timespan")
            ):
                return A.Literal(-operand.value, operand.type, pos=t.pos)
            return A.Unary(str(t.value), operand, pos=t.pos)
        return self.parse_postfix()

    def parse_postfix(self) -> A.Node:
        node = self.parse_primary()
        while True:
            if self.at(".") and self.peek().kind == "ident":
                self.advance()
                name_tok = self.advance()
                node = A.Member(node, str(name_tok.value), pos=node.pos)
            elif self.at(".") and self.peek().kind == "punct" and self.peek().value == "[":
                self.advance()
            elif self.at("[") and not self.at_whitespace_bracket():
                self.advance()
                idx = self.parse_expr()
                self.expect("]")
                node = A.Index(node, idx, pos=node.pos)
            else:
                return node

    def at_whitespace_bracket(self) -> bool:
        return False

    def call_args(self, name: str, start: Token) -> A.Call:
        self.expect("(")
        args: list[A.Node] = []
        named: dict[str, A.Node] = {}
        while not self.at(")"):
            if self.at("*") and self.peek().kind == "punct" and self.peek().value in (",", ")"):
                s = self.advance()
                args.append(A.Star(pos=s.pos))
            elif (
                self.tok.kind == "ident"
                and self.peek().kind == "punct"
                and self.peek().value == "="
                and not (self.peek(2).kind == "punct" and self.peek(2).value == "=")
            ):
                key = str(self.advance().value)
                self.advance()
                named[key] = self.parse_pipeline()
            else:
                args.append(self.parse_pipeline())
            if not self.accept(","):
                break
        self.expect(")", "')' closing the argument list")
        return A.Call(name, args, named, pos=start.pos)

    def parse_primary(self) -> A.Node:
        t = self.tok
        if t.kind == "string":
            self.advance()
            value = str(t.value)
            while self.tok.kind == "string":  # adjacent literals concatenate
                value += str(self.advance().value)
            return A.Literal(value, "string", pos=t.pos)
        if t.kind == "number":
            self.advance()
            return A.Literal(t.value, "long" if isinstance(t.value, int) else "real", pos=t.pos)
        if t.kind == "timespan":
            self.advance()
            return A.Literal(t.value, "timespan", pos=t.pos)
        if self.at("("):
            self.advance()
            inner = self.parse_pipeline()
            if self.at(","):
                # a parenthesised list, only meaningful as an argument list; keep as a call to a tuple
                items = [inner]
                while self.accept(","):
                    items.append(self.parse_pipeline())
                self.expect(")")
                return A.Call("__tuple", items, pos=t.pos)
            self.expect(")", "')'")
            return inner
        if self.at("[") and self.peek().kind == "string":
            self.i += 1
            name = str(self.advance().value)
            self.expect("]")
            return A.Name(name, pos=t.pos)
        if self.at("*"):
            self.advance()
            return A.Star(pos=t.pos)
        if t.kind == "ident":
            return self.parse_word(t)
        raise self.error(f"expected an expression, found {self.describe(t)}")

    def parse_word(self, t: Token) -> A.Node:
        word = str(t.value)
        low = word.lower()
        nxt = self.peek()
        is_call = nxt.kind == "punct" and nxt.value == "("
        if low in ("true", "false") and not is_call:
            self.advance()
            return A.Literal(low == "true", "bool", pos=t.pos)
        if low == "null" and not is_call:
            self.advance()
            return A.Literal(None, "null", pos=t.pos)
        sources: dict[str, Callable[[Token], A.Node]] = {
            "datatable": self.src_datatable,
            "externaldata": self.src_externaldata,
            "print": self.src_print,
            "union": self.src_union,
            "find": self.src_find,
            "search": self.src_search,
        }
        if low in ("datatable", "externaldata") and (is_call or self.peek().kind == "ident"):
            return sources[low](t)
        if low == "print" and not is_call:
            return self.src_print(t)
        if low == "union" and not (nxt.kind == "punct" and nxt.value in ("|", ")", ",", ";")):
            return self.src_union(t)
        if (
            low == "range"
            and nxt.kind == "ident"
            and self.peek(2).kind == "ident"
            and str(self.peek(2).value).lower() == "from"
        ):
            return self.src_range(t)
        if (
            low in ("find", "search")
            and not is_call
            and not (nxt.kind == "punct" and nxt.value in ("|", ")", ",", ";", "="))
            and nxt.kind != "eof"
        ):
            return sources[low](t)
        if low == "dynamic" and is_call:
            self.advance()
            self.advance()
            value = self.json_value()
            self.expect(")")
            return A.Literal(value, "dynamic", pos=t.pos)
        if low in ("datetime", "date", "timespan", "time", "guid") and is_call:
            return self.typed_literal(low, t)
        if low == "typeof" and is_call:
            self.advance()
            self.advance()
            ty = self.type_name()
            self.expect(")")
            return A.TypeOf(ty, pos=t.pos)
        self.advance()
        if is_call and self.adjacent_or_space_call():
            return self.call_args(word, t)
        return A.Name(word, pos=t.pos)

    def adjacent_or_space_call(self) -> bool:
        return True

    def typed_literal(self, low: str, t: Token) -> A.Node:
        self.advance()
        self.expect("(")
        if self.tok.kind == "raw" or self.tok.kind == "string":
            raw = str(self.advance().value)
        elif self.at(")"):
            raw = ""
        else:
            raise self.error(f"unexpected {self.describe(self.tok)} in {low}(...)")
        self.expect(")", f"')' closing {low}(...)")
        kind = {"date": "datetime", "time": "timespan"}.get(low, low)
        if raw.lower() == "null" or raw == "":
            return A.Literal(None, kind, pos=t.pos)
        if kind == "timespan":
            return A.Literal(parse_timespan_text(raw, self, t), "timespan", pos=t.pos)
        if kind == "datetime":
            return A.Literal(parse_datetime_text(raw, self, t), "datetime", pos=t.pos)
        return A.Literal(raw, kind, pos=t.pos)

    def json_value(self) -> Any:
        t = self.tok
        if self.at("["):
            return self.delimited("[", "]", self.json_value)
        if self.accept("{"):
            obj: dict[str, Any] = {}
            while not self.at("}"):
                kt = self.advance()
                if kt.kind not in ("string", "ident"):
                    raise self.error("expected a property name in dynamic({...})", kt)
                self.expect(":")
                obj[str(kt.value)] = self.json_value()
                if not self.accept(","):
                    break
            self.expect("}")
            return obj
        if t.kind == "string":
            self.advance()
            return t.value
        if t.kind == "punct" and t.value == "-" and self.peek().kind == "number":
            self.advance()
            return -self.advance().value  # type: ignore[operator]
        if t.kind == "number":
            self.advance()
            return t.value
        if t.kind == "timespan":
            self.advance()
            return t.value
        if t.kind == "ident":
            low = str(t.value).lower()
            if low in ("true", "false"):
                self.advance()
                return low == "true"
            if low == "null":
                self.advance()
                return None
            if (
                low in ("datetime", "timespan", "time", "date", "guid")
                and self.peek().kind == "punct"
                and self.peek().value == "("
            ):
                lit = self.typed_literal(low, t)
                assert isinstance(lit, A.Literal)
                return lit.value
        raise self.error(f"unexpected {self.describe(t)} inside dynamic(...)")

    def src_datatable(self, t: Token) -> A.Node:
        self.advance()
        self.options(set())
        cols = self.delimited("(", ")", self.column_decl)
        values = self.delimited("[", "]", self.parse_expr)
        return A.Datatable(cols, values, pos=t.pos)

    def src_externaldata(self, t: Token) -> A.Node:
        self.advance()
        self.options(set())
        cols = self.delimited("(", ")", self.column_decl)
        uris = self.delimited("[", "]", self.parse_expr)
        opts: dict[str, A.Node] = {}
        if self.accept_word("with"):
            self.expect("(")
            while not self.at(")"):
                key = self.identifier("an option name")
                self.expect("=")
                opts[key.lower()] = self.parse_expr()
                if not self.accept(","):
                    break
            self.expect(")")
        return A.Externaldata(cols, uris, opts, pos=t.pos)

    def src_print(self, t: Token) -> A.Node:
        self.advance()
        items: list[tuple[str | None, A.Node]] = []
        if not (self.at("|") or self.at(";") or self.tok.kind == "eof"):
            for a in self.assignments():
                items.append((a.names[0] if a.names else None, a.expr))
        return A.PrintSource(items, pos=t.pos)

    def src_range(self, t: Token) -> A.Node:
        self.advance()
        col = self.identifier()
        self.expect_word("from")
        start = self.parse_expr()
        self.expect_word("to")
        stop = self.parse_expr()
        self.expect_word("step")
        step = self.parse_expr()
        return A.RangeSource(col, start, stop, step, pos=t.pos)

    def src_union(self, t: Token) -> A.Node:
        self.advance()
        opts = self.options({"kind", "withsource", "isfuzzy"})
        return A.UnionSource(self.union_tables(), opts, pos=t.pos)

    def src_find(self, t: Token) -> A.Node:
        self.advance()
        opts = self.options({"withsource", "datascope", "database"})
        tables: list[A.Node] = []
        if self.accept_word("in"):
            self.expect("(")
            tables = self.union_tables()
            self.expect(")")
        self.expect_word("where")
        pred = self.parse_expr()
        project: list[str] | None = None
        if self.accept_word("project"):
            project = self.name_patterns()
        elif self.dashed_word() == "project-smart":
            self.consume_dashed("project-smart")
        return A.FindSource(tables, pred, project, opts, pos=t.pos)

    def src_search(self, t: Token) -> A.Node:
        self.advance()
        opts = self.options({"kind", "withsource"})
        tables: list[A.Node] = []
        if self.accept_word("in"):
            self.expect("(")
            tables = self.union_tables()
            self.expect(")")
        return A.SearchSource(tables, self.parse_expr(), opts, pos=t.pos)


_TS_CLOCK = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$")


def parse_timespan_text(raw: str, parser: ExpressionParser | None = None, tok: Token | None = None) -> float:
    """`1d`, `1.5h`, `10`, `1.02:03:04.5`, `02:03` -> microseconds."""
    text = raw.strip()
    m = _TS_CLOCK.match(text)
    if m:
        sign, days, hours, minutes, seconds, frac = m.groups()
        whole = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60_000_000 + int(
            seconds or 0
        ) * 1_000_000
        micros = whole + int((frac or "0").ljust(7, "0")) / 10
        return -micros if sign else float(micros)
    m2 = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)", text)
    if m2:
        unit = m2.group(2).lower() or "d"
        if unit in TIMESPAN_UNITS:
            return float(m2.group(1)) * TIMESPAN_UNITS[unit]
    if parser is not None and tok is not None:
        raise parser.error(f"invalid timespan literal {raw!r}", tok)
    raise KqlSyntaxError(f"invalid timespan literal {raw!r}")


def parse_datetime_text(
    raw: str, parser: ExpressionParser | None = None, tok: Token | None = None
) -> datetime:
    """A datetime literal's text (ISO 8601 and the common variants) as an aware UTC datetime."""
    try:
        return parse_datetime(raw)
    except NormaliseError:
        pass
    for fmt in (
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        "%m/%d/%Y",
        "%d %b %Y %H:%M:%S",
        "%a, %d %b %Y %H:%M:%S GMT",
    ):
        try:
            return datetime.strptime(raw.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    if parser is not None and tok is not None:
        raise parser.error(f"invalid datetime literal {raw!r}", tok)
    raise KqlSyntaxError(f"invalid datetime literal {raw!r}")
