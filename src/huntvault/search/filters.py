"""Compile an OData $filter tree to a tantivy query over the index's raw value fields."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import tantivy

from huntvault.errors import SearchError
from huntvault.index import FieldSpec, IndexLayout
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

TextQuery = Callable[[IsMatch], tantivy.Query]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TERM_SCAN = 100_000


I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def _zero(q: tantivy.Query) -> tantivy.Query:
    """Filters never add to the score (Azure: non-scoring clauses leave @search.score unchanged)."""
    return tantivy.Query.const_score_query(q, 0.0)


def _all() -> tantivy.Query:
    return _zero(tantivy.Query.all_query())


def _not(q: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, _all()), (tantivy.Occur.MustNot, q)])


def micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class FilterCompiler:
    """One $filter compilation: needs the layout, the tantivy schema and a searcher (string ranges)."""

    def __init__(
        self,
        layout: IndexLayout,
        schema: tantivy.Schema,
        searcher: tantivy.Searcher,
        text: str,
        text_query: TextQuery,
    ) -> None:
        self.layout = layout
        self.schema = schema
        self.searcher = searcher
        self.text = text
        self.text_query = text_query
        self.scoring = False  # set when the filter holds search.ismatchscoring

    def fail(self, pos: int, why: str) -> SearchError:
        return SearchError(
            f"Invalid expression: {why} at position {pos} in '{self.text}'.\r\nParameter name: $filter"
        )

    def field(self, path: str) -> FieldSpec:
        if self.layout.is_complex(path):
            raise SearchError(
                f"Invalid expression: '{path}' is a complex field; compare one of its subfields such as "
                f"'{path}/Timestamp'.\r\nParameter name: $filter"
            )
        return self.layout.field(path, "$filter")

    def compile(self, node: FilterNode) -> tantivy.Query:
        return COMPILERS[type(node)](self, node)

    # -- node kinds --

    def logical(self, node: Logical) -> tantivy.Query:
        left, right = self.compile(node.left), self.compile(node.right)
        occur = tantivy.Occur.Must if node.op == "and" else tantivy.Occur.Should
        return tantivy.Query.boolean_query([(occur, left), (occur, right)])

    def negate(self, node: NotExpr) -> tantivy.Query:
        return _not(self.compile(node.operand))

    def constant(self, node: Constant) -> tantivy.Query:
        return _all() if node.value else tantivy.Query.empty_query()

    def bool_field(self, node: BoolField) -> tantivy.Query:
        spec = self.field(node.path)
        if spec.edm != "Edm.Boolean":
            raise self.fail(
                node.pos, f"The field '{node.path}' of type '{spec.edm}' is not a boolean expression"
            )
        return _zero(tantivy.Query.term_query(self.schema, spec.value_field, True))

    def lambda_(self, node: Lambda) -> tantivy.Query:
        spec = self.layout.fields.get(node.path)
        if spec is None and not self.layout.is_complex(node.path):
            self.layout.field(node.path, "$filter")
        kind = spec.edm if spec else "Edm.ComplexType"
        raise self.fail(
            node.pos,
            f"The '{node.kind}' operator applies only to collection fields; '{node.path}' is of type '{kind}' "
            "(Defender export documents carry no collections)",
        )

    def in_set(self, node: InSet) -> tantivy.Query:
        spec = self.field(node.path)
        if spec.storage != "str":
            raise self.fail(node.pos, f"search.in applies to string fields; '{node.path}' is '{spec.edm}'")
        values = [v for v in node.values if v]
        parts = []
        if values:
            parts.append(tantivy.Query.term_set_query(self.schema, spec.value_field, values))
        if len(values) != len(node.values):
            parts.append(_not(tantivy.Query.exists_query(spec.value_field)))
        if not parts:
            return tantivy.Query.empty_query()
        q = (
            parts[0]
            if len(parts) == 1
            else tantivy.Query.boolean_query([(tantivy.Occur.Should, p) for p in parts])
        )
        return _zero(q)

    def is_match(self, node: IsMatch) -> tantivy.Query:
        q = self.text_query(node)
        self.scoring = self.scoring or node.scoring
        return q if node.scoring else _zero(q)

    def compare(self, node: Compare) -> tantivy.Query:
        spec = self.field(node.path)
        value, op = node.value, node.op
        if value is None:
            if op not in ("eq", "ne"):
                raise self.fail(node.pos, f"null can only be compared with 'eq' or 'ne', not '{op}'")
            present = _zero(tantivy.Query.exists_query(spec.value_field))
            return _not(present) if op == "eq" else present
        storage = spec.storage
        if storage == "str":
            return self._compare_str(spec, op, value, node.pos)
        if storage == "bool":
            if not isinstance(value, bool) or op not in ("eq", "ne"):
                raise self.fail(
                    node.pos, f"'{node.path}' is Edm.Boolean: compare it with eq/ne true or false"
                )
            q = _zero(tantivy.Query.term_query(self.schema, spec.value_field, value))
            return q if op == "eq" else _not(q)
        if storage == "date":
            if not isinstance(value, datetime):
                raise self.fail(
                    node.pos,
                    f"'{node.path}' is Edm.DateTimeOffset: compare it with a literal such as 2024-01-01T00:00:00Z",
                )
            return self._range(spec, op, micros(value), tantivy.FieldType.Integer)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node.pos, f"'{node.path}' is {spec.edm}: compare it with a number")
        if storage == "int":
            return self._int_compare(spec, op, value, node.pos)
        return self._range(spec, op, float(value), tantivy.FieldType.Float)

    def _int_compare(self, spec: FieldSpec, op: str, value: int | float, pos: int) -> tantivy.Query:
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                raise self.fail(pos, f"'{spec.path}' is {spec.edm}: it cannot be compared with NaN or INF")
            if not value.is_integer():
                # an integer field never equals a fraction; gt/ge/lt/le move to the nearest integer
                if op == "eq":
                    return tantivy.Query.empty_query()
                if op == "ne":
                    return _all()
                op, value = {
                    "gt": ("ge", math.ceil(value)),
                    "ge": ("ge", math.ceil(value)),
                    "lt": ("le", math.floor(value)),
                    "le": ("le", math.floor(value)),
                }[op]
            value = int(value)
        value = int(value)
        if not I64_MIN <= value <= I64_MAX:  # beyond every stored value: all or nothing
            above = value > I64_MAX
            if op == "ne":
                return _all()
            if op in (("lt", "le") if above else ("gt", "ge")):  # every value (nulls compare false)
                return _zero(tantivy.Query.exists_query(spec.value_field))
            return tantivy.Query.empty_query()
        return self._range(spec, op, value, tantivy.FieldType.Integer)

    def _range(self, spec: FieldSpec, op: str, value: Any, ftype: tantivy.FieldType) -> tantivy.Query:
        name = spec.value_field
        if op in ("eq", "ne"):
            q = tantivy.Query.range_query(self.schema, name, ftype, value, value, True, True)
            return _zero(q) if op == "eq" else _not(q)
        low, high = (value, None) if op in ("gt", "ge") else (None, value)
        lo = low if low is not None else (-(2**63) if ftype == tantivy.FieldType.Integer else -math.inf)
        hi = high if high is not None else (2**63 - 1 if ftype == tantivy.FieldType.Integer else math.inf)
        q = tantivy.Query.range_query(self.schema, name, ftype, lo, hi, op != "gt", op != "lt")
        return _zero(q)

    def _compare_str(self, spec: FieldSpec, op: str, value: Any, pos: int) -> tantivy.Query:
        if not isinstance(value, str):
            raise self.fail(
                pos, f"'{spec.path}' is Edm.String: compare it with a string literal in single quotes"
            )
        name = spec.value_field
        if op in ("eq", "ne"):
            q = (
                _not(tantivy.Query.exists_query(name))
                if value == ""
                else tantivy.Query.term_query(self.schema, name, value)
            )
            return _zero(q) if op == "eq" else _not(q)
        # ordered string comparisons: code-point order over the term dictionary (case-sensitive)
        terms = self.searcher.terms_with_prefix(name, "", limit=MAX_TERM_SCAN)
        keep = [t for t, _ in terms if _STR_OPS[op](t, value)]
        parts: list[tantivy.Query] = []
        if keep:
            parts.append(tantivy.Query.term_set_query(self.schema, name, keep))
        if _STR_OPS[op]("", value):
            parts.append(_not(tantivy.Query.exists_query(name)))
        if not parts:
            return tantivy.Query.empty_query()
        return _zero(tantivy.Query.boolean_query([(tantivy.Occur.Should, p) for p in parts]))


_STR_OPS: dict[str, Callable[[str, str], bool]] = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}

COMPILERS: dict[type, Callable[[FilterCompiler, Any], tantivy.Query]] = {
    Logical: FilterCompiler.logical,
    NotExpr: FilterCompiler.negate,
    Constant: FilterCompiler.constant,
    BoolField: FilterCompiler.bool_field,
    Lambda: FilterCompiler.lambda_,
    InSet: FilterCompiler.in_set,
    IsMatch: FilterCompiler.is_match,
    Compare: FilterCompiler.compare,
}
