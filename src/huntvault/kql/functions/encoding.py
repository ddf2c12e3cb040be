"""Encodings: base64 to and from strings."""

from __future__ import annotations

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Compiler, Function
from huntvault.kql.lowering.pycall import py_function, py_value
from huntvault.kql.values import S, T, call, to_string


def f_base64_decode(c: Compiler, args: list[T], node: A.Call) -> T:
    s = to_string(args[0]).sql
    return T(
        exp.Coalesce(this=call("try", call("decode", call("from_base64", s))), expressions=[S("")]), "string"
    )


def f_base64_encode(c: Compiler, args: list[T], node: A.Call) -> T:
    return T(call("to_base64", call("encode", to_string(args[0]).sql)), "string")


def f_base64_encode_fromguid(c: Compiler, args: list[T], node: A.Call) -> T:
    """base64_encode_fromguid(guid): a guid (or a dynamic/null one) only; a string is an error, as in Kusto."""
    if args[0].type not in ("guid", "dynamic", "null"):
        raise c.err(f"base64_encode_fromguid() expects a guid, not a {args[0].type}", node)
    return py_value(c, "base64_encode_fromguid", args, "string")


FUNCTIONS: dict[str, Function] = {
    "base64_decode_tostring": Function(f_base64_decode, (1, 1), "string"),
    "base64_decodestring": Function(f_base64_decode, (1, 1), "string"),
    "base64_encode_tostring": Function(f_base64_encode, (1, 1), "string"),
    "base64_encodestring": Function(f_base64_encode, (1, 1), "string"),
    "base64_decode_toarray": py_function("base64_decode_toarray", (1, 1), "dynamic"),
    "base64_encode_fromarray": py_function("base64_encode_fromarray", (1, 1), "string"),
    "base64_decode_toguid": py_function("base64_decode_toguid", (1, 1), "guid"),
    "base64_encode_fromguid": Function(f_base64_encode_fromguid, (1, 1), "string"),
    "gzip_compress_to_base64_string": py_function("gzip_compress_to_base64_string", (1, 1), "string"),
    "gzip_decompress_from_base64_string": py_function("gzip_decompress_from_base64_string", (1, 1), "string"),
    "zlib_compress_to_base64_string": py_function("zlib_compress_to_base64_string", (1, 1), "string"),
    "zlib_decompress_from_base64_string": py_function("zlib_decompress_from_base64_string", (1, 1), "string"),
}
