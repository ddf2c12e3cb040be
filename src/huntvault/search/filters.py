"""Compile an OData $filter tree to a tantivy query over the index's raw value fields (the archive's for
fields the index does not hold), after checking each comparison once for both (`normalize`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
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
ArchiveLeaf = Callable[[FilterNode], tantivy.Query]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TERM_SCAN = 100_000
I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Check:
    """One comparison, type-checked and normalised: what both the index and the archive evaluate.

    kind: `null` (eq/ne null), `const` (always `value`), `str`, `bool`, `int`, `float` (value a number),
    `date` (value in epoch microseconds).
    """

    kind: str
    op: str
    value: Any


def fail(text: str, pos: int, why: str) -> SearchError:
    return SearchError(f"Invalid expression: {why} at position {pos} in '{text}'.\r\nParameter name: $filter")


def normalize(spec: FieldSpec, node: Compare, text: str) -> Check:
    """Azure's checks of `field op constant` (a 400 at the constant's position), and its normal form."""
    value, op, pos = node.value, node.op, node.pos
    if value is None:
        if op not in ("eq", "ne"):
            raise fail(text, pos, f"null can only be compared with 'eq' or 'ne', not '{op}'")
        return Check("null", op, None)
    storage = spec.storage
    if storage == "str":
        if not isinstance(value, str):
            raise fail(
                text, pos, f"'{spec.path}' is Edm.String: compare it with a string literal in single quotes"
            )
        if value == "" and op in ("eq", "ne"):
            return Check("null", op, None)  # '' is indexed as "no value"
        return Check("str", op, value)
    if storage == "bool":
        if not isinstance(value, bool) or op not in ("eq", "ne"):
            raise fail(text, pos, f"'{node.path}' is Edm.Boolean: compare it with eq/ne true or false")
        return Check("bool", op, value)
    if storage == "date":
        if not isinstance(value, datetime):
            raise fail(
                text,
                pos,
                f"'{node.path}' is Edm.DateTimeOffset: compare it with a literal such as 2024-01-01T00:00:00Z",
            )
        return Check("date", op, micros(value))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(text, pos, f"'{node.path}' is {spec.edm}: compare it with a number")
    if storage == "float":
        return Check("float", op, float(value))
    return _int_check(spec, op, value, text, pos)


def _int_check(spec: FieldSpec, op: str, value: int | float, text: str, pos: int) -> Check:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise fail(text, pos, f"'{spec.path}' is {spec.edm}: it cannot be compared with NaN or INF")
        if not value.is_integer():
            # an integer field never equals a fraction; gt/ge/lt/le move to the nearest integer
            if op in ("eq", "ne"):
                return Check("const", op, op == "ne")
            op, value = {
                "gt": ("ge", math.ceil(value)),
                "ge": ("ge", math.ceil(value)),
                "lt": ("le", math.floor(value)),
                "le": ("le", math.floor(value)),
            }[op]
    value = int(value)
    if not I64_MIN <= value <= I64_MAX:  # beyond every stored value: all (non-null) or nothing
        above = value > I64_MAX
        if op == "ne":
            return Check("const", op, True)
        if op in (("lt", "le") if above else ("gt", "ge")):
            return Check("null", "ne", None)
        return Check("const", op, False)
    return Check("int", op, value)


def conjuncts(node: FilterNode) -> list[FilterNode]:
    """The top-level `and` terms of a filter."""
    if isinstance(node, Logical) and node.op == "and":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def sqlable(node: FilterNode) -> bool:
    """Whether the archive can evaluate `node` (everything but full-text matches and lambdas)."""
    if isinstance(node, Logical):
        return sqlable(node.left) and sqlable(node.right)
    if isinstance(node, NotExpr):
        return sqlable(node.operand)
    return not isinstance(node, (IsMatch, Lambda))


def _zero(q: tantivy.Query) -> tantivy.Query:
    """Filters never add to the score (Azure: non-scoring clauses leave @search.score unchanged)."""
    return tantivy.Query.const_score_query(q, 0.0)


def _all() -> tantivy.Query:
    return _zero(tantivy.Query.all_query())


def _not(q: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, _all()), (tantivy.Occur.MustNot, q)])


class FilterCompiler:
    """One $filter compilation: needs the layout, the tantivy schema and a searcher (string ranges).

    Comparisons on a field the index cannot filter (not filterable in a non-strict definition) are handed
    to `archive_leaf` (the largest such subtree at once), which answers them from the archive.
    """

    def __init__(
        self,
        layout: IndexLayout,
        schema: tantivy.Schema,
        searcher: tantivy.Searcher,
        text: str,
        text_query: TextQuery,
        archive_leaf: ArchiveLeaf | None = None,
    ) -> None:
        self.layout = layout
        self.schema = schema
        self.searcher = searcher
        self.text = text
        self.text_query = text_query
        self.archive_leaf = archive_leaf
        self.scoring = False  # set when the filter holds search.ismatchscoring

    def field(self, path: str) -> FieldSpec:
        return filter_field(self.layout, path)

    def needs_archive(self, node: FilterNode) -> bool:
        """Whether some comparison in `node` is on a field the index cannot filter (400 in strict mode)."""
        if isinstance(node, Logical):
            left, right = self.needs_archive(node.left), self.needs_archive(node.right)
            return left or right
        if isinstance(node, NotExpr):
            return self.needs_archive(node.operand)
        if isinstance(node, (Compare, InSet, BoolField)):
            return not self.layout.require(self.field(node.path), "filterable", "$filter")
        return False

    def compile(self, node: FilterNode) -> tantivy.Query:
        if self.archive_leaf is not None and sqlable(node) and self.needs_archive(node):
            return _zero(self.archive_leaf(node))
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
            raise fail(
                self.text,
                node.pos,
                f"The field '{node.path}' of type '{spec.edm}' is not a boolean expression",
            )
        return _zero(tantivy.Query.term_query(self.schema, spec.value_field, True))

    def lambda_(self, node: Lambda) -> tantivy.Query:
        spec = self.layout.fields.get(node.path)
        if spec is None and not self.layout.is_complex(node.path):
            self.layout.field(node.path, "$filter")
        kind = spec.edm if spec else "Edm.ComplexType"
        raise fail(
            self.text,
            node.pos,
            f"The '{node.kind}' operator applies only to collection fields; '{node.path}' is of type '{kind}' "
            "(Defender export documents carry no collections)",
        )

    def in_set(self, node: InSet) -> tantivy.Query:
        spec = self.field(node.path)
        check_in_set(spec, node, self.text)
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
        check = normalize(spec, node, self.text)
        return TANTIVY[check.kind](self, spec, check)

    # -- normalised comparisons --

    def _null(self, spec: FieldSpec, c: Check) -> tantivy.Query:
        present = _zero(tantivy.Query.exists_query(spec.value_field))
        return _not(present) if c.op == "eq" else present

    def _const(self, spec: FieldSpec, c: Check) -> tantivy.Query:
        return _all() if c.value else tantivy.Query.empty_query()

    def _bool(self, spec: FieldSpec, c: Check) -> tantivy.Query:
        q = _zero(tantivy.Query.term_query(self.schema, spec.value_field, c.value))
        return q if c.op == "eq" else _not(q)

    def _int(self, spec: FieldSpec, c: Check) -> tantivy.Query:
        return self._range(spec, c.op, c.value, tantivy.FieldType.Integer)

    def _float(self, spec: FieldSpec, c: Check) -> tantivy.Query:
        return self._range(spec, c.op, c.value, tantivy.FieldType.Float)

    def _range(self, spec: FieldSpec, op: str, value: Any, ftype: tantivy.FieldType) -> tantivy.Query:
        name = spec.value_field
        if op in ("eq", "ne"):
            q = tantivy.Query.range_query(self.schema, name, ftype, value, value, True, True)
            return _zero(q) if op == "eq" else _not(q)
        low, high = (value, None) if op in ("gt", "ge") else (None, value)
        lo = low if low is not None else (I64_MIN if ftype == tantivy.FieldType.Integer else -math.inf)
        hi = high if high is not None else (I64_MAX if ftype == tantivy.FieldType.Integer else math.inf)
        q = tantivy.Query.range_query(self.schema, name, ftype, lo, hi, op != "gt", op != "lt")
        return _zero(q)

    def _str(self, spec: FieldSpec, c: Check) -> tantivy.Query:
        name, op, value = spec.value_field, c.op, c.value
        if op in ("eq", "ne"):
            q = _zero(tantivy.Query.term_query(self.schema, name, value))
            return q if op == "eq" else _not(q)
        # ordered string comparisons: code-point order over the term dictionary (case-sensitive)
        terms = self.searcher.terms_with_prefix(name, "", limit=MAX_TERM_SCAN)
        keep = [t for t, _ in terms if STR_OPS[op](t, value)]
        parts: list[tantivy.Query] = []
        if keep:
            parts.append(tantivy.Query.term_set_query(self.schema, name, keep))
        if STR_OPS[op]("", value):
            parts.append(_not(tantivy.Query.exists_query(name)))
        if not parts:
            return tantivy.Query.empty_query()
        return _zero(tantivy.Query.boolean_query([(tantivy.Occur.Should, p) for p in parts]))


def filter_field(layout: IndexLayout, path: str) -> FieldSpec:
    """The field a `$filter` comparison names (Azure's 400 for a complex field or an unknown one)."""
    if layout.is_complex(path):
        raise SearchError(
            f"Invalid expression: '{path}' is a complex field; compare one of its subfields such as "
            f"'{path}/Timestamp'.\r\nParameter name: $filter"
        )
    return layout.field(path, "$filter")


def check_in_set(spec: FieldSpec, node: InSet, text: str) -> None:
    if spec.storage != "str":
        raise fail(text, node.pos, f"search.in applies to string fields; '{node.path}' is '{spec.edm}'")


STR_OPS: dict[str, Callable[[str, str], bool]] = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}

TANTIVY: dict[str, Callable[[FilterCompiler, FieldSpec, Check], tantivy.Query]] = {
    "null": FilterCompiler._null,
    "const": FilterCompiler._const,
    "bool": FilterCompiler._bool,
    "int": FilterCompiler._int,
    "date": FilterCompiler._int,
    "float": FilterCompiler._float,
    "str": FilterCompiler._str,
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
