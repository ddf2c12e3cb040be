"""String functions: concatenation, length, case, substrings, trimming, search and splitting."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Lowering
from huntvault.kql.lowering.dynamic import json_list
from huntvault.kql.lowering.pycall import py_function, py_value
from huntvault.kql.values import N, S, T, call, dtype, fn, string, to_string


def f_strcat(c: Compiler, args: list[T], node: A.Call) -> T:
    if not args:
        return string("")
    out = to_string(args[0]).sql
    for a in args[1:]:
        out = exp.DPipe(this=out, expression=to_string(a).sql)
    return T(out, "string")


def f_strcat_delim(c: Compiler, args: list[T], node: A.Call) -> T:
    delim = to_string(args[0]).sql
    parts = [to_string(a).sql for a in args[1:]]
    out = parts[0]
    for p in parts[1:]:
        out = exp.DPipe(this=exp.DPipe(this=out, expression=delim), expression=p)
    return T(out, "string")


def _never_null(lower: Lowering) -> Lowering:
    """Spark: each string part of strcat/strcat_delim as "" when null (Spark's || is null when any part is; a
    Spark string function can give null where DuckDB's gives "", and Kusto concatenates null as "")."""

    def spark(c: Compiler, args: list[T], node: A.Call) -> T:
        parts = [T(exp.Coalesce(this=to_string(a).sql, expressions=[S("")]), "string") for a in args]
        return lower(c, parts, node)

    return spark


def f_strlen(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Length(this=to_string(args[0]).sql), "long")


def f_substring(c: Compiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    # zero-based; a negative start counts from the end (SQL's 1-based start takes it as it is)
    first = args[1]
    start: exp.Expression
    if first.is_const and isinstance(first.const, int):
        start = N(first.const) if first.const < 0 else N(first.const + 1)
    else:
        start = exp.Case(
            ifs=[exp.If(this=exp.LT(this=first.sql, expression=N(0)), true=first.sql.copy())],
            default=exp.Add(this=first.sql.copy(), expression=N(1)),
        )
    if len(args) > 2:
        return T(
            exp.Coalesce(this=exp.Substring(this=s, start=start, length=args[2].sql), expressions=[S("")]),
            "string",
        )
    return T(exp.Coalesce(this=exp.Substring(this=s, start=start), expressions=[S("")]), "string")


def f_tolower(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Lower(this=to_string(args[0]).sql), "string")


def f_toupper(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Upper(this=to_string(args[0]).sql), "string")


def f_trim(side: str) -> Function:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        pat = to_string(args[0])
        s = to_string(args[1]).sql
        p = pat.const if pat.is_const else None
        if p is None:
            raise c.err(f"{node.name}() needs a constant regular expression", node)
        parts = []
        if side in ("both", "start"):
            parts.append(f"^(?:{p})+")
        if side in ("both", "end"):
            parts.append(f"(?:{p})+$")
        out = s
        for rx in parts:
            out = c.planner.dialect.regex_replace(out, S(rx), S(""))
        return T(out, "string")

    return Function(lower, (2, 2), "string")


def f_replace_string(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Anonymous(this="replace", expressions=[to_string(a).sql for a in args]), "string")


def f_indexof(c: Compiler, args: list[T], node: A.Call) -> T:
    if len(args) > 2 or args[0].type not in ("string", "guid"):  # start, length, occurrence: in Python
        return py_value(c, "indexof", args, "long")
    s, needle = to_string(args[0]).sql, to_string(args[1]).sql
    base = exp.Sub(this=call("strpos", s, needle), expression=N(1))
    if len(args) >= 3:
        start = args[2].sql
        sub = exp.Substring(this=s, start=exp.Add(this=start, expression=N(1)))
        pos = call("strpos", sub, needle)
        return T(
            exp.Case(
                ifs=[exp.If(this=exp.EQ(this=pos, expression=N(0)), true=N(-1))],
                default=exp.Add(this=exp.Sub(this=pos, expression=N(1)), expression=start),
            ),
            "long",
        )
    return T(base, "long")


def f_split(c: Compiler, args: list[T], node: A.Call) -> T:
    parts = call("string_split", to_string(args[0]).sql, to_string(args[1]).sql)
    if len(args) == 3:
        idx = args[2].const
        if not isinstance(idx, int):
            raise c.err("split() needs a constant index", node)
        if idx < 0:  # no such part: an empty array, as past the end
            return T(fn("to_json", call("list_slice", parts, N(1), N(0))), "dynamic")
        # the part at a zero-based index, or [] when the string has fewer parts
        return T(fn("to_json", call("list_slice", parts, N(idx + 1), N(idx + 1))), "dynamic")
    return T(fn("to_json", parts), "dynamic")


def f_reverse(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("reverse", to_string(args[0]).sql), "string")


def _overlaps(needle: str) -> bool:
    """Whether two occurrences of the text can overlap (a proper prefix equals a suffix)."""
    return not needle or any(needle[:k] == needle[-k:] for k in range(1, len(needle)))


def f_countof(c: Compiler, args: list[T], node: A.Call) -> T:
    s, needle = to_string(args[0]).sql, to_string(args[1]).sql
    if len(args) == 3 and args[2].const == "regex":
        return T(call("len", call("regexp_extract_all", s, needle)), "long")
    if not (args[1].is_const and isinstance(args[1].const, str) and not _overlaps(args[1].const)):
        return py_value(c, "countof", args, "long")  # plain matches may overlap ("aa" in "aaa" is 2)
    diff = exp.Sub(this=exp.Length(this=s), expression=exp.Length(this=call("replace", s, needle, S(""))))
    return T(
        exp.Cast(this=exp.Div(this=diff, expression=exp.Length(this=needle)), to=dtype("BIGINT")),
        "long",
    )


def f_strrep(c: Compiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    if len(args) == 3:
        body = exp.DPipe(this=s, expression=to_string(args[2]).sql)
        full = call("repeat", body, exp.Sub(this=args[1].sql, expression=N(1)))
        return T(exp.DPipe(this=full, expression=s), "string")
    return T(call("repeat", s, args[1].sql), "string")


def f_strcat_array(c: Compiler, args: list[T], node: A.Call) -> T:
    items = json_list(c, args[0])
    lam = exp.Lambda(
        this=exp.Coalesce(this=call("json_extract_string", exp.column("x"), S("$")), expressions=[S("")]),
        expressions=[exp.to_identifier("x")],
    )
    return T(call("array_to_string", call("list_transform", items, lam), to_string(args[1]).sql), "string")


def f_isascii(c: Compiler, args: list[T], node: A.Call) -> T:
    """isascii(s): every character is 7-bit ASCII (an empty string is)."""
    text = to_string(args[0]).sql
    return T(exp.Not(this=c.planner.dialect.regex_match(text, S("[^\\x00-\\x7f]"))), "bool")


def f_isutf8(c: Compiler, args: list[T], node: A.Call) -> T:
    """isutf8(s): a string is valid UTF-8 here (the archive and both engines hold only valid UTF-8 text), so
    true for any string value, null for null."""
    text = to_string(args[0]).sql
    return T(exp.Not(this=exp.Is(this=text, expression=exp.Null())), "bool")


FUNCTIONS: dict[str, Function] = {
    "isascii": Function(f_isascii, (1, 1), "bool"),
    "isutf8": Function(f_isutf8, (1, 1), "bool"),
    "strcat": Function(f_strcat, (0, 64), "string", spark=_never_null(f_strcat)),
    "strcat_delim": Function(f_strcat_delim, (3, 65), "string", spark=_never_null(f_strcat_delim)),
    "strlen": Function(f_strlen, (1, 1), "long"),
    "substring": Function(f_substring, (2, 3), "string"),
    "tolower": Function(f_tolower, (1, 1), "string"),
    "toupper": Function(f_toupper, (1, 1), "string"),
    "trim": f_trim("both"),
    "trim_start": f_trim("start"),
    "trim_end": f_trim("end"),
    "replace_string": Function(f_replace_string, (3, 3), "string"),
    "indexof": Function(f_indexof, (2, 5), "long"),
    "split": Function(f_split, (2, 3), "dynamic"),
    "reverse": Function(f_reverse, (1, 1), "string"),
    "countof": Function(f_countof, (2, 3), "long"),
    "translate": py_function("translate", (3, 3), "string"),
    "strrep": Function(f_strrep, (2, 3), "string"),
    "strcat_array": Function(f_strcat_array, (2, 2), "string"),
    "array_strcat": Function(f_strcat_array, (2, 2), "string"),
    "parse_csv": py_function("parse_csv", (1, 1), "dynamic"),
    "parse_command_line": py_function("parse_command_line", (1, 2), "dynamic"),
    "unicode_codepoints_from_string": py_function("unicode_codepoints_from_string", (1, 1), "dynamic"),
    "unicode_codepoints_to_string": py_function("unicode_codepoints_to_string", (1, None), "string"),
    "string_size": py_function("string_size", (1, 1), "long"),
    "strcmp": py_function("strcmp", (2, 2), "long"),
    "regex_quote": py_function("regex_quote", (1, 1), "string"),
    "indexof_regex": py_function("indexof_regex", (2, 5), "long"),
    "punycode_from_string": py_function("punycode_from_string", (1, 1), "string"),
    "punycode_to_string": py_function("punycode_to_string", (1, 1), "string"),
    "parse_version": py_function("parse_version", (1, 1), "decimal"),
    "replace_strings": py_function("replace_strings", (3, 3), "string"),
    "has_any_index": py_function("has_any_index", (2, 2), "long"),
    "format_bytes": py_function("format_bytes", (1, 4), "string"),
    "to_utf8": py_function("unicode_codepoints_from_string", (1, 1), "dynamic"),
    "make_string": py_function("unicode_codepoints_to_string", (1, None), "string"),
}
