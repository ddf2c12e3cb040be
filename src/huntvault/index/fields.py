"""Index field model: one archived table's fields with their Azure attributes, and their tantivy fields."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import tantivy

from huntvault.errors import SearchError, UnknownFieldError
from huntvault.index.analyzers import ANALYZER_PATTERN, DEFAULT_ANALYZER, get_analyzer
from huntvault.schema import EXPORT_TIME_COLUMN, EXTRA_COLUMN, TENANT_COLUMN, Table, container_name

#: KQL column type -> Azure AI Search Edm type of the field in the index.
KQL_TO_EDM: dict[str, str] = {
    "string": "Edm.String",
    "guid": "Edm.String",
    "dynamic": "Edm.String",  # the export sends dynamic columns as JSON text
    "int": "Edm.Int32",
    "long": "Edm.Int64",
    "timespan": "Edm.Int64",
    "real": "Edm.Double",
    "decimal": "Edm.Double",
    "bool": "Edm.Boolean",
    "datetime": "Edm.DateTimeOffset",
}

#: Edm type -> how its value is held in tantivy (the "value" field used by filters, sort and facets).
EDM_STORAGE: dict[str, str] = {
    "Edm.String": "str",
    "Edm.Int32": "int",
    "Edm.Int64": "int",
    "Edm.Double": "float",
    "Edm.Boolean": "bool",
    "Edm.DateTimeOffset": "date",  # i64 microseconds since the epoch
}

KEY_FIELD = "id"
FILE_FIELD = "_file"  # the stable id of the archive part a document came from (deletes, --verify)
KEY_HASH_FIELD = "_kh"  # columnar u64: the key's hash (joins the index's hits to archive rows)
DOC_FIELD = "_doc"  # stored bytes: the retrievable values of the row, one compact value (index/rowcodec.py)
EXTRA_KEY = "x"  # the key of the row's `_Extra` in DOC_FIELD (properties the schema does not know)
COMPLEX = "properties"
ATTRIBUTES = ("searchable", "filterable", "sortable", "facetable", "retrievable")
INDEX_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,127}$")
LAYOUT_VERSION = 5  # 4: attributes per field (index definitions); 5: the stored value encoded by rowcodec


@dataclass(frozen=True)
class FieldSpec:
    """One simple field of an index: its Azure path, type and attributes, and where it lives in tantivy.

    Physically a field has up to two tantivy fields: the analyzed text `s<n>` (searchable strings) and the
    raw value `v<n>`, indexed and columnar ("fast") when the field is filterable, sortable or facetable.
    Retrievable values are stored together, one compact value per document (`_doc`, index/rowcodec.py): one
    stored value per document costs a fraction of one per field. A field with none of these is only
    in the definition.
    """

    path: str  # Azure field path, e.g. "properties/ComputerName"
    edm: str
    source: str  # archive column the value comes from ("" for computed fields)
    kql: str = "string"
    searchable: bool = False
    filterable: bool = False
    sortable: bool = False
    facetable: bool = False
    retrievable: bool = True
    analyzer: str = DEFAULT_ANALYZER  # index-time analyzer
    search_analyzer: str = DEFAULT_ANALYZER  # query-time analyzer
    code: int = 0  # position in the layout: names the tantivy fields (short JSON keys when indexing)

    @property
    def key(self) -> bool:
        return self.path == KEY_FIELD

    @property
    def name(self) -> str:
        """The last path segment (what the definition's field list calls it)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def text_field(self) -> str:
        """The analyzed tantivy field (searchable strings only)."""
        return f"s{self.code}"

    @property
    def value_field(self) -> str:
        """The raw tantivy field: filter, sort, facet and the stored value (the key is its own raw field)."""
        return KEY_FIELD if self.key else f"v{self.code}"

    @property
    def storage(self) -> str:
        return EDM_STORAGE[self.edm]

    @property
    def pivot(self) -> bool:
        """Indexed raw and columnar: the index itself answers filters, sorts and facets on it."""
        return self.key or self.filterable or self.sortable or self.facetable

    @property
    def stored_key(self) -> str:
        """Its value's key in the stored `_doc` object (the code, as text)."""
        return str(self.code)

    def attribute(self, name: str) -> bool:
        return bool(getattr(self, name))


@dataclass
class IndexLayout:
    """Everything the indexer and the query engine need to know about one index (one archived table)."""

    table: Table
    fields: dict[str, FieldSpec]  # by Azure path, in definition order
    strict: bool = False  # filters/sorts/facets on a field without the attribute: 400 instead of the archive
    description: str = ""
    extras: dict[str, Any] = field(
        default_factory=dict
    )  # accepted index-level keys echoed back (corsOptions)

    @property
    def name(self) -> str:
        return container_name(self.table.name)

    @property
    def indexer_name(self) -> str:
        return self.name + "-indexer"

    @property
    def searchable(self) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.searchable]

    def known(self, path: str) -> FieldSpec | None:
        return self.fields.get(path)

    def field(self, path: str, parameter: str, need: str = "") -> FieldSpec:
        """Resolve an Azure field path, or a 400 naming the unknown field and the parameter.

        `need="searchable"` and `need="retrievable"` are always enforced (the index has no text or no
        stored value otherwise); filterable, sortable and facetable are checked by `require`.
        """
        spec = self.fields.get(path)
        if spec is None:
            raise UnknownFieldError(
                f"Invalid expression: Could not find a property named '{path}' on type 'search.document'."
                f"\r\nParameter name: {parameter}",
                path,
            )
        if need == "searchable" and not spec.searchable:
            raise SearchError(
                f"Only searchable fields can be used in {parameter}. Field '{path}' is not marked as "
                f"'searchable' (type {spec.edm}).\r\nParameter name: {parameter}"
            )
        if need == "retrievable" and not spec.retrievable:
            raise SearchError(
                f"Only retrievable fields can be used in {parameter}. Field '{path}' is not marked as "
                f"'retrievable'.\r\nParameter name: {parameter}"
            )
        return spec

    def require(self, spec: FieldSpec, attribute: str, parameter: str) -> bool:
        """Whether the index answers `attribute` on `spec` itself; False means "answer from the archive".

        In strict mode a field without the attribute is Azure's 400 instead.
        """
        if spec.attribute(attribute) or spec.key:
            return True
        if self.strict:
            what = {"filterable": "filter", "sortable": "$orderby", "facetable": "facet"}[attribute]
            raise SearchError(
                f"Invalid expression: The field '{spec.path}' is not {attribute}. Only {attribute} fields can "
                f"be used in {what} expressions (the index definition asks for strict attributes)."
                f"\r\nParameter name: {parameter}"
            )
        return spec.pivot

    def is_complex(self, path: str) -> bool:
        return path == COMPLEX

    def stored_columns(self) -> dict[str, str]:
        """The keys of the decoded `_doc` value (in encoding order) and the archive column each holds: the columns of the
        retrievable fields (computed fields keep only what they derive from), and `_Extra`."""
        codes = source_codes(self.table)
        out: dict[str, str] = {}
        for spec in self.fields.values():
            if spec.key or not spec.retrievable:
                continue
            for column in DERIVED_FROM.get(spec.path, (spec.source,)):
                if column:
                    out[str(codes[column])] = column
        if any(f.retrievable for f in self.fields.values() if f.path.startswith(COMPLEX + "/")):
            out[EXTRA_KEY] = EXTRA_COLUMN
        return out

    def analyzers(self) -> set[str]:
        return {f.analyzer for f in self.searchable} | {f.search_analyzer for f in self.searchable}

    def tantivy_schema(self) -> tantivy.Schema:
        sb = tantivy.SchemaBuilder()
        sb.add_text_field(KEY_FIELD, stored=True, fast=True, tokenizer_name="raw", index_option="basic")
        sb.add_text_field(FILE_FIELD, tokenizer_name="raw", index_option="basic")
        sb.add_unsigned_field(KEY_HASH_FIELD, indexed=False, fast=True)
        # the export-shape document is rebuilt from the stored values (index/documents.py)
        sb.add_bytes_field(DOC_FIELD, stored=True, indexed=False)
        for spec in self.fields.values():
            if spec.key:
                continue
            if spec.searchable:
                analyzer = get_analyzer(spec.analyzer)
                sb.add_text_field(
                    spec.text_field, tokenizer_name=analyzer.tokenizer_name, index_option="position"
                )
            if spec.pivot:
                _add_value_field(sb, spec)
        return sb.build()

    def fingerprint(self) -> str:
        """Changes whenever the tantivy layout does (then the index is rebuilt from the archive)."""
        physical = [
            (f.path, f.edm, f.code, f.searchable, f.pivot, f.retrievable, f.analyzer if f.searchable else "")
            for f in self.fields.values()
        ]
        text = json.dumps([LAYOUT_VERSION, ANALYZER_PATTERN, physical])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _add_value_field(sb: tantivy.SchemaBuilder, spec: FieldSpec) -> None:
    """The raw value of a pivot field: indexed (strings, booleans) and columnar, never stored.

    Numbers and dates live in columnar (fast) fields only: filters on them are range queries, which tantivy
    answers from the column; a term dictionary of every distinct timestamp served no query.
    """
    name, store = spec.value_field, spec.storage
    if store == "str":
        sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    elif store in ("int", "date"):
        sb.add_integer_field(name, indexed=False, fast=True)
    elif store == "float":
        sb.add_float_field(name, indexed=False, fast=True)
    else:
        sb.add_boolean_field(name, indexed=True, fast=True)


#: Blob-indexer metadata fields (DOCS search-howto-indexing-azure-blob-storage) and how we fill them.
BLOB_METADATA: tuple[tuple[str, str], ...] = (
    ("metadata_storage_name", "Edm.String"),
    ("metadata_storage_path", "Edm.String"),
    ("metadata_storage_content_type", "Edm.String"),
    ("metadata_storage_last_modified", "Edm.DateTimeOffset"),
    ("metadata_storage_size", "Edm.Int64"),
    ("metadata_storage_content_md5", "Edm.String"),
)


def all_fields(table: Table) -> list[FieldSpec]:
    """Every field an index of `table` may have, in export order, attributes off (definitions set them)."""
    out = [
        FieldSpec(KEY_FIELD, "Edm.String", ""),
        FieldSpec("time", "Edm.DateTimeOffset", EXPORT_TIME_COLUMN, "datetime"),
        FieldSpec("tenantId", "Edm.String", TENANT_COLUMN),
        FieldSpec("category", "Edm.String", ""),
        FieldSpec("operationName", "Edm.String", ""),
    ]
    out += [FieldSpec(f"{COMPLEX}/{c.name}", KQL_TO_EDM[c.type], c.name, c.type) for c in table.columns]
    out += [FieldSpec(name, edm, "") for name, edm in BLOB_METADATA]
    return out


#: Fields computed from the row rather than read from one column: path -> the columns they derive from.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "category": (),
    "operationName": (),
    "metadata_storage_name": (),
    "metadata_storage_content_type": (),
    "metadata_storage_path": (TENANT_COLUMN, EXPORT_TIME_COLUMN),
    "metadata_storage_last_modified": (EXPORT_TIME_COLUMN,),
    "metadata_storage_size": (),
    "metadata_storage_content_md5": (),
}


def source_codes(table: Table) -> dict[str, int]:
    """Archive column -> the code of the field that reads it (stable for a table)."""
    return {spec.source: code for code, spec in enumerate(all_fields(table)) if spec.source}


def validate_index_name(name: str) -> None:
    """Azure index naming rules; rejects path tricks before any lookup."""
    if not INDEX_NAME_RE.match(name):
        raise SearchError(
            f"Invalid index name '{name[:140]}'. Index names must be 2 to 128 characters of lower case "
            "letters, digits, '-' or '_', starting with a letter or digit.",
            status=400,
            code="InvalidName",
        )
