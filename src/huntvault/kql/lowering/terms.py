"""Kusto's term matching (has, hasprefix, hassuffix, has_any) and the RE2 checks of regular expressions."""

from __future__ import annotations

import re

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql import regexes
from huntvault.kql.dialects import Dialect
from huntvault.kql.ir import Compiler
from huntvault.kql.values import T, to_string

#: a character that is not part of a term (terms are runs of Unicode letters and digits)
TERM = r"[^\pL\pN]"


def is_term_char(ch: str) -> bool:
    return ch.isalnum()


def term_regex(needle: str, mode: str, case_sensitive: bool) -> str | None:
    """RE2 pattern for Kusto's term operators (has/hasprefix/hassuffix), None when a plain substring test is exact."""
    if not needle or not any(is_term_char(c) for c in needle):
        return None
    lead = mode in ("has", "prefix") and is_term_char(needle[0])
    trail = mode in ("has", "suffix") and is_term_char(needle[-1])
    if not lead and not trail:
        return None
    body = re.escape(needle)
    return (
        ("" if case_sensitive else "(?i)")
        + (f"(?:^|{TERM})" if lead else "")
        + body
        + (f"(?:$|{TERM})" if trail else "")
    )


def term_match(d: Dialect, hay: T, needle: T, mode: str, case_sensitive: bool) -> exp.Expression:
    """Kusto's has/hasprefix/hassuffix: a cheap substring pre-test, then the exact term-boundary regex."""
    if needle.is_const:
        text = "" if needle.const is None else str(needle.const)
        pattern = term_regex(text, mode, case_sensitive)
        if case_sensitive:
            pre = d.substring_test("contains", hay.sql, exp.Literal.string(text))
        else:
            pre = d.substring_test("contains", exp.Lower(this=hay.sql), exp.Literal.string(text.lower()))
        if pattern is None:
            return pre
        return exp.And(this=pre, expression=d.regex_match(hay.sql, exp.Literal.string(pattern)))
    ntext = to_string(needle).sql
    lead = f"(?:^|{TERM})" if mode in ("has", "prefix") else ""
    trail = f"(?:$|{TERM})" if mode in ("has", "suffix") else ""
    pat = exp.DPipe(
        this=exp.DPipe(
            this=exp.Literal.string(("" if case_sensitive else "(?i)") + lead),
            expression=d.regex_escape(ntext),
        ),
        expression=exp.Literal.string(trail),
    )
    return d.regex_match(hay.sql, pat)


def any_terms(d: Dialect, hay: T, needles: list[str], case_sensitive: bool) -> list[exp.Expression]:
    """has_any over constants: one alternation regex per boundary shape, plain substrings for the rest."""
    groups: dict[tuple[bool, bool], list[str]] = {}
    plain: list[str] = []
    for n in needles:
        if term_regex(n, "has", True) is None:
            plain.append(n)
            continue
        key = (n[0].isalnum(), n[-1].isalnum())
        groups.setdefault(key, []).append(n)
    tests: list[exp.Expression] = []
    target = hay.sql if case_sensitive else exp.Lower(this=hay.sql)
    for n in plain:
        tests.append(
            d.substring_test("contains", target, exp.Literal.string(n if case_sensitive else n.lower()))
        )
    for (lead, trail), ns in groups.items():
        alt = "|".join(re.escape(n) for n in ns)
        pat = (
            ("" if case_sensitive else "(?i)")
            + (f"(?:^|{TERM})" if lead else "")
            + f"(?:{alt})"
            + (f"(?:$|{TERM})" if trail else "")
        )
        tests.append(d.regex_match(hay.sql, exp.Literal.string(pat)))
    return tests


def lookaround(pattern: str) -> bool:
    """True when the pattern uses lookaround, which RE2 (and Kusto) reject."""
    return re.search(r"\(\?<?[=!]", pattern) is not None


#: the error for a lookaround pattern
LOOKAROUND = "regular expressions use RE2 syntax: lookaround (?= (?! (?<= (?<! is not supported"


def check_regex(c: Compiler, pattern: str, node: A.Node) -> None:
    """Reject a constant pattern RE2 cannot run, at the node's position."""
    if lookaround(pattern):
        raise c.err(LOOKAROUND, node)
    try:
        regexes.respell(pattern)
    except regexes.RegexClassError as ex:
        raise c.err(f"regular expression: {ex}", node) from None
