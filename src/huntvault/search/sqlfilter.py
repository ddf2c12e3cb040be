"""An OData $filter as SQL over the archive's document values, with the index's exact semantics.

Every comparison is the normal form `filters.normalize` gives (the same checks and 400s as the index path);
strings hold '' as NULL ("no value"), as the index does, and each comparison is two-valued (a NULL field
compares false, so `not` of it is true), as Azure's filters are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from huntvault.errors import SearchError
from huntvault.index import KEY_COLUMN, FieldSpec, IndexLayout
from huntvault.search.filters import Check, check_in_set, fail, filter_field, normalize
from huntvault.search.odata import (
    BoolField,
    Compare,
    Constant,
    FilterNode,
    InSet,
    IsMatch,
    Lambda,
    Logical,
    NotExpr,
)

SQL_OPS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def column(spec: FieldSpec) -> str:
    """The field's column in the archive view (the key is computed as `__key`)."""
    if spec.key:
        return KEY_COLUMN
    return '"' + spec.path.replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"CAST({value} AS HUGEINT)" if abs(value) >= 2**63 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "'NaN'::DOUBLE"
        if math.isinf(value):
            return "'Infinity'::DOUBLE" if value > 0 else "'-Infinity'::DOUBLE"
        return repr(value) + "::DOUBLE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise SearchError(f"cannot use {value!r} in a filter")


def _two_valued(expr: str) -> str:
    return f"coalesce({expr}, FALSE)"


def _null(col: str, c: Check) -> str:
    return f"({col} IS NULL)" if c.op == "eq" else f"({col} IS NOT NULL)"


def _const(col: str, c: Check) -> str:
    return "TRUE" if c.value else "FALSE"


def _plain(col: str, c: Check) -> str:
    cmp = _two_valued(f"{col} {SQL_OPS[c.op]} {sql_literal(c.value)}")
    return cmp if c.op != "ne" else f"(NOT {_two_valued(f'{col} = {sql_literal(c.value)}')})"


def _float(col: str, c: Check) -> str:
    value = c.value
    if isinstance(value, float) and math.isnan(value):  # IEEE: nothing equals NaN, everything differs
        return "TRUE" if c.op == "ne" else "FALSE"
    return _plain(col, c)


def _str(col: str, c: Check) -> str:
    if c.op in ("eq", "ne"):
        return _plain(col, c)
    # ordered comparisons: code-point (byte) order, and a missing value is the empty string
    return _two_valued(f"coalesce({col}, '') {SQL_OPS[c.op]} {sql_literal(c.value)}")


SQL_CHECKS: dict[str, Callable[[str, Check], str]] = {
    "null": _null,
    "const": _const,
    "bool": _plain,
    "int": _plain,
    "date": _plain,
    "float": _float,
    "str": _str,
}


class SqlFilter:
    """Compiles a filter subtree (no full-text matches inside) to a SQL boolean expression."""

    def __init__(self, layout: IndexLayout, text: str) -> None:
        self.layout = layout
        self.text = text

    def field(self, path: str) -> FieldSpec:
        return filter_field(self.layout, path)

    def compile(self, node: FilterNode) -> str:
        if isinstance(node, Logical):
            op = "AND" if node.op == "and" else "OR"
            return f"({self.compile(node.left)} {op} {self.compile(node.right)})"
        if isinstance(node, NotExpr):
            return f"(NOT {self.compile(node.operand)})"
        if isinstance(node, Constant):
            return "TRUE" if node.value else "FALSE"
        if isinstance(node, BoolField):
            spec = self.field(node.path)
            if spec.edm != "Edm.Boolean":
                raise fail(
                    self.text,
                    node.pos,
                    f"The field '{node.path}' of type '{spec.edm}' is not a boolean expression",
                )
            return _two_valued(f"{column(spec)} = TRUE")
        if isinstance(node, InSet):
            spec = self.field(node.path)
            check_in_set(spec, node, self.text)
            values = [v for v in node.values if v]
            parts = []
            if values:
                parts.append(_two_valued(f"{column(spec)} IN ({', '.join(sql_literal(v) for v in values)})"))
            if len(values) != len(node.values):
                parts.append(f"({column(spec)} IS NULL)")
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        if isinstance(node, Compare):
            spec = self.field(node.path)
            check = normalize(spec, node, self.text)
            return SQL_CHECKS[check.kind](column(spec), check)
        if isinstance(node, (IsMatch, Lambda)):  # callers keep these on the index side
            raise SearchError("a full-text match or a lambda cannot be evaluated on the archive")
        raise SearchError(f"unsupported filter node {type(node).__name__}")
