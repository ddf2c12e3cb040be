"""Encodings: base64 to and from strings."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.values import S, T, anon, to_string


def f_base64_decode(c: Compiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    return T(
        exp.Coalesce(this=anon("try", anon("decode", anon("from_base64", s))), expressions=[S("")]), "string"
    )


def f_base64_encode(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(anon("to_base64", anon("encode", to_string(args[0]).sql)), "string")


FUNCTIONS: dict[str, Function] = {
    "base64_decode_tostring": Function(f_base64_decode, (1, 1), "string"),
    "base64_decodestring": Function(f_base64_decode, (1, 1), "string"),
    "base64_encode_tostring": Function(f_base64_encode, (1, 1), "string"),
    "base64_encodestring": Function(f_base64_encode, (1, 1), "string"),
}
