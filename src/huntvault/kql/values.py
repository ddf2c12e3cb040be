"""Typed SQL values of the KQL lowering: the T wrapper, KQL types, literals and type conversions as sqlglot trees."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlglot import exp

from huntvault.errors import KqlSemanticError
from huntvault.kql import regexes

NOCONST: Any = object()

NUMERIC = ("int", "long", "real", "decimal")
#: KQL type -> SQL type name (sqlglot, DuckDB spelling); timespan is microseconds in a BIGINT.
SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "guid": "VARCHAR",
    "int": "INT",
    "long": "BIGINT",
    "real": "DOUBLE",
    "decimal": "DOUBLE",
    "bool": "BOOLEAN",
    "datetime": "TIMESTAMPTZ",
    "timespan": "BIGINT",
    "dynamic": "JSON",
    "null": "VARCHAR",
}


@dataclass
class T:
    """A lowered scalar: its sqlglot expression, KQL type, Python constant (when known) and a name hint."""

    sql: exp.Expression
    type: str
    const: Any = NOCONST
    name: str | None = None
    #: several named results (series_stats, series_decompose_anomalies...): extend/project make one column each
    parts: list[tuple[str, T]] | None = None

    @property
    def is_const(self) -> bool:
        return self.const is not NOCONST


_TYPES: dict[str, exp.DataType] = {}


def dtype(name: str) -> exp.DataType:
    """A SQL type by its DuckDB spelling (`BIGINT`, `JSON[]`), parsed once: types are leaves the lowering
    never changes, so one node serves every CAST."""
    found = _TYPES.get(name)
    if found is None:
        found = _TYPES[name] = exp.DataType.build(name, dialect="duckdb")
    return found


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    """A SQL function call by DuckDB name, typed by sqlglot when it knows the function (so it transpiles)."""
    return cast_expr(exp.func(name, *args, dialect="duckdb"))


def cast_expr(value: object) -> exp.Expression:
    """sqlglot types builders (and_, or_, func) as abstract bases; every node they build is an Expression."""
    assert isinstance(value, exp.Expression)
    return value


def _log(base: int) -> Callable[[list[exp.Expression]], exp.Expression]:
    return lambda a: exp.Log(this=exp.Literal.number(base), expression=a[0])


def _optional(arg: list[exp.Expression], i: int) -> exp.Expression | None:
    return arg[i] if len(arg) > i else None


def portable_regex(pattern: exp.Expression) -> exp.Expression:
    """A constant pattern in the regex syntax both backends read (kql/regexes.py)."""
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        text = pattern.this
        fixed = regexes.portable(text)
        if fixed != text:
            return exp.Literal.string(fixed)
    return pattern


#: DuckDB functions sqlglot has a typed node for: `call` builds the node, so each dialect's generator
#: spells it its own way (Spark: ARRAY_CONTAINS, RLIKE, LOCATE, UNBASE64, MAX_BY...); the rest stay calls
#: by name, which the dialects' function tables translate (dialects/spark.py, SPARK_FUNCTIONS).
TYPED: dict[str, Callable[[list[exp.Expression]], exp.Expression]] = {
    "list_contains": lambda a: exp.ArrayContains(this=a[0], expression=a[1]),
    "list_transform": lambda a: exp.Transform(this=a[0], expression=a[1]),
    "list_filter": lambda a: exp.ArrayFilter(this=a[0], expression=a[1]),
    "list_concat": lambda a: exp.ArrayConcat(this=a[0], expressions=a[1:]),
    "list_value": lambda a: exp.Array(expressions=a),
    "len": lambda a: exp.ArraySize(this=a[0]),
    "regexp_matches": lambda a: exp.RegexpLike(this=a[0], expression=portable_regex(a[1])),
    "regexp_extract": lambda a: exp.RegexpExtract(
        this=a[0], expression=portable_regex(a[1]), group=_optional(a, 2)
    ),
    "regexp_extract_all": lambda a: exp.RegexpExtractAll(
        this=a[0], expression=portable_regex(a[1]), group=_optional(a, 2)
    ),
    "regexp_replace": lambda a: exp.RegexpReplace(
        this=a[0], expression=portable_regex(a[1]), replacement=a[2], modifiers=_optional(a, 3)
    ),
    "strpos": lambda a: exp.StrPosition(this=a[0], substr=a[1]),
    "contains": lambda a: exp.Contains(this=a[0], expression=a[1]),
    "starts_with": lambda a: exp.StartsWith(this=a[0], expression=a[1]),
    "ends_with": lambda a: exp.EndsWith(this=a[0], expression=a[1]),
    "string_split": lambda a: exp.Split(this=a[0], expression=a[1]),
    "array_to_string": lambda a: exp.ArrayToString(this=a[0], expression=a[1]),
    "reverse": lambda a: exp.Reverse(this=a[0]),
    "repeat": lambda a: exp.Repeat(this=a[0], times=a[1]),
    "hex": lambda a: exp.Hex(this=a[0]),
    "md5": lambda a: exp.MD5(this=a[0]),
    "sha1": lambda a: exp.SHA(this=a[0]),
    "sha256": lambda a: exp.SHA2(this=a[0], length=exp.Literal.number(256)),
    "from_base64": lambda a: exp.FromBase64(this=a[0]),
    "to_base64": lambda a: exp.ToBase64(this=a[0]),
    "encode": lambda a: exp.Encode(this=a[0], charset=exp.Literal.string("utf-8")),
    "decode": lambda a: exp.Decode(this=a[0], charset=exp.Literal.string("utf-8")),
    "uuid": lambda a: exp.Uuid(),
    "random": lambda a: exp.Rand(),
    "sign": lambda a: exp.Sign(this=a[0]),
    "sqrt": lambda a: exp.Sqrt(this=a[0]),
    "ln": lambda a: exp.Ln(this=a[0]),
    "exp": lambda a: exp.Exp(this=a[0]),
    "log10": _log(10),
    "log2": _log(2),
    "pow": lambda a: exp.Pow(this=a[0], expression=a[1]),
    "ceiling": lambda a: exp.Ceil(this=a[0]),
    "round": lambda a: exp.Round(this=a[0], decimals=_optional(a, 1)),
    "row_number": lambda a: exp.RowNumber(),
    "lag": lambda a: exp.Lag(this=a[0], offset=_optional(a, 1), default=_optional(a, 2)),
    "lead": lambda a: exp.Lead(this=a[0], offset=_optional(a, 1), default=_optional(a, 2)),
    "arg_max": lambda a: exp.ArgMax(this=a[0], expression=a[1]),
    "arg_min": lambda a: exp.ArgMin(this=a[0], expression=a[1]),
    "struct_extract": lambda a: exp.StructExtract(this=a[0], expression=a[1]),
    "json_keys": lambda a: exp.JSONKeys(this=a[0]),
    "map_from_entries": lambda a: exp.MapFromEntries(this=a[0]),
    "stddev_samp": lambda a: exp.StddevSamp(this=a[0]),
    "stddev_pop": lambda a: exp.StddevPop(this=a[0]),
    "var_samp": lambda a: exp.Variance(this=a[0]),
    "var_pop": lambda a: exp.VariancePop(this=a[0]),
    "bit_or": lambda a: exp.BitwiseOrAgg(this=a[0]),
    "bit_and": lambda a: exp.BitwiseAndAgg(this=a[0]),
}


def call(name: str, *args: exp.Expression) -> exp.Expression:
    """A call of the DuckDB function `name`: sqlglot's typed node when there is one (TYPED), else a call by
    name (dialects translate it)."""
    typed = TYPED.get(name)
    return typed(list(args)) if typed is not None else exp.Anonymous(this=name, expressions=list(args))


def S(text: str) -> exp.Expression:
    """A SQL string literal."""
    return exp.Literal.string(text)


def N(value: int | float) -> exp.Expression:
    """A SQL number literal."""
    return exp.Literal.number(value)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(
        this=exp.to_identifier(name, quoted=True),
        table=exp.to_identifier(table, quoted=True) if table else None,
    )


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def alias(e: exp.Expression, name: str) -> exp.Alias:
    return exp.Alias(this=e, alias=ident(name))


def string(value: str) -> T:
    return T(exp.Literal.string(value), "string", value)


def cast(e: exp.Expression, kql_type: str, safe: bool = False) -> exp.Expression:
    to = dtype(SQL_TYPES[kql_type])
    return exp.TryCast(this=e, to=to) if safe else exp.Cast(this=e, to=to)


def null_of(kql_type: str) -> T:
    return T(cast(exp.Null(), kql_type if kql_type != "null" else "string"), kql_type, None)


def fmt_datetime(value: datetime) -> str:
    u = value.astimezone(UTC)
    return f"{u.year:04d}" + u.strftime("-%m-%d %H:%M:%S.%f+00")  # %Y leaves years before 1000 unpadded


def literal(value: Any, kql_type: str) -> T:
    """A constant of a KQL type as SQL."""
    if value is None:
        return null_of(kql_type if kql_type != "null" else "null")
    if kql_type in ("string", "guid"):
        return T(exp.Literal.string(str(value)), kql_type, str(value))
    if kql_type in ("long", "int"):
        return T(exp.Cast(this=exp.Literal.number(int(value)), to=dtype("BIGINT")), "long", int(value))
    if kql_type in ("real", "decimal"):
        v = float(value)
        if v != v or v in (float("inf"), float("-inf")):
            return T(exp.Cast(this=exp.Literal.string(str(v)), to=dtype("DOUBLE")), "real", v)
        return T(exp.Cast(this=exp.Literal.number(repr(v)), to=dtype("DOUBLE")), "real", v)
    if kql_type == "bool":
        return T(exp.Boolean(this=bool(value)), "bool", bool(value))
    if kql_type == "datetime":
        if not isinstance(value, datetime):
            raise KqlSemanticError(f"not a datetime: {value!r}")
        return T(
            exp.Cast(this=exp.Literal.string(fmt_datetime(value)), to=dtype("TIMESTAMPTZ")),
            "datetime",
            value,
        )
    if kql_type == "timespan":
        micros = round(float(value))
        return T(exp.Cast(this=exp.Literal.number(micros), to=dtype("BIGINT")), "timespan", micros)
    if kql_type == "dynamic":
        text = json.dumps(value, separators=(",", ":"), default=_json_default)
        return T(
            exp.Cast(this=exp.Literal.string(text), to=dtype("JSON")),
            "dynamic",
            value,
        )
    raise KqlSemanticError(f"unsupported literal type {kql_type}")


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime):
        u = v.astimezone(UTC)  # four-digit years before 1000 too; 7 digits, as pack() writes it
        return f"{u.year:04d}" + u.strftime("-%m-%dT%H:%M:%S.%f0Z")
    raise TypeError(repr(v))


def promote(a: str, b: str) -> str:
    """The result type of arithmetic between two numeric KQL types."""
    if "real" in (a, b) or "decimal" in (a, b):
        return "real"
    return "long"


def to_string(v: T) -> T:
    """KQL tostring(): never null; dynamic strings unquoted; datetimes ISO 8601 with Z."""
    t = v.type
    if t in ("string", "guid"):
        return T(v.sql, "string", v.const if v.is_const else NOCONST, v.name)
    if v.is_const and v.const is None:
        return string("")
    if t == "dynamic":
        return T(
            exp.Coalesce(
                this=fn("json_extract_string", v.sql, exp.Literal.string("$")),
                expressions=[exp.Literal.string("")],
            ),
            "string",
            name=v.name,
        )
    if t == "datetime":  # Kusto always prints 7 fractional digits (hashes of datetimes depend on it)
        body = fn("strftime", v.sql, exp.Literal.string("%Y-%m-%dT%H:%M:%S.%f0Z"))
        return T(exp.Coalesce(this=body, expressions=[exp.Literal.string("")]), "string", name=v.name)
    if t == "timespan":
        return T(
            exp.Coalesce(this=timespan_text(v.sql), expressions=[exp.Literal.string("")]),
            "string",
            name=v.name,
        )
    if t == "bool":
        return T(
            exp.Coalesce(
                this=exp.Case(
                    ifs=[exp.If(this=v.sql, true=exp.Literal.string("true"))],
                    default=exp.Literal.string("false"),
                ),
                expressions=[exp.Literal.string("")],
            )
            if True
            else v.sql,
            "string",
            name=v.name,
        )
    if t == "null":
        return string("")
    if t == "real":
        return T(
            exp.Coalesce(this=real_text(v.sql), expressions=[exp.Literal.string("")]), "string", name=v.name
        )
    return T(
        exp.Coalesce(this=exp.Cast(this=v.sql, to=dtype("VARCHAR")), expressions=[exp.Literal.string("")]),
        "string",
        name=v.name,
    )


def real_text(x: exp.Expression) -> exp.Expression:
    """Kusto's text of a real: whole values without `.0`, `NaN`, `Infinity`, `-Infinity`, else the shortest
    round-trip digits."""
    text = exp.Upper(this=exp.Cast(this=x, to=dtype("VARCHAR")))  # 1E+20 as .NET writes it
    inf = exp.Cast(this=exp.Literal.string("Infinity"), to=dtype("DOUBLE"))
    return exp.Case(
        ifs=[
            exp.If(this=call("isnan", x), true=exp.Literal.string("NaN")),
            exp.If(this=exp.EQ(this=x, expression=inf), true=exp.Literal.string("Infinity")),
            exp.If(
                this=exp.EQ(this=x, expression=exp.Neg(this=inf)),
                true=exp.Literal.string("-Infinity"),
            ),
            exp.If(
                this=exp.And(
                    this=exp.EQ(this=x, expression=call("trunc", x)),
                    expression=exp.LT(this=exp.Abs(this=x), expression=exp.Literal.number("1e15")),
                ),
                true=exp.Cast(this=exp.Cast(this=x, to=dtype("BIGINT")), to=dtype("VARCHAR")),
            ),
        ],
        default=text,
    )


def timespan_text(micros: exp.Expression) -> exp.Expression:
    """Kusto's timespan text `[-][d.]hh:mm:ss[.fffffff]` from microseconds."""
    a = exp.Abs(this=micros)
    days = exp.IntDiv(this=a, expression=exp.Literal.number(86_400_000_000))
    rest = exp.Mod(this=a, expression=exp.Literal.number(86_400_000_000))
    hh = exp.IntDiv(this=rest, expression=exp.Literal.number(3_600_000_000))
    mm = exp.Mod(
        this=exp.IntDiv(this=rest, expression=exp.Literal.number(60_000_000)),
        expression=exp.Literal.number(60),
    )
    ss = exp.Mod(
        this=exp.IntDiv(this=rest, expression=exp.Literal.number(1_000_000)),
        expression=exp.Literal.number(60),
    )
    frac = exp.Mod(this=rest, expression=exp.Literal.number(1_000_000))
    sign = exp.Case(
        ifs=[
            exp.If(this=exp.LT(this=micros, expression=exp.Literal.number(0)), true=exp.Literal.string("-"))
        ],
        default=exp.Literal.string(""),
    )
    dpart = exp.Case(
        ifs=[
            exp.If(
                this=exp.GT(this=days, expression=exp.Literal.number(0)),
                true=exp.DPipe(
                    this=exp.Cast(this=days, to=dtype("VARCHAR")),
                    expression=exp.Literal.string("."),
                ),
            )
        ],
        default=exp.Literal.string(""),
    )
    clock = fn("printf", exp.Literal.string("%02d:%02d:%02d"), hh, mm, ss)
    fpart = exp.Case(
        ifs=[
            exp.If(
                this=exp.GT(this=frac, expression=exp.Literal.number(0)),
                true=fn("printf", exp.Literal.string(".%06d0"), frac),
            )
        ],
        default=exp.Literal.string(""),
    )
    return exp.DPipe(
        this=exp.DPipe(this=exp.DPipe(this=sign, expression=dpart), expression=clock), expression=fpart
    )


#: Kusto's timespan text: [-][d.]hh:mm[:ss[.fffffff]]
_TIMESPAN_TEXT = r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$"


def timespan_from_text(text: exp.Expression) -> exp.Expression:
    """Microseconds of a timespan written as Kusto writes it (`1.02:03:04.5`), else of an interval DuckDB
    reads (`2 days`), else null: the run-time half of totimespan() and of dynamic -> timespan."""

    def part(group: int) -> exp.Expression:
        got = call("regexp_extract", text.copy(), S(_TIMESPAN_TEXT), N(group))
        return exp.Coalesce(
            this=exp.TryCast(this=call("nullif", got, S("")), to=dtype("BIGINT")), expressions=[N(0)]
        )

    days, hours, minutes, seconds = part(2), part(3), part(4), part(5)
    whole = exp.Add(
        this=exp.Mul(
            this=exp.Add(this=exp.Mul(this=days, expression=N(24)), expression=hours), expression=N(60)
        ),
        expression=minutes,
    )
    whole_s = exp.Add(this=exp.Mul(this=whole, expression=N(60)), expression=seconds)
    ticks = call("rpad", call("regexp_extract", text.copy(), S(_TIMESPAN_TEXT), N(6)), N(7), S("0"))
    frac = exp.Div(this=exp.TryCast(this=ticks, to=dtype("BIGINT")), expression=N(10))
    micros = exp.Add(
        this=exp.Mul(this=whole_s, expression=N(1_000_000)),
        expression=exp.Cast(this=frac, to=dtype("BIGINT")),
    )
    negative = exp.EQ(this=call("regexp_extract", text.copy(), S(_TIMESPAN_TEXT), N(1)), expression=S("-"))
    signed = exp.Case(
        ifs=[exp.If(this=negative, true=exp.Neg(this=exp.Paren(this=micros)))], default=micros.copy()
    )
    matched = exp.NEQ(this=call("regexp_extract", text.copy(), S(_TIMESPAN_TEXT), N(3)), expression=S(""))
    interval = exp.Mul(
        this=call("epoch", exp.TryCast(this=text.copy(), to=dtype("INTERVAL"))), expression=N(1_000_000)
    )
    return exp.Cast(
        this=exp.Case(ifs=[exp.If(this=matched, true=signed)], default=interval), to=dtype("BIGINT")
    )


def to_dynamic(v: T) -> T:
    """A value as dynamic (JSON)."""
    if v.type == "dynamic":
        return v
    if v.is_const and v.const is None:
        return null_of("dynamic")
    if v.type in ("string", "guid"):
        return T(fn("to_json", v.sql), "dynamic", name=v.name)
    if v.type in ("datetime", "timespan"):  # a dynamic holds their text (`"00:00:02"`), as Kusto's does
        return T(fn("to_json", to_string(v).sql), "dynamic", name=v.name)
    return T(fn("to_json", v.sql), "dynamic", name=v.name)


def convert(v: T, kql_type: str) -> T:
    """Safe conversion (null on failure), as Kusto's to<type>() functions do."""
    if kql_type in ("string", "guid"):
        return to_string(v)
    if kql_type == "dynamic":
        return to_dynamic(v)
    if v.type == kql_type:
        return v
    if v.type == "dynamic":
        inner = fn("json_extract_string", v.sql, exp.Literal.string("$"))
        return convert(T(inner, "string"), kql_type)
    if kql_type == "datetime" and v.type in ("string", "guid"):
        # ISO text casts directly; Kusto also reads the US forms (MM/dd/yyyy [HH:mm[:ss]])
        us = [
            cast(fn("try_strptime", v.sql.copy(), exp.Literal.string(f)), "datetime", safe=True)
            for f in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")
        ]
        return T(
            exp.Coalesce(this=cast(v.sql, "datetime", safe=True), expressions=us), "datetime", name=v.name
        )
    if kql_type == "datetime" and v.type in NUMERIC:
        return null_of("datetime")
    if kql_type == "timespan" and v.type in ("string", "guid"):
        return T(timespan_from_text(v.sql), "timespan", name=v.name)
    if kql_type == "bool" and v.type in ("string", "guid"):
        low = exp.Lower(this=exp.Trim(this=v.sql))
        return T(
            exp.Case(
                ifs=[
                    exp.If(this=exp.EQ(this=low, expression=exp.Literal.string("true")), true=exp.true()),
                    exp.If(this=exp.EQ(this=low, expression=exp.Literal.string("false")), true=exp.false()),
                    exp.If(this=exp.EQ(this=low, expression=exp.Literal.string("1")), true=exp.true()),
                    exp.If(this=exp.EQ(this=low, expression=exp.Literal.string("0")), true=exp.false()),
                ],
                default=exp.Null(),
            ),
            "bool",
            name=v.name,
        )
    if kql_type == "bool" and v.type in NUMERIC:
        return T(exp.NEQ(this=v.sql, expression=exp.Literal.number(0)), "bool", name=v.name)
    if kql_type in ("int", "long") and v.type in ("real", "decimal"):
        return T(
            exp.TryCast(
                this=exp.Anonymous(this="trunc", expressions=[v.sql]),
                to=dtype(SQL_TYPES[kql_type]),
            ),
            kql_type,
            name=v.name,
        )
    if kql_type in ("int", "long") and v.type in ("string", "guid"):
        as_real = exp.TryCast(this=v.sql, to=dtype("DOUBLE"))
        whole = call("regexp_matches", v.sql, exp.Literal.string(r"^\s*[-+]?\d+\s*$"))
        return T(
            exp.Case(
                ifs=[exp.If(this=whole, true=exp.TryCast(this=v.sql, to=dtype(SQL_TYPES[kql_type])))],
                default=exp.TryCast(this=call("trunc", as_real), to=dtype(SQL_TYPES[kql_type])),
            ),
            kql_type,
            name=v.name,
        )
    if kql_type in NUMERIC and v.type == "datetime":
        return T(call("epoch_us", v.sql), kql_type, name=v.name)  # ticks-like; rarely used
    if kql_type in NUMERIC and v.type == "bool":
        return T(exp.Cast(this=v.sql, to=dtype(SQL_TYPES[kql_type])), kql_type, name=v.name)
    return T(
        exp.TryCast(this=v.sql, to=dtype(SQL_TYPES[kql_type])),
        kql_type,
        name=v.name,
    )


def as_bool(v: T) -> exp.Expression:
    if v.type == "bool":
        return v.sql
    return convert(v, "bool").sql
