"""Encodings: base64 to and from strings."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.values import S, T, call, to_string


def f_base64_decode(c: Compiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    return T(
        exp.Coalesce(this=call("try", call("decode", call("from_base64", s))), expressions=[S("")]), "string"
    )


def f_base64_encode(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("to_base64", call("encode", to_string(args[0]).sql)), "string")


FUNCTIONS: dict[str, Function] = {
    "base64_decode_tostring": Function(f_base64_decode, (1, 1), "string"),
    "base64_decodestring": Function(f_base64_decode, (1, 1), "string"),
    "base64_encode_tostring": Function(f_base64_encode, (1, 1), "string"),
    "base64_encodestring": Function(f_base64_encode, (1, 1), "string"),
}
