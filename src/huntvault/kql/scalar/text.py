"""String predicates: contains/startswith/endswith, the has family (terms), like, matches regex (+ _cs, !)."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import BinaryLowering, Compiler
from huntvault.kql.lowering.coerce import lower_str, negate
from huntvault.kql.lowering.terms import check_regex, term_match
from huntvault.kql.values import T, to_string


def substring_op(kind: str, case_sensitive: bool) -> BinaryLowering:
    """contains / startswith / endswith (+ _cs): plain substring tests; case-insensitive unless _cs."""

    def lower(c: Compiler, a: T, b: T, node: A.Binary) -> T:
        hay = to_string(a).sql if case_sensitive else lower_str(a)
        needle = to_string(b).sql if case_sensitive else lower_str(b)
        return T(c.planner.dialect.substring_test(kind, hay, needle), "bool")

    return lower


def term_op(mode: str, case_sensitive: bool) -> BinaryLowering:
    """has / hasprefix / hassuffix (+ _cs): Kusto's term boundaries."""

    def lower(c: Compiler, a: T, b: T, node: A.Binary) -> T:
        return T(term_match(c.planner.dialect, to_string(a), b, mode, case_sensitive), "bool")

    return lower


def regex_op(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    if b.is_const and isinstance(b.const, str):
        check_regex(c, b.const, node)
    return T(c.planner.dialect.regex_match(to_string(a).sql, to_string(b).sql), "bool")


def like_op(c: Compiler, a: T, b: T, node: A.Binary) -> T:
    return T(exp.Like(this=to_string(a).sql, expression=to_string(b).sql), "bool")


BINARY: dict[str, BinaryLowering] = {
    "matches regex": regex_op,
    "!matches regex": negate(regex_op),
    "like": like_op,
    "notlike": negate(like_op),
    "likecs": like_op,
    "notlikecs": negate(like_op),
}
for _kind in ("contains", "startswith", "endswith"):
    BINARY[_kind] = substring_op(_kind, False)
    BINARY[_kind + "_cs"] = substring_op(_kind, True)
    BINARY["!" + _kind] = negate(substring_op(_kind, False))
    BINARY["!" + _kind + "_cs"] = negate(substring_op(_kind, True))
for _word, _mode in (("has", "has"), ("hasprefix", "prefix"), ("hassuffix", "suffix")):
    BINARY[_word] = term_op(_mode, False)
    BINARY[_word + "_cs"] = term_op(_mode, True)
    BINARY["!" + _word] = negate(term_op(_mode, False))
    BINARY["!" + _word + "_cs"] = negate(term_op(_mode, True))
