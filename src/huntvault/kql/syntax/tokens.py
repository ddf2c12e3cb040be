"""The KQL tokenizer: source text into position-aware tokens (strings, numbers, timespans, names, punctuation)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from huntvault.errors import KqlSyntaxError
from huntvault.kql.limits import Budget

#: Timespan unit suffix -> microseconds per unit (datetime precision here is 1 µs; 1 tick = 0.1 µs).
TIMESPAN_UNITS: dict[str, float] = {
    "d": 86_400_000_000,
    "day": 86_400_000_000,
    "days": 86_400_000_000,
    "h": 3_600_000_000,
    "hr": 3_600_000_000,
    "hrs": 3_600_000_000,
    "hour": 3_600_000_000,
    "hours": 3_600_000_000,
    "m": 60_000_000,
    "min": 60_000_000,
    "minute": 60_000_000,
    "minutes": 60_000_000,
    "s": 1_000_000,
    "sec": 1_000_000,
    "second": 1_000_000,
    "seconds": 1_000_000,
    "ms": 1_000,
    "milli": 1_000,
    "millis": 1_000,
    "millisec": 1_000,
    "millisecond": 1_000,
    "milliseconds": 1_000,
    "micro": 1,
    "micros": 1,
    "microsec": 1,
    "microsecond": 1,
    "microseconds": 1,
    "tick": 0.1,
    "ticks": 0.1,
}

# Longest first, so that `==` wins over `=`.
_PUNCT = (
    "..",
    "==",
    "!=",
    "<>",
    "=~",
    "!~",
    "<=",
    ">=",
    "=>",
    "|",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ".",
    ":",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<",
    ">",
    "=",
    "!",
    "~",
    "?",
    "@",
)

_NUMBER = re.compile(
    r"(0[xX][0-9a-fA-F]+)|([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)", re.ASCII
)
_RAW_LITERALS = {"datetime", "date", "time", "timespan", "guid", "uuid", "uniqueid"}
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_]*")
_IDENT_START = re.compile(r"[A-Za-z_$]")
_DIGITS = frozenset("0123456789")
#: the largest timespan a long of microseconds holds
_MAX_MICROS = 2.0**63
#: tokens read between two budget checks
_CHECK_EVERY = 4096


@dataclass(frozen=True)
class Token:
    """One token: kind is ident, string, number, timespan, punct or eof; pos/end are offsets into the text."""

    kind: str
    value: object
    text: str
    pos: int
    end: int
    line: int
    column: int


class Lexer:
    """Turns query text into a list of tokens; raises KqlSyntaxError with position on bad input."""

    def __init__(self, text: str, budget: Budget | None = None) -> None:
        self.text = text
        self.budget = budget
        self.i = 0
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def where(self, pos: int) -> tuple[int, int]:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, pos - self.line_starts[lo] + 1

    def error(self, message: str, pos: int) -> KqlSyntaxError:
        line, col = self.where(pos)
        return KqlSyntaxError(message, line, col, self.text)

    def token(self, kind: str, value: object, start: int) -> Token:
        line, col = self.where(start)
        return Token(kind, value, self.text[start : self.i], start, self.i, line, col)

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        text = self.text
        n = len(text)
        while True:
            if self.budget is not None and len(out) % _CHECK_EVERY == 0:
                self.budget.check()
            self.skip_space()
            if self.i >= n:
                out.append(self.token("eof", None, self.i))
                return out
            start = self.i
            ch = text[start]
            if ch in "'\"":
                out.append(self.token("string", self.read_quoted(ch, verbatim=False), start))
            elif ch == "`" and text.startswith("```", start):
                close = text.find("```", start + 3)
                if close < 0:
                    raise self.error("unterminated ``` string", start)
                self.i = close + 3
                out.append(self.token("string", text[start + 3 : close], start))
            elif ch in "@hH" and start + 1 < n and text[start + 1] in "'\"":
                self.i += 1
                out.append(self.token("string", self.read_quoted(text[start + 1], verbatim=ch == "@"), start))
            elif (
                ch in "hH" and text.startswith("@", start + 1) and start + 2 < n and text[start + 2] in "'\""
            ):
                self.i += 2
                out.append(self.token("string", self.read_quoted(text[start + 2], verbatim=True), start))
            elif ch in _DIGITS or (ch == "." and start + 1 < n and text[start + 1] in _DIGITS):
                out.append(self.read_number(start))
            elif _IDENT_START.match(ch):
                m = _IDENT.match(text, start)
                assert m is not None  # the first character matched
                self.i = m.end()
                out.append(self.token("ident", m.group(0), start))
                if m.group(0).lower() in _RAW_LITERALS:
                    self.raw_literal(out)
            else:
                for p in _PUNCT:
                    if text.startswith(p, start):
                        self.i += len(p)
                        out.append(self.token("punct", p, start))
                        break
                else:
                    if ch.isalpha():
                        raise self.error(
                            f"unexpected letter {ch!r} outside a string (names are ASCII; quote text as a string)",
                            start,
                        )
                    raise self.error(f"unexpected character {ch!r}", start)

    def raw_literal(self, out: list[Token]) -> None:
        """`datetime(2020-01-01 10:00)`, `time(1.02:03:04)`: the text inside the parentheses is one raw token."""
        save = self.i
        self.skip_space()
        if not self.text.startswith("(", self.i):
            self.i = save
            return
        open_at = self.i
        self.i += 1
        out.append(self.token("punct", "(", open_at))
        self.skip_space()
        if self.i < len(self.text) and self.text[self.i] in "'\"":
            return  # a quoted argument lexes normally
        close = self.text.find(")", self.i)
        if close < 0:
            raise self.error("unterminated literal: missing ')'", open_at)
        start = self.i
        self.i = close
        out.append(self.token("raw", self.text[start:close].strip(), start))

    def skip_space(self) -> None:
        text, n = self.text, len(self.text)
        while self.i < n:
            ch = text[self.i]
            if ch.isspace() or ch in "\ufeff\u200b\u200c\u200d\u2060":
                self.i += 1
            elif text.startswith("//", self.i):
                nl = text.find("\n", self.i)
                self.i = n if nl < 0 else nl
            else:
                return

    def read_quoted(self, quote: str, verbatim: bool) -> str:
        text, n = self.text, len(self.text)
        start = self.i
        self.i += 1
        parts: list[str] = []
        while True:
            if self.i >= n:
                raise self.error("unterminated string literal", start)
            ch = text[self.i]
            if ch == quote:
                if verbatim and text.startswith(quote * 2, self.i):
                    parts.append(quote)
                    self.i += 2
                    continue
                self.i += 1
                return "".join(parts)
            if ch == "\n" and not verbatim:
                raise self.error("unterminated string literal (a line break inside quotes)", start)
            if ch == "\\" and not verbatim:
                self.i += 1
                if self.i >= n:
                    raise self.error("unterminated string literal", start)
                esc = text[self.i]
                simple = {
                    "n": "\n",
                    "t": "\t",
                    "r": "\r",
                    "\\": "\\",
                    "'": "'",
                    '"': '"',
                    "0": "\0",
                    "a": "\a",
                    "b": "\b",
                    "f": "\f",
                    "v": "\v",
                    "/": "/",
                }
                if esc in simple:
                    parts.append(simple[esc])
                    self.i += 1
                elif esc == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[self.i + 1 : self.i + 5]):
                    parts.append(chr(int(text[self.i + 1 : self.i + 5], 16)))
                    self.i += 5
                elif esc == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[self.i + 1 : self.i + 3]):
                    parts.append(chr(int(text[self.i + 1 : self.i + 3], 16)))
                    self.i += 3
                else:
                    # Kusto rejects unknown escapes; keeping both characters is friendlier for regex text
                    parts.append("\\" + esc)
                    self.i += 1
                continue
            parts.append(ch)
            self.i += 1

    def read_number(self, start: int) -> Token:
        m = _NUMBER.match(self.text, start)
        assert m is not None  # the caller saw a digit
        self.i = m.end()
        raw = m.group(0)
        u = _IDENT.match(self.text, self.i)
        if u and not u.group(0).startswith("$"):
            unit = u.group(0)
            if unit.lower() not in TIMESPAN_UNITS:
                if m.group(1) is None and re.fullmatch(r"[eE]\d*", unit):
                    raise self.error(f"malformed number {raw + unit!r}", start)
                if raw.isascii() and raw.isdigit() and ("_" in unit or any(ch.isdigit() for ch in unit)):
                    # a name that starts with digits (`5h_MovingAvg` in the series_fir page): not a number
                    self.i = u.end()
                    return self.token("ident", raw + unit, start)
                raise self.error(f"unknown timespan unit {unit!r} after {raw}", self.i)
            self.i = u.end()
            micros = float(raw) * TIMESPAN_UNITS[unit.lower()]
            if not abs(micros) < _MAX_MICROS:
                raise self.error(f"timespan {raw + unit!r} is out of range", start)
            return self.token("timespan", round(micros, 1), start)
        if m.group(1):
            return self.token("number", int(raw, 16), start)
        if raw.isascii() and raw.isdigit():
            return self.token("number", int(raw), start)
        return self.token("number", float(raw), start)


def tokenize(text: str, budget: Budget | None = None) -> list[Token]:
    """Tokens of `text`, ending with an eof token."""
    return Lexer(text, budget).tokens()
