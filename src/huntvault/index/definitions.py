"""Index definitions, Azure's way: the default hunting definition per table, Azure's index JSON in and out."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

import orjson

from huntvault.errors import SearchError
from huntvault.index.analyzers import DEFAULT_ANALYZER, get_analyzer
from huntvault.index.fields import (
    ATTRIBUTES,
    COMPLEX,
    KEY_FIELD,
    FieldSpec,
    IndexLayout,
    all_fields,
    validate_index_name,
)
from huntvault.schema import Table

STRICT_KEY = "@huntvault.strictAttributes"
MAX_FIELDS = 1000  # Azure's limit per index, subfields included
PIVOT = frozenset({"filterable", "sortable", "facetable"})
TEXT = frozenset({"searchable"})

#: The default definition's attributes, by column name (first matching rule wins; every field is
#: retrievable, and a column no rule names is retrievable only — its filters, sorts and facets are
#: answered from the archive). Full text on what analysts type into a search box; filter, sort and
#: facet on what they pivot on. docs/search.md gives the reasons.
HUNTING_RULES: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = tuple(
    (re.compile(pattern), attrs)
    for pattern, attrs in (
        # the PE's own names: a renamed tool (svc.exe that is "Sysinternals PsExec") is found by them
        (r"VersionInfo(ProductName|OriginalFileName|FileDescription)$", TEXT),
        (
            r"RemoteSession|VersionInfo|AccountDomain$|AccountSid$|AccountObjectId$",
            frozenset(),
        ),  # rarely hunted
        (r"^InitiatingProcess(SHA1|SHA256|MD5)$", frozenset()),  # the parent's hashes: rarely pivoted on
        (r"(SHA1|SHA256)$", TEXT | PIVOT),
        (r"MD5$", TEXT),
        (r"CommandLine$", TEXT),
        (r"(FolderPath|RegistryKey|RegistryValueName|RegistryValueData)$", TEXT),
        (r"ParentFileName$", TEXT),
        (r"(Title|Description|Subject)$", TEXT),
        (r"(AccountUpn|AccountDisplayName)$", TEXT),
        (r"(FileName|DeviceName|ComputerName|AccountName)$", TEXT | PIVOT),
        (r"(Url|UrlDomain)$", TEXT | PIVOT),
        (r"(IP|IPAddress|IPv4|IPv6)$", TEXT | PIVOT),
        (r"(EmailAddress|FromAddress|FromDomain)$", TEXT | PIVOT),
        (
            r"^(DeviceId|MachineId|ActionType|RemotePort|Severity|Category|ServiceSource|DetectionSource|"
            r"AlertId|LogonType|Protocol|EntityType|EvidenceRole|Application|NetworkMessageId)$",
            PIVOT,
        ),
    )
)

#: Envelope and blob-metadata fields of the default definition (the key is always `id`).
ENVELOPE_DEFAULTS: dict[str, frozenset[str]] = {
    KEY_FIELD: frozenset({"filterable", "sortable"}),
    "time": PIVOT,
    "tenantId": frozenset({"filterable", "facetable"}),
    "category": frozenset({"filterable", "facetable"}),
}


def _hunting_attributes(spec: FieldSpec, table: Table) -> frozenset[str]:
    if not spec.path.startswith(COMPLEX + "/"):
        return ENVELOPE_DEFAULTS.get(spec.path, frozenset())
    column = spec.name
    if column == table.time_column:
        return PIVOT
    for pattern, attrs in HUNTING_RULES:
        if pattern.search(column):
            return attrs if spec.edm == "Edm.String" else attrs - TEXT
    return frozenset()


def _with(spec: FieldSpec, code: int, attrs: frozenset[str] | dict[str, Any]) -> FieldSpec:
    values = {a: (a in attrs) if isinstance(attrs, frozenset) else bool(attrs[a]) for a in ATTRIBUTES}
    if isinstance(attrs, frozenset):
        values["retrievable"] = True
    analyzer = DEFAULT_ANALYZER
    search = DEFAULT_ANALYZER
    if isinstance(attrs, dict):
        analyzer = attrs.get("analyzer") or DEFAULT_ANALYZER
        search = attrs.get("search_analyzer") or analyzer
    return dataclasses.replace(
        spec,
        code=code,
        analyzer=analyzer,
        search_analyzer=search,
        searchable=values["searchable"],
        filterable=values["filterable"],
        sortable=values["sortable"],
        facetable=values["facetable"],
        retrievable=values["retrievable"],
    )


def default_layout(table: Table) -> IndexLayout:
    """The definition huntvault ships for `table`: tuned for hunting (HUNTING_RULES)."""
    fields = {
        spec.path: _with(spec, code, _hunting_attributes(spec, table))
        for code, spec in enumerate(all_fields(table))
    }
    return IndexLayout(table=table, fields=fields)


def full_layout(table: Table) -> IndexLayout:
    """Every field with every attribute Azure allows for its type (what huntvault indexed before definitions)."""
    fields = {}
    for code, spec in enumerate(all_fields(table)):
        attrs = set(PIVOT) | ({"searchable"} if spec.edm == "Edm.String" and not spec.key else set())
        fields[spec.path] = _with(spec, code, frozenset(attrs))
    return IndexLayout(table=table, fields=fields)


# -- Azure JSON out --------------------------------------------------------------------------------


def _field_json(spec: FieldSpec) -> dict[str, Any]:
    split = spec.searchable and spec.search_analyzer != spec.analyzer
    return {
        "name": spec.name,
        "type": spec.edm,
        "key": spec.key,
        "retrievable": spec.retrievable,
        "stored": True,
        "searchable": spec.searchable,
        "filterable": spec.filterable,
        "sortable": spec.sortable,
        "facetable": spec.facetable,
        "analyzer": spec.analyzer if spec.searchable and not split else None,
        "searchAnalyzer": spec.search_analyzer if split else None,
        "indexAnalyzer": spec.analyzer if split else None,
        "normalizer": None,
        "synonymMaps": [],
        "fields": [],
    }


def render_definition(layout: IndexLayout) -> dict[str, Any]:
    """`GET /indexes/{name}`: the Azure index definition (with its `@odata.etag`)."""
    top: list[dict[str, Any]] = []
    props: list[dict[str, Any]] = []
    complex_at = -1
    for spec in layout.fields.values():
        if spec.path.startswith(COMPLEX + "/"):
            if complex_at < 0:
                complex_at = len(top)
            props.append(_field_json(spec))
        else:
            top.append(_field_json(spec))
    if props:
        top.insert(
            complex_at,
            {
                "name": COMPLEX,
                "type": "Edm.ComplexType",
                "key": None,
                "retrievable": None,
                "searchable": None,
                "filterable": None,
                "sortable": None,
                "facetable": None,
                "analyzer": None,
                "fields": props,
            },
        )
    body: dict[str, Any] = {
        "name": layout.name,
        "description": layout.description
        or f"Defender advanced-hunting table {layout.table.name} from the huntvault archive",
        "fields": top,
        "scoringProfiles": [],
        "defaultScoringProfile": None,
        "corsOptions": layout.extras.get("corsOptions"),
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
        STRICT_KEY: layout.strict,
    }
    return {"@odata.etag": etag(body), **body}


def etag(body: dict[str, Any]) -> str:
    """Azure-style etag (quoted) of a rendered definition: changes with any change to it."""
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return '"0x' + digest[:15].upper() + '"'


# -- Azure JSON in ---------------------------------------------------------------------------------


def _bad(message: str) -> SearchError:
    return SearchError(f"Invalid index definition: {message}", 400, "InvalidRequestParameter")


#: index-level keys: accepted as long as they ask for nothing huntvault cannot do
_EMPTY_OK = (
    "scoringProfiles",
    "suggesters",
    "analyzers",
    "tokenizers",
    "tokenFilters",
    "charFilters",
    "normalizers",
)
_NULL_OK = ("defaultScoringProfile", "encryptionKey", "semantic", "vectorSearch")
_IGNORED = ("@odata.etag", "@odata.context", "@odata.type")
_FIELD_KEYS = {
    "name",
    "type",
    "key",
    "retrievable",
    "stored",
    "searchable",
    "filterable",
    "sortable",
    "facetable",
    "analyzer",
    "searchAnalyzer",
    "indexAnalyzer",
    "normalizer",
    "synonymMaps",
    "fields",
    "dimensions",
    "vectorSearchProfile",
    "vectorEncoding",
}
_FIELD_NULL_OK = ("normalizer", "dimensions", "vectorSearchProfile", "vectorEncoding")
SUPPORTED_SIMILARITY = "#Microsoft.Azure.Search.BM25Similarity"


def _short(value: Any) -> str:
    return str(value)[:100]


def _opt_bool(raw: dict[str, Any], key: str, where: str) -> bool | None:
    value = raw.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _bad(f"field '{where}': attribute '{key}' must be true, false or null, not {_short(value)!r}")


def _analyzer(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"field '{where}': attribute '{key}' must be an analyzer name, not {_short(value)!r}")
    try:
        get_analyzer(value, f"field '{where}'")
    except SearchError as exc:
        raise _bad(f"field '{where}': attribute '{key}': {exc.message}") from None
    return value


def _parse_field(raw: Any, spec: FieldSpec, where: str) -> dict[str, Any]:
    """One simple field's attributes (REST defaults for nulls), checked against its type."""
    for key, value in raw.items():
        if key not in _FIELD_KEYS and value is not None:
            raise _bad(f"field '{where}': unknown attribute '{_short(key)}'")
    for key in _FIELD_NULL_OK:
        if raw.get(key) is not None:
            raise _bad(f"field '{where}': attribute '{key}' is not supported (must be null)")
    if raw.get("synonymMaps") not in (None, []):
        raise _bad(
            f"field '{where}': attribute 'synonymMaps' is not supported (synonym maps do not exist here)"
        )
    if raw.get("fields") not in (None, []):
        raise _bad(f"field '{where}': a simple field has no subfields")
    if raw.get("type") != spec.edm:
        raise _bad(
            f"field '{where}': attribute 'type' must be '{spec.edm}' (the archive's type of this column), "
            f"not {_short(raw.get('type'))!r}"
        )
    is_string = spec.edm == "Edm.String"
    key = _opt_bool(raw, "key", where)
    if bool(key) != spec.key:
        raise _bad(
            f"field '{where}': attribute 'key' must be "
            + (
                "true: 'id' is the key of every huntvault index"
                if spec.key
                else "false: the key field is 'id'"
            )
        )
    stored = _opt_bool(raw, "stored", where)
    retrievable = _opt_bool(raw, "retrievable", where)
    if stored is False and retrievable:
        raise _bad(f"field '{where}': attribute 'retrievable' cannot be true when 'stored' is false")
    out: dict[str, Any] = {
        "retrievable": (retrievable is not False) and stored is not False,
        "searchable": _opt_bool(raw, "searchable", where),
        "filterable": _opt_bool(raw, "filterable", where) is not False,
        "sortable": _opt_bool(raw, "sortable", where) is not False,
        "facetable": _opt_bool(raw, "facetable", where) is not False,
    }
    if out["searchable"] is None:
        out["searchable"] = is_string and not spec.key
    if out["searchable"] and not is_string:
        raise _bad(
            f"field '{where}': attribute 'searchable' can be true only on Edm.String fields, not {spec.edm}"
        )
    if out["searchable"] and spec.key:
        raise _bad(f"field '{where}': attribute 'searchable' must be false on the key field")
    analyzer = _analyzer(raw, "analyzer", where)
    index_analyzer = _analyzer(raw, "indexAnalyzer", where)
    search_analyzer = _analyzer(raw, "searchAnalyzer", where)
    if analyzer and (index_analyzer or search_analyzer):
        raise _bad(f"field '{where}': set either 'analyzer' or both 'indexAnalyzer' and 'searchAnalyzer'")
    if bool(index_analyzer) != bool(search_analyzer):
        raise _bad(f"field '{where}': 'indexAnalyzer' and 'searchAnalyzer' must be set together")
    if (analyzer or index_analyzer) and not out["searchable"]:
        raise _bad(f"field '{where}': an analyzer applies only to a searchable field")
    out["analyzer"] = analyzer or index_analyzer or DEFAULT_ANALYZER
    out["search_analyzer"] = search_analyzer or out["analyzer"]
    return out


def _check_index_level(body: dict[str, Any]) -> None:
    known = {
        "name",
        "description",
        "fields",
        "corsOptions",
        "similarity",
        STRICT_KEY,
        *_EMPTY_OK,
        *_NULL_OK,
        *_IGNORED,
    }
    for key, value in body.items():
        if key not in known and value is not None:
            raise _bad(f"unknown property '{_short(key)}'")
    for key in _EMPTY_OK:
        if body.get(key) not in (None, []):
            raise _bad(f"'{key}' is not supported here (leave it empty)")
    for key in _NULL_OK:
        if body.get(key) is not None:
            raise _bad(f"'{key}' is not supported here (leave it null)")
    similarity = body.get("similarity")
    if similarity is not None:
        if not isinstance(similarity, dict) or similarity.get("@odata.type") != SUPPORTED_SIMILARITY:
            raise _bad(f"'similarity' must be {SUPPORTED_SIMILARITY} (BM25 is the only ranking here)")
        if similarity.get("k1") is not None or similarity.get("b") is not None:
            raise _bad("'similarity': k1 and b cannot be changed (tantivy's BM25 uses k1 = 1.2, b = 0.75)")
    cors = body.get("corsOptions")
    if cors is not None and not isinstance(cors, dict):
        raise _bad("'corsOptions' must be an object")
    if body.get("description") is not None and not isinstance(body["description"], str):
        raise _bad("'description' must be a string")
    if body.get(STRICT_KEY) is not None and not isinstance(body[STRICT_KEY], bool):
        raise _bad(f"'{STRICT_KEY}' must be true, false or null")


def parse_definition(body: Any, table: Table, name: str, strict_default: bool = False) -> IndexLayout:
    """Azure's index JSON for the index `name` of `table` -> its layout; a 400 naming the field/attribute.

    Fields may be any subset of the table's fields (a column left out is not in the index); `id` must be
    there, as the key. Types are the archive's. Null attributes take Azure's REST defaults.
    """
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object (an index definition)")
    _check_index_level(body)
    body_name = body.get("name")
    if not isinstance(body_name, str):
        raise _bad("'name' is required (a string)")
    validate_index_name(body_name)
    if body_name != name:
        raise _bad(
            f"the name in the body ('{_short(body_name)}') differs from the index named in the URL ('{name}')"
        )
    fields = body.get("fields")
    if not isinstance(fields, list) or not fields:
        raise _bad("'fields' must be a non-empty array")
    by_path = {spec.path: (code, spec) for code, spec in enumerate(all_fields(table))}
    chosen: dict[str, FieldSpec] = {}
    count = 0

    def take(raw: Any, prefix: str) -> None:
        nonlocal count
        count += 1
        if count > MAX_FIELDS:
            raise _bad(f"more than {MAX_FIELDS} fields")
        if not isinstance(raw, dict):
            raise _bad(f"every entry of '{prefix or 'fields'}' must be an object")
        fname = raw.get("name")
        if not isinstance(fname, str) or not fname:
            raise _bad(f"a field of '{prefix or 'fields'}' has no name")
        path = f"{prefix}/{fname}" if prefix else fname
        if path in chosen:
            raise _bad(f"field '{_short(path)}' is defined twice")
        found = by_path.get(path)
        if found is None:
            raise _bad(
                f"field '{_short(path)}' is not a field of table {table.name} "
                f"(fields are the export's: id, time, tenantId, category, operationName, "
                f"{COMPLEX}/<column>, metadata_storage_*)"
            )
        code, spec = found
        chosen[path] = _with(spec, code, _parse_field(raw, spec, path))

    for raw in fields:
        if isinstance(raw, dict) and raw.get("name") == COMPLEX:
            _parse_complex(raw, take)
            continue
        take(raw, "")
    if KEY_FIELD not in chosen:
        raise _bad(f"the key field '{KEY_FIELD}' (Edm.String, key: true) is missing")
    ordered = {path: chosen[path] for path in by_path if path in chosen}
    strict = body.get(STRICT_KEY)
    extras = {"corsOptions": body["corsOptions"]} if body.get("corsOptions") is not None else {}
    return IndexLayout(
        table=table,
        fields=ordered,
        strict=strict_default if strict is None else bool(strict),
        description=str(body.get("description") or ""),
        extras=extras,
    )


def _parse_complex(raw: dict[str, Any], take: Any) -> None:
    if raw.get("type") != "Edm.ComplexType":
        raise _bad(f"field '{COMPLEX}': attribute 'type' must be 'Edm.ComplexType'")
    for key, value in raw.items():
        if key not in ("name", "type", "fields") and value not in (None, []):
            raise _bad(f"field '{COMPLEX}': attribute '{_short(key)}' must be null on a complex field")
    subfields = raw.get("fields")
    if not isinstance(subfields, list):
        raise _bad(f"field '{COMPLEX}': 'fields' must be an array of its subfields")
    for sub in subfields:
        take(sub, COMPLEX)
