"""Datetime functions: now/ago, start/end of periods, parts, differences, formatting, construction."""

from __future__ import annotations

from datetime import timedelta

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Lowering
from huntvault.kql.lowering.pycall import py_function, py_value
from huntvault.kql.values import N, S, T, call, convert, dtype, literal, to_string


def f_now(c: Compiler, args: list[T], node: A.Call) -> T:
    now = c.planner.now
    if args:
        if not args[0].is_const or not isinstance(args[0].const, (int, float)):
            raise c.err("now() takes a constant timespan offset", node)
        now = now + timedelta(microseconds=args[0].const)
    return literal(now, "datetime")


def f_ago(c: Compiler, args: list[T], node: A.Call) -> T:
    span = args[0]
    if span.is_const and isinstance(span.const, (int, float)):
        return literal(c.planner.now - timedelta(microseconds=span.const), "datetime")
    return T(
        c.planner.dialect.add_micros(literal(c.planner.now, "datetime").sql, exp.Neg(this=span.sql)),
        "datetime",
    )


def trunc_fn(unit: str) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        v = convert(args[0], "datetime") if args[0].type != "datetime" else args[0]
        out: exp.Expression = call("date_trunc", S(unit), v.sql)
        if unit == "week":  # Kusto weeks start on Sunday
            out = exp.Sub(
                this=call(
                    "date_trunc",
                    S("week"),
                    exp.Add(this=v.sql, expression=exp.Interval(this=S("1"), unit=exp.Var(this="DAY"))),
                ),
                expression=exp.Interval(this=S("1"), unit=exp.Var(this="DAY")),
            )
        out = exp.Cast(this=out, to=dtype("TIMESTAMPTZ"))
        if len(args) > 1:
            out = exp.Add(
                this=out,
                expression=exp.Interval(
                    this=exp.Cast(this=args[1].sql, to=dtype("VARCHAR")),
                    unit=exp.Var(this=unit.upper()),
                ),
            )
        return T(out, "datetime")

    return lower


def end_fn(unit: str) -> Lowering:
    start = trunc_fn(unit)

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
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


def part_fn(part: str) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        value = call("date_part", S(part), convert(args[0], "datetime").sql)
        return T(exp.Cast(this=value, to=dtype("BIGINT")), "long")

    return lower


def f_dayofweek(c: Compiler, args: list[T], node: A.Call) -> T:
    days = exp.Cast(this=call("date_part", S("dow"), args[0].sql), to=dtype("BIGINT"))
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
    "week_of_year": "week",
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


def _part_name(c: Compiler, arg: T, node: A.Call) -> str:
    if not arg.is_const or not isinstance(arg.const, str):
        raise c.err(f"{node.name}() needs the datetime part as a constant string", node)
    return arg.const.lower()


def f_datetime_part(c: Compiler, args: list[T], node: A.Call) -> T:
    part = _part_name(c, args[0], node)
    if part not in DATETIME_PARTS:
        raise c.err(f"unknown datetime part {part!r}", node)
    value = call("date_part", S(DATETIME_PARTS[part]), args[1].sql)
    # DuckDB counts milli/microseconds from the minute; Kusto's parts are the second's fraction
    if part == "millisecond":
        value = exp.Mod(this=value, expression=N(1000))
    if part in ("microsecond", "nanosecond"):
        value = exp.Mod(this=value, expression=N(1_000_000))
    if part == "nanosecond":  # microsecond precision: the nanoseconds of the microseconds
        value = exp.Mul(this=value, expression=N(1000))
    return T(exp.Cast(this=value, to=dtype("BIGINT")), "long")


def f_datetime_diff(c: Compiler, args: list[T], node: A.Call) -> T:
    part = _part_name(c, args[0], node)
    a, b = args[1].sql, args[2].sql
    if part in ("year", "quarter", "month"):
        return T(call("date_diff", S(part), b, a), "long")
    if part == "week":  # Kusto's weeks start on Sunday: count the Sunday boundaries crossed
        d = c.planner.dialect

        def weeks(ts: exp.Expression) -> exp.Expression:
            days = call("floor", exp.Div(this=d.epoch_us(ts), expression=N(86_400_000_000)))
            return call("floor", exp.Div(this=exp.Add(this=days, expression=N(4)), expression=N(7)))

        return T(exp.Cast(this=exp.Sub(this=weeks(a), expression=weeks(b)), to=dtype("BIGINT")), "long")
    micros = PART_MICROS.get(part)
    if micros is None:
        raise c.err(f"unknown datetime part {part!r}", node)
    d = c.planner.dialect
    # Kusto counts boundaries crossed: floor each side to the unit first
    fa = call("floor", exp.Div(this=d.epoch_us(a), expression=N(micros)))
    fb = call("floor", exp.Div(this=d.epoch_us(b), expression=N(micros)))
    return T(exp.Cast(this=exp.Sub(this=fa, expression=fb), to=dtype("BIGINT")), "long")


def f_datetime_add(c: Compiler, args: list[T], node: A.Call) -> T:
    part = _part_name(c, args[0], node)
    n, ts = args[1], args[2]
    if part in ("year", "quarter", "month"):
        unit = "MONTH" if part != "year" else "YEAR"
        amount = n.sql if part != "quarter" else exp.Mul(this=n.sql, expression=N(3))
        interval = exp.Interval(this=exp.Cast(this=amount, to=dtype("VARCHAR")), unit=exp.Var(this=unit))
        return T(exp.Add(this=ts.sql, expression=interval), "datetime")
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


def _needs_python(fmt: str) -> bool:
    """Whether a format uses a specifier strftime cannot spell (y, yyy, f, ff, ffff, fffff, F...)."""
    i = 0
    while i < len(fmt):
        j = i
        while j < len(fmt) and fmt[j] == fmt[i]:
            j += 1
        run = fmt[i:j]
        if run[0] == "F" or (run[0] == "y" and len(run) not in (2, 4)):
            return True
        if run[0] == "f" and len(run) not in (3, 6, 7):
            return True
        i = j
    return False


def f_format_datetime(c: Compiler, args: list[T], node: A.Call) -> T:
    fmt = args[1].const
    if not isinstance(fmt, str):
        raise c.err("format_datetime() needs a constant format", node)
    if _needs_python(fmt):  # y, yyy, f/ff/ffff/fffff, F...: the full specifier set, in Python
        return py_value(c, "format_datetime", args, "string")
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
    return T(exp.Coalesce(this=call("strftime", args[0].sql, S(out)), expressions=[S("")]), "string")


def f_format_timespan(c: Compiler, args: list[T], node: A.Call) -> T:
    return to_string(args[0])


#: make_datetime's documented ranges: year, (month and day: the calendar's), hour, minute, second [low, high)
_MAKE_DATETIME_RANGES = {0: (1, 10_000), 3: (0, 24), 4: (0, 60), 5: (0, 60)}


def f_make_datetime(c: Compiler, args: list[T], node: A.Call) -> T:
    """make_datetime(year, month, day [, hour, minute [, second]]): null outside the documented ranges
    (year 1-9999, hour 0-23, minute 0-59, second 0 to 59.9999999), not rolled over into the next unit."""
    parts = [a.sql for a in args] + [N(0)] * (6 - len(args))
    if len(args) == 6:  # 100-ns ticks truncated to microseconds (59.9999999 stays in its minute)
        ticks = exp.Round(this=exp.Mul(this=parts[5], expression=N(10_000_000)))
        micros = exp.Floor(this=exp.Div(this=ticks, expression=N(10)))
        parts[5] = exp.Div(this=micros, expression=N(1_000_000))
    made: exp.Expression = call("make_timestamp", *parts[:6])
    if c.planner.dialect.name == "duckdb":  # an impossible date (month 13, 29 February 2017) is null
        made = call("try", made)
    checks = [
        exp.and_(
            exp.GTE(this=args[i].sql.copy(), expression=N(low)),
            exp.LT(this=args[i].sql.copy(), expression=N(high)),
        )
        for i, (low, high) in _MAKE_DATETIME_RANGES.items()
        if i < len(args)
    ]
    made = exp.If(this=exp.and_(*checks), true=made, false=exp.Null())
    return T(exp.Cast(this=made, to=dtype("TIMESTAMPTZ")), "datetime")


def f_make_timespan(c: Compiler, args: list[T], node: A.Call) -> T:
    units = (
        [86_400_000_000, 3_600_000_000, 60_000_000, 1_000_000]
        if len(args) == 4
        else [3_600_000_000, 60_000_000, 1_000_000]
    )
    total: exp.Expression = N(0)
    for a, u in zip(args, units, strict=False):
        total = exp.Add(this=total, expression=exp.Mul(this=a.sql, expression=N(u)))
    return T(exp.Cast(this=total, to=dtype("BIGINT")), "timespan")


def f_unixtime(unit_micros: int) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(
            c.planner.dialect.from_epoch_us(exp.Mul(this=args[0].sql, expression=N(unit_micros))), "datetime"
        )

    return lower


FUNCTIONS: dict[str, Function] = {
    "now": Function(f_now, (0, 1), "datetime"),
    "ago": Function(f_ago, (1, 1), "datetime"),
    "startofday": Function(trunc_fn("day"), (1, 2), "datetime"),
    "startofweek": Function(trunc_fn("week"), (1, 2), "datetime"),
    "startofmonth": Function(trunc_fn("month"), (1, 2), "datetime"),
    "startofyear": Function(trunc_fn("year"), (1, 2), "datetime"),
    "endofday": Function(end_fn("day"), (1, 2), "datetime"),
    "endofweek": Function(end_fn("week"), (1, 2), "datetime"),
    "endofmonth": Function(end_fn("month"), (1, 2), "datetime"),
    "endofyear": Function(end_fn("year"), (1, 2), "datetime"),
    "dayofweek": Function(f_dayofweek, (1, 1), "timespan"),
    "dayofmonth": Function(part_fn("day"), (1, 1), "long"),
    "dayofyear": Function(part_fn("doy"), (1, 1), "long"),
    "hourofday": Function(part_fn("hour"), (1, 1), "long"),
    "getyear": Function(part_fn("year"), (1, 1), "long"),
    "getmonth": Function(part_fn("month"), (1, 1), "long"),
    "monthofyear": Function(part_fn("month"), (1, 1), "long"),
    "week_of_year": Function(part_fn("week"), (1, 1), "long"),
    "datetime_part": Function(f_datetime_part, (2, 2), "long"),
    "datepart": Function(f_datetime_part, (2, 2), "long"),
    "datetime_diff": Function(f_datetime_diff, (3, 3), "long"),
    "datetime_add": Function(f_datetime_add, (3, 3), "datetime"),
    "format_datetime": Function(f_format_datetime, (2, 2), "string"),
    "make_datetime": Function(f_make_datetime, (3, 6), "datetime"),
    "make_timespan": Function(f_make_timespan, (2, 4), "timespan"),
    "unixtime_seconds_todatetime": Function(f_unixtime(1_000_000), (1, 1), "datetime"),
    "unixtime_milliseconds_todatetime": Function(f_unixtime(1000), (1, 1), "datetime"),
    "unixtime_microseconds_todatetime": Function(f_unixtime(1), (1, 1), "datetime"),
    "format_timespan": py_function("format_timespan", (2, 2), "string"),
    "unixtime_nanoseconds_todatetime": py_function("unixtime_nanoseconds_todatetime", (1, 1), "datetime"),
    "datetime_utc_to_local": py_function("datetime_utc_to_local", (2, 2), "datetime"),
    "datetime_local_to_utc": py_function("datetime_local_to_utc", (2, 2), "datetime"),
    "datetime_list_timezones": py_function("datetime_list_timezones", (0, 0), "dynamic"),
    "around": py_function("around", (3, 3), "bool"),
    "weekofyear": Function(part_fn("week"), (1, 1), "long"),
}
