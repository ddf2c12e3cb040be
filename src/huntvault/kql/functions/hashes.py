"""Hashes and identifiers: hash, hash_md5, hash_sha1, hash_sha256, new_guid."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.values import N, T, call, dtype, to_string


def hash_fn(name: str) -> Function:
    def lower(c: Compiler, args: list[T], node: A.Call) -> T:
        return T(call(name, to_string(args[0]).sql), "string")

    return Function(lower, (1, 1), "string")


def f_hash(c: Compiler, args: list[T], node: A.Call) -> T:
    h: exp.Expression = exp.Cast(this=call("hash", to_string(args[0]).sql), to=dtype("HUGEINT"))
    if len(args) > 1:
        h = exp.Mod(this=h, expression=args[1].sql)
    else:  # DuckDB's hash is an unsigned 64-bit value: read it as a signed long, as Kusto's hash is
        wrapped = exp.Sub(this=h, expression=N(2**64))
        h = exp.Case(ifs=[exp.If(this=exp.GTE(this=h, expression=N(2**63)), true=wrapped)], default=h)
    return T(exp.Cast(this=h, to=dtype("BIGINT")), "long")


def f_new_guid(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(exp.Cast(this=call("uuid"), to=dtype("VARCHAR")), "guid")


FUNCTIONS: dict[str, Function] = {
    "hash_md5": hash_fn("md5"),
    "hash_sha256": hash_fn("sha256"),
    "hash_sha1": hash_fn("sha1"),
    "hash": Function(f_hash, (1, 2), "long"),
    "new_guid": Function(f_new_guid, (0, 0), "guid"),
}
