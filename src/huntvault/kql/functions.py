"""Scalar functions, part 1: strings, conditionals, datetimes and conversions (the CORE_FUNCTIONS table)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlglot import exp

from huntvault.errors import KqlSemanticError
from huntvault.kql import ast as A
from huntvault.kql.scalar import ExprCompiler, check_regex
from huntvault.kql.values import (
    NUMERIC,
    T,
    anon,
    as_bool,
    convert,
    fn,
    literal,
    null_of,
    string,
    to_dynamic,
    to_string,
)

Lowering = Callable[[ExprCompiler, list[T], A.Call], T]
RawLowering = Callable[[ExprCompiler, A.Call], T]

#: Defender built-ins that need Microsoft's back end: they fail by name, offline.
OFFLINE_FUNCTIONS = {
    "fileprofile": "FileProfile() needs Defender's file-reputation back end",
    "devicefromip": "DeviceFromIP() needs Defender's IP-to-device back end",
    "assignedipaddresses": "AssignedIPAddresses() needs Defender's device back end",
    "seenby": "SeenBy() needs Defender's device back end",
}


def S(v: str) -> exp.Expression:
    return exp.Literal.string(v)


def N(v: int | float) -> exp.Expression:
    return exp.Literal.number(v)


def arity(node: A.Call, args: list[Any], lo: int, hi: int | None = None) -> None:
    hi = lo if hi is None else hi
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise KqlSemanticError(f"{node.name}() takes {want} argument(s), got {len(args)}")


# ------------------------------------------------------------------ helpers


def str_fn(sqlname: str) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        return T(anon(sqlname, *(to_string(a).sql for a in args)), "string")

    return lower


def conv(kql_type: str) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        arity(node, args, 1)
        return convert(args[0], kql_type)

    return lower


def f_strcat(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    if not args:
        return string("")
    out = to_string(args[0]).sql
    for a in args[1:]:
        out = exp.DPipe(this=out, expression=to_string(a).sql)
    return T(out, "string")


def f_strcat_delim(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    delim = to_string(args[0]).sql
    parts = [to_string(a).sql for a in args[1:]]
    out = parts[0]
    for p in parts[1:]:
        out = exp.DPipe(this=exp.DPipe(this=out, expression=delim), expression=p)
    return T(out, "string")


def f_strlen(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Length(this=to_string(args[0]).sql), "long")


def f_substring(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    start = exp.Add(this=args[1].sql, expression=N(1))
    if len(args) > 2:
        return T(
            exp.Coalesce(this=exp.Substring(this=s, start=start, length=args[2].sql), expressions=[S("")]),
            "string",
        )
    return T(exp.Coalesce(this=exp.Substring(this=s, start=start), expressions=[S("")]), "string")


def f_tolower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Lower(this=to_string(args[0]).sql), "string")


def f_toupper(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Upper(this=to_string(args[0]).sql), "string")


def f_trim(side: str) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        arity(node, args, 2)
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

    return lower


def f_replace_string(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Anonymous(this="replace", expressions=[to_string(a).sql for a in args]), "string")


def re_repl(text: str) -> str:
    """Kusto's `$1` / `\\1` group references in a replacement -> RE2's `\\1`."""
    return re.sub(r"\$(\d)", r"\\\1", text)


def f_replace_regex(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    """replace_regex(text, regex, rewrite); the legacy replace(regex, rewrite, text) is reordered first."""
    arity(node, args, 3)
    if node.name.lower() == "replace":
        args = [args[2], args[0], args[1]]
    pat, repl = to_string(args[1]), to_string(args[2])
    if pat.is_const:
        check_regex(c, pat.const, node)
    repl_sql = S(re_repl(repl.const)) if repl.is_const else repl.sql
    return T(c.planner.dialect.regex_replace(to_string(args[0]).sql, pat.sql, repl_sql), "string")


def f_extract(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    arity(node, args, 3, 4)
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
        target = args[3].const if args[3].is_const else "string"
        return convert(res, str(target))
    return res


def f_extract_all(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    pat = to_string(args[0])
    src = to_string(args[-1]).sql
    groups = None
    if len(args) == 3:
        groups = args[1].const
    ngroups = re.compile(pat.const).groups if pat.is_const else 0
    if ngroups <= 1 and not groups:
        return T(fn("to_json", anon("regexp_extract_all", src, pat.sql, N(ngroups))), "dynamic")
    idx = groups or list(range(1, ngroups + 1))
    names = [S(f"g{i}") for i in idx]
    structs = anon("regexp_extract_all", src, pat.sql, N(0))
    lam = exp.Lambda(
        this=anon("list_value", *[anon("regexp_extract", exp.column("m"), pat.sql, N(i)) for i in idx]),
        expressions=[exp.to_identifier("m")],
    )
    del names
    return T(fn("to_json", anon("list_transform", structs, lam)), "dynamic")


def f_indexof(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s, needle = to_string(args[0]).sql, to_string(args[1]).sql
    base = exp.Sub(this=anon("strpos", s, needle), expression=N(1))
    if len(args) >= 3:
        start = args[2].sql
        sub = exp.Substring(this=s, start=exp.Add(this=start, expression=N(1)))
        pos = anon("strpos", sub, needle)
        return T(
            exp.Case(
                ifs=[exp.If(this=exp.EQ(this=pos, expression=N(0)), true=N(-1))],
                default=exp.Add(this=exp.Sub(this=pos, expression=N(1)), expression=start),
            ),
            "long",
        )
    return T(base, "long")


def f_split(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    parts = anon("string_split", to_string(args[0]).sql, to_string(args[1]).sql)
    if len(args) == 3:
        idx = args[2].const
        return T(
            fn("to_json", anon("list_value", exp.Bracket(this=parts, expressions=[N(int(idx))]))), "dynamic"
        )
    return T(fn("to_json", parts), "dynamic")


def f_reverse(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(anon("reverse", to_string(args[0]).sql), "string")


def f_countof(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    s, needle = to_string(args[0]).sql, to_string(args[1]).sql
    if len(args) == 3 and args[2].const == "regex":
        return T(anon("len", anon("regexp_extract_all", s, needle)), "long")
    diff = exp.Sub(this=exp.Length(this=s), expression=exp.Length(this=anon("replace", s, needle, S(""))))
    return T(
        exp.Cast(
            this=exp.Div(this=diff, expression=exp.Length(this=needle)), to=exp.DataType.build("BIGINT")
        ),
        "long",
    )


def f_isempty(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type in ("string", "guid"):
        return T(
            exp.Or(
                this=exp.Is(this=v.sql, expression=exp.Null()),
                expression=exp.EQ(this=v.sql, expression=S("")),
            ),
            "bool",
        )
    if v.type == "dynamic":
        return T(
            exp.Or(
                this=exp.Is(this=v.sql, expression=exp.Null()),
                expression=exp.EQ(this=to_string(v).sql, expression=S("")),
            ),
            "bool",
        )
    return T(exp.Is(this=v.sql, expression=exp.Null()), "bool")


def f_isnotempty(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Not(this=exp.Paren(this=f_isempty(c, args, node).sql)), "bool")


def f_isnull(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type in ("string", "guid"):
        return literal(False, "bool")  # Kusto strings are never null
    return T(exp.Is(this=v.sql, expression=exp.Null()), "bool")


def f_isnotnull(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Not(this=exp.Paren(this=f_isnull(c, args, node).sql)), "bool")


def unify(c: ExprCompiler, values: list[T]) -> list[T]:
    types = {v.type for v in values if v.type != "null"}
    if len(types) <= 1:
        kind = types.pop() if types else "string"
        return [null_of(kind) if v.type == "null" else v for v in values]
    if types <= set(NUMERIC):
        return [convert(v, "real") if v.type != "null" else null_of("real") for v in values]
    if "dynamic" in types:
        others = types - {"dynamic"}
        if len(others) == 1:  # iff(c, d[0], "text"): the dynamic side takes the scalar side's type
            kind = others.pop()
            return [convert(v, kind) if v.type != "null" else null_of(kind) for v in values]
        return [to_dynamic(v) for v in values]
    return [to_string(v) for v in values]


def f_iff(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    arity(node, args, 3)
    a, b = unify(c, [args[1], args[2]])
    return T(exp.Case(ifs=[exp.If(this=as_bool(args[0]), true=a.sql)], default=b.sql), a.type)


def f_case(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    if len(args) < 3 or len(args) % 2 == 0:
        raise c.err("case() takes pairs of predicate and value, then an else value", node)
    values = unify(c, [args[i] for i in range(1, len(args) - 1, 2)] + [args[-1]])
    ifs = [exp.If(this=as_bool(args[2 * i]), true=values[i].sql) for i in range(len(values) - 1)]
    return T(exp.Case(ifs=ifs, default=values[-1].sql), values[0].type)


def f_coalesce(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    values = unify(c, args)
    if values[0].type in ("string", "guid"):
        # an empty string counts as null for coalesce in Kusto
        ifs = [exp.If(this=exp.NEQ(this=v.sql, expression=S("")), true=v.sql) for v in values[:-1]]
        return T(exp.Case(ifs=ifs, default=values[-1].sql), "string")
    return T(exp.Coalesce(this=values[0].sql, expressions=[v.sql for v in values[1:]]), values[0].type)


def f_not(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return T(exp.Not(this=exp.Paren(this=as_bool(args[0]))), "bool")


def f_now(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    now = c.planner.now
    if args:
        now = now + timedelta(microseconds=args[0].const)
    return literal(now, "datetime")


def f_ago(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    arity(node, args, 1)
    span = args[0]
    if span.is_const and span.const is not None:
        return literal(c.planner.now - timedelta(microseconds=span.const), "datetime")
    return T(
        c.planner.dialect.add_micros(literal(c.planner.now, "datetime").sql, exp.Neg(this=span.sql)),
        "datetime",
    )


def f_bin(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    arity(node, args, 2)
    v, size = args
    d = c.planner.dialect
    if v.type == "datetime":
        us = d.epoch_us(v.sql)
        return T(
            d.from_epoch_us(
                exp.Mul(this=anon("floor", exp.Div(this=us, expression=size.sql)), expression=size.sql)
            ),
            "datetime",
            name=v.name,
        )
    if v.type == "timespan":
        return T(
            exp.Cast(
                this=exp.Mul(
                    this=anon("floor", exp.Div(this=v.sql, expression=size.sql)), expression=size.sql
                ),
                to=exp.DataType.build("BIGINT"),
            ),
            "timespan",
            name=v.name,
        )
    kind = "real" if "real" in (v.type, size.type) else "long"
    floor = exp.Mul(
        this=anon(
            "floor", exp.Div(this=exp.Cast(this=v.sql, to=exp.DataType.build("DOUBLE")), expression=size.sql)
        ),
        expression=size.sql,
    )
    return T(
        exp.Cast(this=floor, to=exp.DataType.build("BIGINT" if kind == "long" else "DOUBLE")),
        kind,
        name=v.name,
    )


def f_bin_at(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    v, size, at = args
    d = c.planner.dialect
    if v.type == "datetime":
        us = exp.Sub(this=d.epoch_us(v.sql), expression=d.epoch_us(at.sql))
        b = exp.Mul(this=anon("floor", exp.Div(this=us, expression=size.sql)), expression=size.sql)
        return T(d.from_epoch_us(exp.Add(this=b, expression=d.epoch_us(at.sql))), "datetime", name=v.name)
    diff = exp.Sub(this=v.sql, expression=at.sql)
    b2 = exp.Add(
        this=exp.Mul(this=anon("floor", exp.Div(this=diff, expression=size.sql)), expression=size.sql),
        expression=at.sql,
    )
    return T(
        exp.Cast(this=b2, to=exp.DataType.build("DOUBLE" if v.type == "real" else "BIGINT")),
        v.type,
        name=v.name,
    )


def trunc_fn(unit: str) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        v = convert(args[0], "datetime") if args[0].type != "datetime" else args[0]
        out: exp.Expression = anon("date_trunc", S(unit), v.sql)
        if unit == "week":  # Kusto weeks start on Sunday
            out = exp.Sub(
                this=anon(
                    "date_trunc",
                    S("week"),
                    exp.Add(this=v.sql, expression=exp.Interval(this=S("1"), unit=exp.Var(this="DAY"))),
                ),
                expression=exp.Interval(this=S("1"), unit=exp.Var(this="DAY")),
            )
        out = exp.Cast(this=out, to=exp.DataType.build("TIMESTAMPTZ"))
        if len(args) > 1:
            out = exp.Add(
                this=out,
                expression=exp.Interval(
                    this=exp.Cast(this=args[1].sql, to=exp.DataType.build("VARCHAR")),
                    unit=exp.Var(this=unit.upper()),
                ),
            )
        return T(out, "datetime")

    return lower


def end_fn(unit: str) -> Lowering:
    start = trunc_fn(unit)

    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        s = start(c, args, node)
        nxt = exp.Add(
            this=s.sql,
            expression=exp.Interval(
                this=S("1"), unit=exp.Var(this=unit.upper() if unit != "week" else "WEEK")
            ),
        )
        return T(
            exp.Sub(this=nxt, expression=exp.Interval(this=S("1"), unit=exp.Var(this="MICROSECOND"))),
            "datetime",
        )

    return lower


def part_fn(part: str, kind: str = "long") -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        return T(
            exp.Cast(
                this=anon("date_part", S(part), convert(args[0], "datetime").sql),
                to=exp.DataType.build("BIGINT"),
            ),
            kind,
        )

    return lower


def f_dayofweek(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    days = exp.Cast(this=anon("date_part", S("dow"), args[0].sql), to=exp.DataType.build("BIGINT"))
    return T(exp.Mul(this=days, expression=N(86_400_000_000)), "timespan")


DATETIME_PARTS = {
    "year": "year",
    "quarter": "quarter",
    "month": "month",
    "week": "week",
    "day": "day",
    "hour": "hour",
    "minute": "minute",
    "second": "second",
    "millisecond": "millisecond",
    "microsecond": "microsecond",
    "nanosecond": "microsecond",
    "weekofyear": "week",
    "dayofyear": "doy",
    "dayofmonth": "day",
}
PART_MICROS = {
    "day": 86_400_000_000,
    "hour": 3_600_000_000,
    "minute": 60_000_000,
    "second": 1_000_000,
    "millisecond": 1000,
    "microsecond": 1,
    "nanosecond": 1,
    "week": 7 * 86_400_000_000,
}


def f_datetime_part(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    part = str(args[0].const).lower()
    if part not in DATETIME_PARTS:
        raise c.err(f"unknown datetime part {part!r}", node)
    return T(
        exp.Cast(
            this=anon("date_part", S(DATETIME_PARTS[part]), args[1].sql), to=exp.DataType.build("BIGINT")
        ),
        "long",
    )


def f_datetime_diff(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    part = str(args[0].const).lower()
    a, b = args[1].sql, args[2].sql
    if part in ("year", "quarter", "month"):
        return T(anon("date_diff", S(part), b, a), "long")
    if part == "week":
        return T(anon("date_diff", S("week"), b, a), "long")
    micros = PART_MICROS.get(part)
    if micros is None:
        raise c.err(f"unknown datetime part {part!r}", node)
    d = c.planner.dialect
    # Kusto counts boundaries crossed: floor each side to the unit first
    fa = anon("floor", exp.Div(this=d.epoch_us(a), expression=N(micros)))
    fb = anon("floor", exp.Div(this=d.epoch_us(b), expression=N(micros)))
    return T(exp.Cast(this=exp.Sub(this=fa, expression=fb), to=exp.DataType.build("BIGINT")), "long")


def f_datetime_add(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    part = str(args[0].const).lower()
    n, ts = args[1], args[2]
    if part in ("year", "quarter", "month"):
        unit = "MONTH" if part != "year" else "YEAR"
        amount = n.sql if part != "quarter" else exp.Mul(this=n.sql, expression=N(3))
        return T(
            exp.Add(
                this=ts.sql,
                expression=exp.Interval(
                    this=exp.Cast(this=amount, to=exp.DataType.build("VARCHAR")), unit=exp.Var(this=unit)
                ),
            ),
            "datetime",
        )
    micros = PART_MICROS.get(part)
    if micros is None:
        raise c.err(f"unknown datetime part {part!r}", node)
    return T(c.planner.dialect.add_micros(ts.sql, exp.Mul(this=n.sql, expression=N(micros))), "datetime")


FORMAT_TOKENS = [
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("hh", "%I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("fffffff", "%f0"),
    ("ffffff", "%f"),
    ("fff", "%g"),
    ("tt", "%p"),
    ("M", "%-m"),
    ("d", "%-d"),
    ("H", "%-H"),
    ("h", "%-I"),
    ("m", "%-M"),
    ("s", "%-S"),
]


def f_format_datetime(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    fmt = args[1].const
    if not isinstance(fmt, str):
        raise c.err("format_datetime() needs a constant format", node)
    out, i = "", 0
    while i < len(fmt):
        for tok, rep in FORMAT_TOKENS:
            if fmt.startswith(tok, i):
                out += rep
                i += len(tok)
                break
        else:
            out += fmt[i].replace("%", "%%")
            i += 1
    return T(exp.Coalesce(this=anon("strftime", args[0].sql, S(out)), expressions=[S("")]), "string")


def f_format_timespan(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    return to_string(args[0])


def f_make_datetime(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    parts = [a.sql for a in args] + [N(0)] * (6 - len(args))
    return T(
        exp.Cast(this=anon("make_timestamp", *parts[:6]), to=exp.DataType.build("TIMESTAMPTZ")), "datetime"
    )


def f_make_timespan(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    units = (
        [86_400_000_000, 3_600_000_000, 60_000_000, 1_000_000]
        if len(args) == 4
        else [3_600_000_000, 60_000_000, 1_000_000]
    )
    total: exp.Expression = N(0)
    for a, u in zip(args, units, strict=False):
        total = exp.Add(this=total, expression=exp.Mul(this=a.sql, expression=N(u)))
    return T(exp.Cast(this=total, to=exp.DataType.build("BIGINT")), "timespan")


def f_unixtime(unit_micros: int) -> Lowering:
    def lower(c: ExprCompiler, args: list[T], node: A.Call) -> T:
        return T(
            c.planner.dialect.from_epoch_us(exp.Mul(this=args[0].sql, expression=N(unit_micros))), "datetime"
        )

    return lower


def f_totimespan(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.type == "timespan":
        return v
    if v.is_const and isinstance(v.const, str):
        from huntvault.kql.parser import parse_timespan_text

        try:
            return literal(parse_timespan_text(v.const), "timespan")
        except Exception:
            return null_of("timespan")
    if v.type in NUMERIC:
        return T(
            exp.Cast(this=exp.Div(this=v.sql, expression=N(10)), to=exp.DataType.build("BIGINT")), "timespan"
        )
    s = to_string(v).sql
    as_interval = exp.TryCast(this=s, to=exp.DataType.build("INTERVAL"))
    return T(
        exp.Cast(
            this=exp.Mul(this=anon("epoch", as_interval), expression=N(1_000_000)),
            to=exp.DataType.build("BIGINT"),
        ),
        "timespan",
    )


def f_todatetime(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    v = args[0]
    if v.is_const and isinstance(v.const, str):
        from huntvault.kql.parser import parse_datetime_text

        try:
            return literal(parse_datetime_text(v.const), "datetime")
        except Exception:
            return null_of("datetime")
    return convert(v, "datetime")


def f_tostring(c: ExprCompiler, args: list[T], node: A.Call) -> T:
    out = to_string(args[0])
    return T(out.sql, "string", out.const, args[0].name)


CORE_FUNCTIONS: dict[str, Lowering] = {
    "strcat": f_strcat,
    "strcat_delim": f_strcat_delim,
    "strlen": f_strlen,
    "substring": f_substring,
    "tolower": f_tolower,
    "toupper": f_toupper,
    "trim": f_trim("both"),
    "trim_start": f_trim("start"),
    "trim_end": f_trim("end"),
    "replace_string": f_replace_string,
    "replace": f_replace_regex,
    "replace_regex": f_replace_regex,
    "extract": f_extract,
    "extract_all": f_extract_all,
    "indexof": f_indexof,
    "split": f_split,
    "reverse": f_reverse,
    "countof": f_countof,
    "isempty": f_isempty,
    "isnotempty": f_isnotempty,
    "isnull": f_isnull,
    "isnotnull": f_isnotnull,
    "iff": f_iff,
    "iif": f_iff,
    "case": f_case,
    "coalesce": f_coalesce,
    "not": f_not,
    "now": f_now,
    "ago": f_ago,
    "bin": f_bin,
    "floor": f_bin,
    "bin_at": f_bin_at,
    "startofday": trunc_fn("day"),
    "startofweek": trunc_fn("week"),
    "startofmonth": trunc_fn("month"),
    "startofyear": trunc_fn("year"),
    "endofday": end_fn("day"),
    "endofweek": end_fn("week"),
    "endofmonth": end_fn("month"),
    "endofyear": end_fn("year"),
    "dayofweek": f_dayofweek,
    "dayofmonth": part_fn("day"),
    "dayofyear": part_fn("doy"),
    "hourofday": part_fn("hour"),
    "getyear": part_fn("year"),
    "getmonth": part_fn("month"),
    "monthofyear": part_fn("month"),
    "week_of_year": part_fn("week"),
    "datetime_part": f_datetime_part,
    "datepart": f_datetime_part,
    "datetime_diff": f_datetime_diff,
    "datetime_add": f_datetime_add,
    "format_datetime": f_format_datetime,
    "format_timespan": f_format_timespan,
    "make_datetime": f_make_datetime,
    "make_timespan": f_make_timespan,
    "unixtime_seconds_todatetime": f_unixtime(1_000_000),
    "unixtime_milliseconds_todatetime": f_unixtime(1000),
    "unixtime_microseconds_todatetime": f_unixtime(1),
    "totimespan": f_totimespan,
    "time": f_totimespan,
    "todatetime": f_todatetime,
    "tostring": f_tostring,
    "toint": conv("int"),
    "tolong": conv("long"),
    "todouble": conv("real"),
    "toreal": conv("real"),
    "tobool": conv("bool"),
    "toboolean": conv("bool"),
    "toguid": conv("guid"),
    "int": conv("int"),
    "long": conv("long"),
    "real": conv("real"),
    "double": conv("real"),
    "bool": conv("bool"),
    "string": conv("string"),
}
