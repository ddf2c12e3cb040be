"""Index field model: one archived table -> Azure field definitions (Edm types) and tantivy field names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import tantivy

from huntvault.errors import SearchError
from huntvault.schema import (
    EXPORT_TIME_COLUMN,
    TENANT_COLUMN,
    Table,
    container_name,
)

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

#: Edm type -> how its value is held in tantivy (the "value" twin used by filters, sort and facets).
EDM_STORAGE: dict[str, str] = {
    "Edm.String": "str",
    "Edm.Int32": "int",
    "Edm.Int64": "int",
    "Edm.Double": "float",
    "Edm.Boolean": "bool",
    "Edm.DateTimeOffset": "date",  # i64 microseconds since the epoch
}

KEY_FIELD = "id"
FILE_FIELD = "_file"  # archive-relative Parquet path a document came from (deletes on compaction/retention)
EXTRA_FIELD = "_extra"  # stored only: the row's `_Extra` JSON (properties the schema does not know)
EMPTY_FIELD = "_empty"  # stored only: paths of string fields whose value was '' (indexed as absent)
ANALYZER = "hv_standard"  # approximation of Lucene's standard analyzer (UAX#29 words, lower-cased)
NO_TOKENS = "hv_stored_only"  # an analyzer that emits no token: used for the stored-only field
# word characters, kept together across . and ' (cmd.exe, 10.0.0.1, o'brien): UAX#29 as Lucene's standard
# tokenizer applies it to security data, minus its rarer rules (a comma between digits splits here)
ANALYZER_PATTERN = r"\w+(?:[.'’]\w+)*"
MAX_TOKEN = 255

BLOB_ACCOUNT_URL = "https://huntvault.blob.core.windows.net"
INDEX_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,127}$")


@dataclass(frozen=True)
class FieldSpec:
    """One simple field of an index: its Azure path and type, and where it lives in tantivy."""

    path: str  # Azure field path, e.g. "properties/ComputerName"
    edm: str
    source: str  # archive column the value comes from ("" for computed fields)
    kql: str = "string"

    @property
    def slug(self) -> str:
        return self.path.replace("/", "__")

    @property
    def text_field(self) -> str:
        """The analyzed tantivy field (searchable strings only)."""
        return "s_" + self.slug

    @property
    def value_field(self) -> str:
        """The raw (unanalyzed) tantivy field: filter, sort and facet (the key is its own raw field)."""
        return KEY_FIELD if self.path == KEY_FIELD else "v_" + self.slug

    @property
    def searchable(self) -> bool:
        return self.edm == "Edm.String" and self.path != KEY_FIELD

    @property
    def storage(self) -> str:
        return EDM_STORAGE[self.edm]

    def definition(self, name: str, key: bool = False) -> dict[str, Any]:
        """The Azure field JSON for this field (named `name`, the last path segment)."""
        return {
            "name": name,
            "type": self.edm,
            "key": key,
            "retrievable": True,
            "stored": True,
            "searchable": self.searchable and not key,
            "filterable": True,
            "sortable": True,
            "facetable": not key,
            "analyzer": "standard.lucene" if self.searchable and not key else None,
            "searchAnalyzer": None,
            "indexAnalyzer": None,
            "normalizer": None,
            "synonymMaps": [],
            "fields": [],
        }


#: Blob-indexer metadata fields (DOCS search-howto-indexing-azure-blob-storage) and how we fill them.
BLOB_METADATA: tuple[tuple[str, str], ...] = (
    ("metadata_storage_name", "Edm.String"),
    ("metadata_storage_path", "Edm.String"),
    ("metadata_storage_content_type", "Edm.String"),
    ("metadata_storage_last_modified", "Edm.DateTimeOffset"),
    ("metadata_storage_size", "Edm.Int64"),
    ("metadata_storage_content_md5", "Edm.String"),
)


@dataclass
class IndexLayout:
    """Everything the indexer and the query engine need to know about one table's index."""

    table: Table
    fields: dict[str, FieldSpec]  # by Azure path

    @property
    def name(self) -> str:
        return container_name(self.table.name)

    @property
    def indexer_name(self) -> str:
        return self.name + "-indexer"

    @property
    def searchable(self) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.searchable and f.path != KEY_FIELD]

    def field(self, path: str, parameter: str, need: str = "") -> FieldSpec:
        """Resolve an Azure field path, or a 400 naming the unknown field and the parameter."""
        spec = self.fields.get(path)
        if spec is None:
            raise SearchError(
                f"Invalid expression: Could not find a property named '{path}' on type 'search.document'."
                f"\r\nParameter name: {parameter}"
            )
        if need == "searchable" and not spec.searchable:
            raise SearchError(
                f"The field '{path}' in the {parameter} parameter is not searchable (type {spec.edm})."
                f"\r\nParameter name: {parameter}"
            )
        return spec

    def is_complex(self, path: str) -> bool:
        return path == "properties"

    def tantivy_schema(self) -> tantivy.Schema:
        sb = tantivy.SchemaBuilder()
        sb.add_text_field(KEY_FIELD, stored=True, fast=True, tokenizer_name="raw", index_option="basic")
        sb.add_text_field(FILE_FIELD, tokenizer_name="raw", index_option="basic")
        # the export-shape document is rebuilt from the stored raw twins (index/documents.py)
        sb.add_text_field(EXTRA_FIELD, stored=True, tokenizer_name=NO_TOKENS, index_option="basic")
        sb.add_text_field(EMPTY_FIELD, stored=True, tokenizer_name=NO_TOKENS, index_option="basic")
        for spec in self.fields.values():
            if spec.path == KEY_FIELD:
                continue
            if spec.searchable:
                sb.add_text_field(spec.text_field, tokenizer_name=ANALYZER, index_option="position")
            store = spec.storage
            if store == "str":
                sb.add_text_field(
                    spec.value_field, stored=True, fast=True, tokenizer_name="raw", index_option="basic"
                )
            # numbers and dates live in fast (columnar) fields only: filters on them are range queries,
            # which tantivy answers from the column; a term dictionary of every distinct timestamp
            # nearly doubled the indexing cost and served no query
            elif store in ("int", "date"):
                sb.add_integer_field(spec.value_field, stored=True, indexed=False, fast=True)
            elif store == "float":
                sb.add_float_field(spec.value_field, stored=True, indexed=False, fast=True)
            else:
                sb.add_boolean_field(spec.value_field, stored=True, indexed=True, fast=True)
        return sb.build()

    def definition(self) -> dict[str, Any]:
        """`GET /indexes/{name}`: the Azure index definition."""
        top: list[dict[str, Any]] = []
        props: list[dict[str, Any]] = []
        for spec in self.fields.values():
            if spec.path.startswith("properties/"):
                props.append(spec.definition(spec.path.split("/", 1)[1]))
            else:
                top.append(spec.definition(spec.path, key=spec.path == KEY_FIELD))
        complex_field = {
            "name": "properties",
            "type": "Edm.ComplexType",
            "key": None,
            "retrievable": None,
            "searchable": None,
            "filterable": None,
            "sortable": None,
            "facetable": None,
            "analyzer": None,
            "fields": props,
        }
        insert_at = next(i for i, f in enumerate(top) if f["name"] == "operationName") + 1
        top.insert(insert_at, complex_field)
        return {
            "name": self.name,
            "description": f"Defender advanced-hunting table {self.table.name} from the huntvault archive",
            "fields": top,
            "scoringProfiles": [],
            "defaultScoringProfile": None,
            "corsOptions": None,
            "suggesters": [],
            "analyzers": [],
            "tokenizers": [],
            "tokenFilters": [],
            "charFilters": [],
            "normalizers": [],
            "encryptionKey": None,
            "similarity": {"@odata.type": "#Microsoft.Azure.Search.BM25Similarity", "k1": None, "b": None},
            "semantic": None,
            "vectorSearch": None,
        }


def layout_for(table: Table) -> IndexLayout:
    """The index layout of an archived table: envelope fields, `properties/<column>`, blob metadata."""
    fields: dict[str, FieldSpec] = {}

    def add(spec: FieldSpec) -> None:
        fields[spec.path] = spec

    add(FieldSpec(KEY_FIELD, "Edm.String", ""))
    add(FieldSpec("time", "Edm.DateTimeOffset", EXPORT_TIME_COLUMN, "datetime"))
    add(FieldSpec("tenantId", "Edm.String", TENANT_COLUMN))
    add(FieldSpec("category", "Edm.String", ""))
    add(FieldSpec("operationName", "Edm.String", ""))
    for col in table.columns:
        add(FieldSpec("properties/" + col.name, KQL_TO_EDM[col.type], col.name, col.type))
    for name, edm in BLOB_METADATA:
        add(FieldSpec(name, edm, ""))
    return IndexLayout(table=table, fields=fields)


def register_analyzers(index: tantivy.Index, pretokenized: bool = False) -> None:
    """Analyzers are not persisted by tantivy: register them on every opened index.

    `pretokenized` is for the index instance the writer uses: the indexer hands tantivy the analyzed
    text already (`pretokenize`: the standard analyzer's tokens joined by spaces, computed once per
    distinct value), so that instance only splits on the spaces. Searchers (snippets) keep the real
    analyzer, so highlights are computed on the original text.
    """
    if pretokenized:
        std = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
    else:
        std = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(ANALYZER_PATTERN))
            .filter(tantivy.Filter.remove_long(MAX_TOKEN))
            .filter(tantivy.Filter.lowercase())
            .build()
        )
    index.register_tokenizer(ANALYZER, std)
    index.register_tokenizer(NO_TOKENS, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex("\x00")).build())


def analyze(text: str) -> list[str]:
    """Tokens of `text` under the standard analyzer (query side, identical to the index side)."""
    return _query_analyzer().analyze(text)


CACHE_VALUE_CHARS = 512  # values longer than this are analyzed every time they are seen


def pretokenize(values: list[str | None], cache: dict[str, str]) -> list[str | None]:
    """The standard analyzer's tokens of each value joined by single spaces (what the writer's whitespace
    tokenizer splits again). Tokens never contain whitespace (they are runs of word characters joined by
    `.`/`'`), so the split gives back exactly the analyzer's tokens. `cache` maps value -> joined tokens
    (hunting data repeats host names, paths and command lines, so most values are analyzed once)."""
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        joined = cache.get(value)
        if joined is None:
            joined = " ".join(analyze(value))
            if len(value) <= CACHE_VALUE_CHARS:  # bounds the cache's memory (long values are rarer)
                cache[value] = joined
        out.append(joined)
    return out


_ANALYZER_CACHE: list[tantivy.TextAnalyzer] = []


def _query_analyzer() -> tantivy.TextAnalyzer:
    if not _ANALYZER_CACHE:
        _ANALYZER_CACHE.append(
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(ANALYZER_PATTERN))
            .filter(tantivy.Filter.remove_long(MAX_TOKEN))
            .filter(tantivy.Filter.lowercase())
            .build()
        )
    return _ANALYZER_CACHE[0]


def validate_index_name(name: str) -> None:
    """Azure index naming rules; rejects path tricks before any lookup."""
    if not INDEX_NAME_RE.match(name):
        raise SearchError(
            f"Invalid index name '{name[:140]}'. Index names must be 2 to 128 characters of lower case "
            "letters, digits, '-' or '_', starting with a letter or digit.",
            status=400,
            code="InvalidName",
        )
