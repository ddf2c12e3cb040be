"""The OData `$filter` subset the Defender API emulator answers: comparisons, `in`, and/or/not, parentheses."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from huntvault.errors import EmulatorError
from huntvault.schema import parse_datetime

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<dt>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_/.]*))"
)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}


class ODataFilterError(EmulatorError):
    """An invalid $filter; the API answers 400 ODataError."""


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ODataFilterError(f"invalid $filter near position {pos}: {text[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "str":
            out.append(("lit", raw[1:-1].replace("''", "'")))
        elif kind == "dt":
            out.append(("lit", parse_datetime(raw)))
        elif kind == "num":
            out.append(("lit", float(raw) if "." in raw else int(raw)))
        elif kind == "punct":
            out.append((raw, raw))
        elif raw.lower() in ("true", "false"):
            out.append(("lit", raw.lower() == "true"))
        elif raw.lower() == "null":
            out.append(("lit", None))
        else:
            out.append(("word", raw))
    return out


def _value(record: dict[str, Any], name: str, like: Any) -> Any:
    value = record.get(name)
    if value is None:
        lower = name.lower()
        for key, v in record.items():
            if key.lower() == lower:
                value = v
                break
    if isinstance(like, datetime) and isinstance(value, str):
        try:
            return parse_datetime(value)
        except Exception:
            return None
    if isinstance(like, str) and isinstance(value, str):
        return value.lower()  # OData string comparison in the Defender API is case-insensitive (inferred)
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise ODataFilterError("unexpected end of $filter")
        self.i += 1
        return tok

    def word(self, *choices: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and str(tok[1]).lower() in choices:
            self.i += 1
            return True
        return False

    def parse(self) -> Predicate:
        pred = self.or_()
        if self.peek() is not None:
            raise ODataFilterError(f"unexpected {self.peek()[1]!r} in $filter")  # type: ignore[index]
        return pred

    def or_(self) -> Predicate:
        left = self.and_()
        while self.word("or"):
            right = self.and_()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def and_(self) -> Predicate:
        left = self.unary()
        while self.word("and"):
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.word("not"):
            inner = self.unary()
            return lambda r: not inner(r)
        tok = self.peek()
        if tok and tok[0] == "(":
            self.take()
            inner = self.or_()
            if self.take()[0] != ")":
                raise ODataFilterError("missing ) in $filter")
            return inner
        kind, name = self.take()
        if kind != "word":
            raise ODataFilterError(f"expected a property name in $filter, got {name!r}")
        op_kind, op = self.take()
        op = str(op).lower()
        if op == "in":
            if self.take()[0] != "(":
                raise ODataFilterError("expected ( after in")
            values: list[Any] = []
            while True:
                k, v = self.take()
                if k != "lit":
                    raise ODataFilterError(f"expected a literal in the in-list, got {v!r}")
                values.append(v.lower() if isinstance(v, str) else v)
                sep = self.take()[0]
                if sep == ")":
                    break
                if sep != ",":
                    raise ODataFilterError("expected , or ) in the in-list")
            like = values[0] if values else None
            wanted = set(values)
            return lambda r: _value(r, name, like) in wanted
        if op_kind != "word" or op not in _COMPARE:
            raise ODataFilterError(f"unknown operator {op!r} in $filter")
        k, lit = self.take()
        if k != "lit":
            raise ODataFilterError(f"expected a literal after {op}, got {lit!r}")
        cmp = _COMPARE[op]
        needle = lit.lower() if isinstance(lit, str) else lit
        return lambda r: cmp(_value(r, name, lit), needle)


def compile_filter(text: str | None) -> Predicate:
    """A predicate over API records for an OData `$filter` expression (None/empty: everything)."""
    if not text or not text.strip():
        return lambda r: True
    return _Parser(text).parse()
