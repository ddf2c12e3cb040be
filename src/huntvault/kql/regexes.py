"""Kusto regex syntax (regex.md) respelled in the syntax RE2 (DuckDB) and Java (Spark) both read."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

#: a set of code points: sorted, disjoint, non-adjacent inclusive ranges
Ranges = tuple[tuple[int, int], ...]

_MAX = sys.maxunicode

#: flags both backends read; Kusto's `u` (Unicode, on by default) and `R` (CRLF line ends) are dropped,
#: `x` (verbose: whitespace and `#` comments ignored) is applied here
_KEPT_FLAGS = "imsU"
_FLAGS = re.compile(r"\(\?([A-Za-z]*)(?:-([A-Za-z]*))?([:)])")
_NAMED = re.compile(r"\(\?P?<[A-Za-z_][\w.\[\]]*>")
_CODE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|[uUx]\{([0-9A-Fa-f]{1,6})\}|x([0-9A-Fa-f]{2}))")
_WORD_BOUNDARY = re.compile(r"\\(?:[<>]|b\{(?:start|end|start-half|end-half)\})")
_PROPERTY = re.compile(r"\\([pP])(?:\{(\^?)([^}]*)\}|([A-Za-z]))")
_POSIX = re.compile(r"\[:(\^?)([a-z]+):\]")
_OCTAL = re.compile(r"\\([0-7]{1,3})")
_CONTROL = {"a": 7, "f": 12, "t": 9, "n": 10, "r": 13, "v": 11}

_POSIX_SETS: dict[str, Ranges] = {
    "alnum": ((48, 57), (65, 90), (97, 122)),
    "alpha": ((65, 90), (97, 122)),
    "ascii": ((0, 127),),
    "blank": ((9, 9), (32, 32)),
    "cntrl": ((0, 31), (127, 127)),
    "digit": ((48, 57),),
    "graph": ((33, 126),),
    "lower": ((97, 122),),
    "print": ((32, 126),),
    "punct": ((33, 47), (58, 64), (91, 96), (123, 126)),
    "space": ((9, 13), (32, 32)),
    "upper": ((65, 90),),
    "word": ((48, 57), (65, 90), (95, 95), (97, 122)),
    "xdigit": ((48, 57), (65, 70), (97, 102)),
}
#: Perl classes as the backends read them (ASCII)
_PERL: dict[str, Ranges] = {
    "d": _POSIX_SETS["digit"],
    "w": _POSIX_SETS["word"],
    "s": ((9, 10), (12, 13), (32, 32)),
}
#: long names of the Unicode general categories `\p{...}` accepts (compared without case, `_`, `-`, spaces)
_CATEGORY_NAMES = {
    "letter": "L", "casedletter": "LC", "uppercaseletter": "Lu", "lowercaseletter": "Ll",
    "titlecaseletter": "Lt", "modifierletter": "Lm", "otherletter": "Lo", "mark": "M",
    "nonspacingmark": "Mn", "spacingmark": "Mc", "enclosingmark": "Me", "number": "N",
    "decimalnumber": "Nd", "letternumber": "Nl", "othernumber": "No", "punctuation": "P",
    "connectorpunctuation": "Pc", "dashpunctuation": "Pd", "openpunctuation": "Ps",
    "closepunctuation": "Pe", "initialpunctuation": "Pi", "finalpunctuation": "Pf",
    "otherpunctuation": "Po", "symbol": "S", "mathsymbol": "Sm", "currencysymbol": "Sc",
    "modifiersymbol": "Sk", "othersymbol": "So", "separator": "Z", "spaceseparator": "Zs",
    "lineseparator": "Zl", "paragraphseparator": "Zp", "other": "C", "control": "Cc",
    "format": "Cf", "surrogate": "Cs", "privateuse": "Co", "unassigned": "Cn",
}  # fmt: skip


class RegexClassError(ValueError):
    """A character class with set operations over a class this translation cannot enumerate."""


def _hex(code: int) -> str:
    """A code point as a regex escape both backends read."""
    return f"\\x{{{code:X}}}"


def _union(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(a + b):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _complement(a: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    start = 0
    for lo, hi in a:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= _MAX:
        out.append((start, _MAX))
    return tuple(out)


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    return _complement(_union(_complement(a), _complement(b)))


def _minus(a: Ranges, b: Ranges) -> Ranges:
    return _intersect(a, _complement(b))


def _symmetric(a: Ranges, b: Ranges) -> Ranges:
    return _union(_minus(a, b), _minus(b, a))


#: a class's set operations (regex.md, Character classes), equal in precedence, left to right
_OPS: dict[str, Callable[[Ranges, Ranges], Ranges]] = {"&&": _intersect, "--": _minus, "~~": _symmetric}


@lru_cache(maxsize=1)
def _category_runs() -> tuple[tuple[int, int, str], ...]:
    """Every code point's general category, as runs of one category (computed once)."""
    runs: list[tuple[int, int, str]] = []
    start, current = 0, unicodedata.category("\0")
    for cp in range(1, _MAX + 1):
        cat = unicodedata.category(chr(cp))
        if cat != current:
            runs.append((start, cp - 1, current))
            start, current = cp, cat
    runs.append((start, _MAX, current))
    return tuple(runs)


@lru_cache(maxsize=64)
def _category(code: str) -> Ranges:
    """The code points of a general category (`L`, `Lu`; `LC` is Lu, Ll and Lt)."""
    wanted = ("Lu", "Ll", "Lt") if code == "LC" else None
    picked = tuple(
        (lo, hi) for lo, hi, cat in _category_runs() if (cat in wanted if wanted else cat.startswith(code))
    )
    return _union(picked, ())


def _property(name: str) -> Ranges | None:
    """A general category by its short or long name (None for scripts and other properties)."""
    key = re.sub(r"[\s_-]", "", name).lower()
    code = _CATEGORY_NAMES.get(key) or next(
        (c for c in set(_CATEGORY_NAMES.values()) if c.lower() == key), None
    )
    return None if code is None else _category(code)


@dataclass
class _Class:
    """A parsed bracket class: its first union of items, then each set operation with its union; an item is
    a set of code points, a nested class, or the spelling of a class that cannot be enumerated."""

    text: str  # the class respelled for the backends (when it is not compound)
    compound: bool  # set operations or nested classes: the backends need it enumerated
    items: list[str | _Class | Ranges]
    ops: list[tuple[str, list[str | _Class | Ranges]]]
    negated: bool


def _code_point(text: str, i: int) -> tuple[int, str, int] | None:
    """A single character at i (a literal or a character escape): code point, spelling, next index."""
    m = _CODE.match(text, i)
    if m:
        code = int(next(g for g in m.groups() if g), 16)
        return code, _hex(code), m.end()
    if text[i] != "\\":
        return ord(text[i]), text[i], i + 1
    if i + 1 == len(text):
        return None
    nxt = text[i + 1]
    octal = _OCTAL.match(text, i)
    if nxt in _CONTROL:
        code = _CONTROL[nxt]
    elif octal:
        code = int(octal.group(1), 8)
        return code, _hex(code), octal.end()
    elif not nxt.isalnum():
        code = ord(nxt)
    else:
        return None
    return code, (_hex(code) if nxt.isspace() else text[i : i + 2]), i + 2


def _escape_class(text: str, i: int) -> tuple[Ranges | None, str, int]:
    """A class escape (\\d \\w \\s, \\p{..}, their negations) at i: its code points (None when they cannot
    be enumerated), spelling and next index."""
    m = _PROPERTY.match(text, i)
    if m:
        negated = (m.group(1) == "P") != (m.group(2) == "^")
        name = m.group(3) if m.group(3) is not None else m.group(4)
        ranges = _property(name)
        if ranges is not None and negated:
            ranges = _complement(ranges)
        return ranges, m.group(0), m.end()
    letter = text[i + 1]
    base = _PERL[letter.lower()]
    return (_complement(base) if letter.isupper() else base), text[i : i + 2], i + 2


def _parse_class(text: str, i: int, verbose: bool) -> tuple[_Class, int]:
    """The bracket class opening at i (Rust regex syntax: nesting, `&&` `--` `~~`, `[:name:]`)."""
    start = i
    i += 1
    negated = text.startswith("^", i)
    if negated:
        i += 1
    items: list[str | _Class | Ranges] = []
    ops: list[tuple[str, list[str | _Class | Ranges]]] = []
    current = items
    spelled: list[str] = ["[^" if negated else "["]
    compound = False
    first = True
    while True:
        if i >= len(text):
            raise RegexClassError("unclosed character class")
        ch = text[i]
        if verbose and ch.isspace():
            i += 1
            continue
        if ch == "]" and not first:
            i += 1
            break
        first = False
        op = text[i : i + 2]
        if op in _OPS:
            compound = True
            current = []
            ops.append((op, current))
            i += 2
            continue
        posix = _POSIX.match(text, i)
        if posix:
            ranges = _POSIX_SETS.get(posix.group(2))
            if ranges is None:
                raise RegexClassError(f"unknown POSIX class [:{posix.group(2)}:]")
            current.append(_complement(ranges) if posix.group(1) else ranges)
            spelled.append(posix.group(0))
            i = posix.end()
            continue
        if ch == "[":
            inner, i = _parse_class(text, i, verbose)
            compound = True
            current.append(inner)
            continue
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "dwsDWSpP":
            ranges, spelling, i = _escape_class(text, i)
            current.append(ranges if ranges is not None else spelling)
            spelled.append(spelling)
            continue
        lo = _code_point(text, i)
        if lo is None:  # another escape: kept as written
            current.append(text[i : i + 2])
            spelled.append(text[i : i + 2])
            i += 2
            continue
        lo_cp, lo_text, i = lo
        if text.startswith("-", i) and not text.startswith("--", i) and not text.startswith("-]", i):
            hi = _code_point(text, i + 1)
            if hi is not None:
                current.append(((lo_cp, hi[0]),))
                spelled.append(f"{lo_text}-{hi[1]}")
                i = hi[2]
                continue
        current.append(((lo_cp, lo_cp),))
        spelled.append(lo_text)
    spelled.append("]")
    text_out = "".join(spelled) if not compound else text[start:i]
    return _Class(text_out, compound, items, ops, negated), i


def _ranges(cls: _Class) -> Ranges:
    """The code points of a class with set operations or nesting."""

    def union(items: list[str | _Class | Ranges]) -> Ranges:
        out: Ranges = ()
        for item in items:
            if isinstance(item, str):
                raise RegexClassError(
                    f"{item} cannot be combined by character class set operations (&&, --, ~~) or"
                    " nesting: only characters, ranges, \\d \\w \\s, [:posix:] classes and Unicode"
                    " general categories (\\pL, \\p{Lu}) can"
                )
            out = _union(out, _ranges(item) if isinstance(item, _Class) else item)
        return out

    result = union(cls.items)
    for op, items in cls.ops:
        result = _OPS[op](result, union(items))
    return _complement(result) if cls.negated else result


def _spell_ranges(ranges: Ranges) -> str:
    if not ranges:
        return "[^\\x{0}-\\x{10FFFF}]"
    parts = [_hex(lo) if lo == hi else _hex(lo) + "-" + _hex(hi) for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


def _flags(m: re.Match[str], verbose: bool) -> tuple[str, bool]:
    """A `(?flags)` / `(?flags:` group respelled, and whether verbose mode is on after it."""
    on, off, end = m.group(1), m.group(2) or "", m.group(3)
    if "x" in on:
        verbose = True
    if "x" in off:
        verbose = False
    keep_on = "".join(f for f in on if f in _KEPT_FLAGS)
    keep_off = "".join(f for f in off if f in _KEPT_FLAGS)
    if not keep_on and not keep_off:
        return ("(?:" if end == ":" else ""), verbose
    return "(?" + keep_on + ("-" + keep_off if keep_off else "") + end, verbose


def respell(text: str) -> str:
    """The pattern in RE2/Java syntax: named groups plain (KQL reads groups by number), `\\uXXXX` /
    `\\u{X}` / `\\U{X}` as `\\x{X}`, word-boundary forms (`\\<`, `\\b{start}`...) as `\\b`, flags `u` `R`
    dropped and `x` applied, classes with set operations or nesting enumerated as ranges."""
    out: list[str] = []
    scopes = [False]  # verbose mode per open group
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if scopes[-1] and ch.isspace():
            i += 1
        elif scopes[-1] and ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("\\Q", i):  # a quoted run stays as written
            end = text.find("\\E", i + 2)
            stop = n if end < 0 else end + 2
            out.append(text[i:stop])
            i = stop
        elif ch == "\\":
            m = _CODE.match(text, i) or _WORD_BOUNDARY.match(text, i)
            if m and m.group(0).startswith(("\\<", "\\>", "\\b")):
                out.append("\\b")
                i = m.end()
            elif m:
                code = int(next(g for g in m.groups() if g), 16)
                out.append(_hex(code))
                i = m.end()
            elif i + 1 < n and text[i + 1].isspace():
                out.append(_hex(ord(text[i + 1])))
                i += 2
            else:
                out.append(text[i : i + 2])
                i += 2
        elif ch == "[":
            cls, i = _parse_class(text, i, scopes[-1])
            out.append(_spell_ranges(_ranges(cls)) if cls.compound else cls.text)
        elif ch == "(":
            flags = _FLAGS.match(text, i)
            named = _NAMED.match(text, i)
            if named:
                out.append("(")
                scopes.append(scopes[-1])
                i = named.end()
            elif flags:
                spelled, verbose = _flags(flags, scopes[-1])
                out.append(spelled)
                if flags.group(3) == ":":
                    scopes.append(verbose)
                else:
                    scopes[-1] = verbose
                i = flags.end()
            else:
                out.append("(")
                scopes.append(scopes[-1])
                i += 1
        elif ch == ")":
            if len(scopes) > 1:
                scopes.pop()
            out.append(")")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def portable(text: str) -> str:
    """respell(), or the pattern unchanged when it is malformed (the backend's own error then names it)."""
    try:
        return respell(text)
    except RegexClassError:
        return text
