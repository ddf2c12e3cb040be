"""Math and rounding: abs, round, sqrt, log*, exp, pow, ceiling, sign, min_of/max_of, rand, bin/floor, bin_at,
bin_auto."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from huntvault.errors import KqlSemanticError
from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function, Lowering, same_as
from huntvault.kql.lowering.coerce import type_argument, unify
from huntvault.kql.lowering.pycall import py_function, py_value
from huntvault.kql.values import N, S, T, call, cast_expr, convert, dtype


def math_fn(name: str, kind: str = "real", arity: tuple[int, int] = (1, 1)) -> Function:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(call(name, *(convert(a, "real").sql if a.type == "dynamic" else a.sql for a in args)), kind)

    return Function(lower, arity, kind)


#: the argument range outside which a function's page documents a null result
_DOMAINS: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "ln": lambda x: exp.LT(this=x, expression=N(0)),
    "log10": lambda x: exp.LT(this=x, expression=N(0)),
    "log2": lambda x: exp.LT(this=x, expression=N(0)),
    "sqrt": lambda x: exp.LT(this=x, expression=N(0)),
    "acos": lambda x: exp.Or(
        this=exp.LT(this=x, expression=N(-1)), expression=exp.GT(this=x, expression=N(1))
    ),
    "asin": lambda x: exp.Or(
        this=exp.LT(this=x, expression=N(-1)), expression=exp.GT(this=x, expression=N(1))
    ),
}


def domain_fn(name: str) -> Function:
    """A function null outside its documented domain: log, log10, log2, sqrt (negative: null, the log and sqrt
    pages; log of 0 is -inf) and acos, asin (outside [-1, 1]: null, their pages)."""
    outside = _DOMAINS[name]

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        x = convert(args[0], "real").sql if args[0].type == "dynamic" else args[0].sql
        return T(
            exp.Case(ifs=[exp.If(this=outside(x), true=exp.Null())], default=call(name, x.copy())), "real"
        )

    return Function(lower, (1, 1), "real")


def f_exp_base(base: int) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(call("pow", N(base), exp.Cast(this=args[0].sql, to=dtype("DOUBLE"))), "real")

    return lower


def f_isnum(name: str) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(call(name, exp.Cast(this=args[0].sql, to=dtype("DOUBLE"))), "bool")

    return lower


def f_binary(kind: type[exp.Binary]) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        a, b = (exp.Cast(this=x.sql, to=dtype("BIGINT")) for x in args)
        return T(cast_expr(kind(this=a, expression=b)), "long")

    return lower


_TWO_64 = 2**64


def f_shift(left: bool) -> Lowering:
    """binary_shift_left/right(value, shift): value shifted by shift % 64, null for a negative shift; a left
    shift wraps in 64 bits as Kusto's does (DuckDB's << rejects an overflow and a negative value, so the
    left shift is a multiplication modulo 2^64 in 128 bits)."""

    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        value, shift = (exp.Cast(this=x.sql, to=dtype("BIGINT")) for x in args)
        k = exp.Mod(this=shift, expression=N(64))
        out: exp.Expression
        if not left:
            out = exp.BitwiseRightShift(this=value, expression=k)
        elif c.planner.dialect.name != "duckdb":  # Spark's shiftleft wraps in 64 bits itself
            out = exp.BitwiseLeftShift(this=value, expression=k)
        else:
            big = dtype("HUGEINT")
            power = exp.BitwiseLeftShift(this=exp.Cast(this=N(1), to=big), expression=k)
            product = exp.Mul(this=exp.Cast(this=value.copy(), to=big), expression=power)
            modulus = exp.Cast(this=N(_TWO_64), to=big)
            wrapped = exp.Mod(
                this=exp.Paren(
                    this=exp.Add(this=exp.Mod(this=product, expression=modulus), expression=modulus.copy())
                ),
                expression=modulus.copy(),
            )
            signed = exp.Case(
                ifs=[
                    exp.If(
                        this=exp.GTE(this=wrapped, expression=N(2**63)),
                        true=exp.Sub(this=wrapped.copy(), expression=modulus.copy()),
                    )
                ],
                default=wrapped.copy(),
            )
            out = exp.Cast(this=signed, to=dtype("BIGINT"))
        negative = exp.LT(this=shift.copy(), expression=N(0))
        return T(exp.Case(ifs=[exp.If(this=negative, true=exp.Null())], default=cast_expr(out)), "long")

    return lower


def f_binary_not(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.BitwiseNot(this=exp.Cast(this=args[0].sql, to=dtype("BIGINT"))), "long")


def f_bitset_count_ones(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(
        exp.Cast(this=call("bit_count", exp.Cast(this=args[0].sql, to=dtype("BIGINT"))), to=dtype("BIGINT")),
        "long",
    )


def f_percentile_tdigest(c: Compiler, args: list[T], node: A.Call) -> T:
    """percentile_tdigest(digest, p [, typeof(t)]): the value, as a real unless a type is given."""
    kind = type_argument(args[2]) if len(args) > 2 else "real"
    if kind is None:
        raise c.err(f"{node.name}() takes the result type as typeof(type)", node)
    value = convert(py_value(c, "percentile_tdigest", args[:2], "dynamic"), kind)
    # an unnamed call is named percentile_tdigest_<digest column> (the rank_tdigest page)
    name = f"percentile_tdigest_{args[0].name}" if args[0].name else None
    return T(value.sql, value.type, value.const, name=name)


def f_percentile_array_tdigest(c: Compiler, args: list[T], node: A.Call) -> T:
    """percentile(s)_array_tdigest(digest, p1 [, p2...]) or (digest, dynamic([p...]) [, typeof(t)]): an array,
    its values converted to t when a type is given."""
    kind = ""
    if len(args) > 2 and args[-1].is_const and isinstance(args[-1].const, str):
        kind = type_argument(args[-1]) or ""
        if not kind:
            raise c.err(f"{node.name}() takes the result type as typeof(type)", node)
        args = args[:-1]
    return py_value(
        c, "percentile_array_tdigest", [args[0], T(S(kind), "string", kind), *args[1:]], "dynamic"
    )


def f_dcount_hll(c: Compiler, args: list[T], node: A.Call) -> T:
    """dcount_hll(hll): the estimate; an unnamed call is named dcount_hll_<hll column> (the hll_merge page)."""
    value = py_value(c, "dcount_hll", args, "long")
    name = f"dcount_hll_{args[0].name}" if args[0].name else None
    return T(value.sql, value.type, value.const, name=name)


def f_abs(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Abs(this=args[0].sql), args[0].type)


def f_round(c: Compiler, args: list[T], node: A.Call) -> T:
    """Kusto's rounding: scale by 10^digits (digits may be negative), round half away from zero, scale back,
    so round(2.15, 1) is 2.2 (2.15 * 10 is 21.5 in doubles) where a decimal-exact round gives 2.1."""
    x = exp.Cast(this=args[0].sql, to=dtype("DOUBLE"))
    if len(args) == 1:
        scaled: exp.Expression = x
    else:
        scale = call("pow", exp.Literal.number("10.0"), exp.Cast(this=args[1].sql, to=dtype("DOUBLE")))
        scaled = exp.Mul(this=x, expression=scale)
    # 0.49999999999999994 (the double just below 0.5): x.5 goes up, x.49999999999999994 does not
    half_up = call(
        "floor",
        exp.Add(this=call("abs", scaled.copy()), expression=exp.Literal.number("0.49999999999999994")),
    )
    rounded: exp.Expression = exp.Mul(this=call("sign", scaled), expression=half_up)
    if len(args) > 1:
        rounded = exp.Div(this=rounded, expression=scale.copy())
    return T(exp.Cast(this=rounded, to=dtype("DOUBLE")), "real")


def f_minmax_of(name: str) -> Lowering:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        values = unify(args)
        return T(call(name, *(v.sql for v in values)), values[0].type)

    return lower


def f_rand(c: Compiler, args: list[T], node: A.Call) -> T:
    value = call("random")
    if args:  # rand(n): an integer in [0, n)
        scaled = call("floor", exp.Mul(this=value, expression=args[0].sql))
        return T(exp.Cast(this=scaled, to=dtype("BIGINT")), "long")
    return T(value, "real")


def f_bin(c: Compiler, args: list[T], node: A.Call) -> T:
    """bin(v, size): v rounded down to a multiple of size; null for a null, zero or negative size."""
    binned = _bin(c, args)
    size = args[1]
    if size.is_const and isinstance(size.const, (int, float)) and size.const > 0:
        return binned
    bad = exp.Not(this=exp.GT(this=size.sql.copy(), expression=N(0)))
    return T(
        exp.Case(ifs=[exp.If(this=bad, true=exp.Null())], default=binned.sql), binned.type, name=binned.name
    )


def _bin(c: Compiler, args: list[T]) -> T:
    v, size = args
    d = c.planner.dialect
    if v.type == "datetime":
        us = d.epoch_us(v.sql)
        floored = exp.Mul(this=call("floor", exp.Div(this=us, expression=size.sql)), expression=size.sql)
        return T(d.from_epoch_us(floored), "datetime", name=v.name)
    if v.type == "timespan":
        floored = exp.Mul(this=call("floor", exp.Div(this=v.sql, expression=size.sql)), expression=size.sql)
        return T(exp.Cast(this=floored, to=dtype("BIGINT")), "timespan", name=v.name)
    kind = "real" if "real" in (v.type, size.type) else "long"
    as_double = exp.Cast(this=v.sql, to=dtype("DOUBLE"))
    floor = exp.Mul(this=call("floor", exp.Div(this=as_double, expression=size.sql)), expression=size.sql)
    return T(
        exp.Cast(this=floor, to=dtype("BIGINT" if kind == "long" else "DOUBLE")),
        kind,
        name=v.name,
    )


def f_bin_at(c: Compiler, args: list[T], node: A.Call) -> T:
    v, size, at = args
    d = c.planner.dialect
    if v.type == "datetime":
        us = exp.Sub(this=d.epoch_us(v.sql), expression=d.epoch_us(at.sql))
        b = exp.Mul(this=call("floor", exp.Div(this=us, expression=size.sql)), expression=size.sql)
        return T(d.from_epoch_us(exp.Add(this=b, expression=d.epoch_us(at.sql))), "datetime", name=v.name)
    diff = exp.Sub(this=v.sql, expression=at.sql)
    b2 = exp.Add(
        this=exp.Mul(this=call("floor", exp.Div(this=diff, expression=size.sql)), expression=size.sql),
        expression=at.sql,
    )
    kind = dtype("DOUBLE" if v.type == "real" else "BIGINT")
    return T(exp.Cast(this=b2, to=kind), v.type, name=v.name)


def _setting(c: Compiler, name: str, node: A.Call) -> T | None:
    """The value of `set name = ...;` (bound like a let of that name), None when the query sets none."""
    try:
        return c.compile(A.Name(name, pos=node.pos))
    except KqlSemanticError:
        return None


def f_bin_auto(c: Compiler, args: list[T], node: A.Call) -> T:
    """bin_auto(v): bin(v, query_bin_auto_size), shifted so that query_bin_auto_at (default 0) is a bin's start."""
    size = _setting(c, "query_bin_auto_size", node)
    if size is None:
        raise c.err(
            "bin_auto() needs the bin size: put `set query_bin_auto_size=<size>;` before the query", node
        )
    if size.type not in ("int", "long", "real", "decimal", "timespan"):
        raise c.err(f"query_bin_auto_size must be a number or a timespan, not a {size.type}", node)
    at = _setting(c, "query_bin_auto_at", node)
    if at is not None and at.type not in ("int", "long", "real", "decimal", "timespan", "datetime"):
        raise c.err(f"query_bin_auto_at must be a number, a timespan or a datetime, not a {at.type}", node)
    if at is None:
        return f_bin(c, [args[0], size], node)
    return f_bin_at(c, [args[0], size, at], node)


FUNCTIONS: dict[str, Function] = {
    "abs": Function(f_abs, (1, 1), same_as(0)),
    "round": Function(f_round, (1, 2), "real"),
    "sqrt": domain_fn("sqrt"),
    "log": domain_fn("ln"),
    "log10": domain_fn("log10"),
    "log2": domain_fn("log2"),
    "exp": math_fn("exp"),
    "pow": math_fn("pow", arity=(2, 2)),
    "power": math_fn("pow", arity=(2, 2)),
    "ceiling": math_fn("ceiling"),
    "sign": math_fn("sign", "long"),
    "max_of": Function(f_minmax_of("greatest"), (1, 64), None),
    "min_of": Function(f_minmax_of("least"), (1, 64), None),
    "rand": Function(f_rand, (0, 1), None),
    "bin": Function(f_bin, (2, 2), None, keeps_name=False),
    "floor": Function(f_bin, (2, 2), None),
    "bin_at": Function(f_bin_at, (3, 3), None),
    "bin_auto": Function(f_bin_auto, (1, 1), None),
    "beta_cdf": py_function("beta_cdf", (3, 3), "real"),
    "beta_pdf": py_function("beta_pdf", (3, 3), "real"),
    "beta_inv": py_function("beta_inv", (3, 3), "real"),
    "welch_test": py_function("welch_test", (6, 6), "real"),
    "erf": py_function("erf", (1, 1), "real"),
    "erfc": py_function("erfc", (1, 1), "real"),
    "gamma": py_function("gamma", (1, 1), "real"),
    "loggamma": py_function("loggamma", (1, 1), "real"),
    "convert_length": py_function("convert_length", (3, 3), "real"),
    "convert_volume": py_function("convert_volume", (3, 3), "real"),
    "convert_mass": py_function("convert_mass", (3, 3), "real"),
    "convert_speed": py_function("convert_speed", (3, 3), "real"),
    "convert_energy": py_function("convert_energy", (3, 3), "real"),
    "convert_force": py_function("convert_force", (3, 3), "real"),
    "convert_angle": py_function("convert_angle", (3, 3), "real"),
    "convert_temperature": py_function("convert_temperature", (3, 3), "real"),
    "cos": math_fn("cos"),
    "sin": math_fn("sin"),
    "tan": math_fn("tan"),
    "acos": domain_fn("acos"),
    "asin": domain_fn("asin"),
    "atan": math_fn("atan"),
    "atan2": math_fn("atan2", arity=(2, 2)),
    "cot": math_fn("cot"),
    "degrees": math_fn("degrees"),
    "radians": math_fn("radians"),
    "pi": math_fn("pi", arity=(0, 0)),
    "exp2": Function(f_exp_base(2), (1, 1), "real"),
    "exp10": Function(f_exp_base(10), (1, 1), "real"),
    "isnan": Function(f_isnum("isnan"), (1, 1), "bool"),
    "isinf": Function(f_isnum("isinf"), (1, 1), "bool"),
    "isfinite": Function(f_isnum("isfinite"), (1, 1), "bool"),
    "binary_and": Function(f_binary(exp.BitwiseAnd), (2, 2), "long"),
    "binary_or": Function(f_binary(exp.BitwiseOr), (2, 2), "long"),
    "binary_xor": Function(f_binary(exp.BitwiseXor), (2, 2), "long"),
    "binary_shift_left": Function(f_shift(left=True), (2, 2), "long"),
    "binary_shift_right": Function(f_shift(left=False), (2, 2), "long"),
    "binary_not": Function(f_binary_not, (1, 1), "long"),
    "bitset_count_ones": Function(f_bitset_count_ones, (1, 1), "long"),
    "percentile_tdigest": Function(f_percentile_tdigest, (2, 3), None, keeps_name=True),
    "percentile_array_tdigest": Function(f_percentile_array_tdigest, (2, None), "dynamic"),
    "percentiles_array_tdigest": Function(f_percentile_array_tdigest, (2, None), "dynamic"),
    "rank_tdigest": py_function("rank_tdigest", (2, 2), "long"),
    "percentrank_tdigest": py_function("percentrank_tdigest", (2, 2), "real"),
    "merge_tdigest": py_function("merge_tdigest", (1, None), "dynamic"),
    "hll_merge": py_function("hll_merge", (2, 64), "dynamic"),
    "dcount_hll": Function(f_dcount_hll, (1, 1), "long", keeps_name=True),
}
