"""Regular-expression functions (RE2): extract, extract_all, replace_regex and the legacy replace."""

from __future__ import annotations

import re

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.lowering.coerce import type_argument
from huntvault.kql.lowering.terms import check_regex
from huntvault.kql.values import N, S, T, call, convert, fn, to_string


def re_repl(text: str) -> str:
    """Kusto's `$1` / `\\1` group references in a replacement -> RE2's `\\1`."""
    return re.sub(r"\$(\d)", r"\\\1", text)


def capture_groups(pattern: str) -> int:
    """The number of capture groups of an RE2 pattern: `(` not followed by `?`, and named `(?P<x>`/`(?<x>`;
    escapes and character classes skipped (Python's `re` cannot parse every RE2 pattern, `\\pL` for one)."""
    count, i, n = 0, 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern.startswith("]", i + 1) or pattern.startswith("^]", i + 1):
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        elif ch == "(":
            rest = pattern[i + 1 : i + 4]
            if (
                not rest.startswith("?")
                or rest.startswith("?P<")
                or (rest[1:2] == "<" and rest[2:3].isalpha())
            ):
                count += 1
        i += 1
    return count


def f_replace_regex(c: Compiler, args: list[T], node: A.Call) -> T:
    """replace_regex(text, regex, rewrite); the legacy replace(regex, rewrite, text) is reordered first."""
    if node.name.lower() == "replace":
        args = [args[2], args[0], args[1]]
    pat, repl = to_string(args[1]), to_string(args[2])
    if pat.is_const:
        check_regex(c, pat.const, node)
    repl_sql = S(re_repl(repl.const)) if repl.is_const else repl.sql
    return T(c.planner.dialect.regex_replace(to_string(args[0]).sql, pat.sql, repl_sql), "string")


def f_extract(c: Compiler, args: list[T], node: A.Call) -> T:
    pat = to_string(args[0])
    if pat.is_const:
        check_regex(c, pat.const, node)
    group = args[1].const if args[1].is_const else None
    if not isinstance(group, int):
        raise c.err("extract() needs a constant capture group number", node)
    src = to_string(args[2]).sql
    value = c.planner.dialect.regex_extract(src, pat.sql, group)
    # no match is null in Kusto (empty string for a string result)
    matched = c.planner.dialect.regex_match(src, pat.sql)
    out = exp.Case(ifs=[exp.If(this=matched, true=value)], default=S(""))
    res = T(out, "string")
    if len(args) == 4:
        target = type_argument(args[3])
        if target is None:
            raise c.err("extract() takes the result type as typeof(type)", node)
        return convert(res, target)
    return res


def f_extract_all(c: Compiler, args: list[T], node: A.Call) -> T:
    pat = to_string(args[0])
    src = to_string(args[-1]).sql
    groups = args[1].const if len(args) == 3 else None
    ngroups = capture_groups(pat.const) if pat.is_const else 0
    if ngroups <= 1 and not groups:
        return T(fn("to_json", call("regexp_extract_all", src, pat.sql, N(ngroups))), "dynamic")
    if groups is not None and not (isinstance(groups, list) and all(isinstance(g, int) for g in groups)):
        raise c.err("extract_all() needs the capture groups as a constant dynamic array of numbers", node)
    idx = groups or list(range(1, ngroups + 1))
    structs = call("regexp_extract_all", src, pat.sql, N(0))
    lam = exp.Lambda(
        this=call("list_value", *[call("regexp_extract", exp.column("m"), pat.sql, N(i)) for i in idx]),
        expressions=[exp.to_identifier("m")],
    )
    return T(fn("to_json", call("list_transform", structs, lam)), "dynamic")


FUNCTIONS: dict[str, Function] = {
    "replace": Function(f_replace_regex, (3, 3), "string"),
    "replace_regex": Function(f_replace_regex, (3, 3), "string"),
    "extract": Function(f_extract, (3, 4), None),
    "extract_all": Function(f_extract_all, (2, 3), "dynamic"),
}
