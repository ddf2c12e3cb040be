"""SQL for a document's key and each field's index value over archive rows (the indexer and the archive path)."""

from __future__ import annotations

from collections.abc import Callable

from huntvault.index.fields import FieldSpec, IndexLayout
from huntvault.schema import CATEGORY_PREFIX, EXPORT_TIME_COLUMN, EXTRA_COLUMN, TENANT_COLUMN, Table

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
BLOB_ACCOUNT_URL = "https://huntvault.blob.core.windows.net"
KEY_COLUMN = "__key"
KEY_HASH_COLUMN = "__kh"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identity(table: Table, present: set[str], datetimes: str) -> str:
    """SQL for a row's stable identity: its dedupe-key columns joined by ';' (datetimes rendered by the
    `datetimes` format: '{}' is the column), or the SHA-256 of the row's JSON for tables without one."""
    if table.dedupe_key and all(c in present for c in table.dedupe_key):
        parts = []
        for col in table.dedupe_key:
            column = table.column(col)
            if column is not None and column.type == "datetime":
                parts.append("coalesce(" + datetimes.format(quote(col)) + ", '')")
            else:
                parts.append(f"coalesce(CAST({quote(col)} AS VARCHAR), '')")
        return "concat_ws(';', " + ", ".join(parts) + ")"
    cols = [
        c
        for c in [*(c.name for c in table.columns), TENANT_COLUMN, "_ExportTime", EXTRA_COLUMN]
        if c in present
    ]
    struct = "{" + ", ".join(f"{literal(c)}: {quote(c)}" for c in cols) + "}"
    return f"'sha256:' || sha256(CAST(to_json({struct}) AS VARCHAR))"


def key_expression(table: Table, present: set[str]) -> str:
    """SQL for the document key: .NET UrlTokenEncode (base64url, padding count appended) of a stable id.

    Tables with a dedupe key: the key columns joined by ';' (datetimes in ISO form) — the same row
    gets the same key however often it is re-indexed, compacted or re-exported. Other tables: the
    SHA-256 of the row's JSON, prefixed `sha256:` (identical rows collapse, as they are identical).
    """
    raw = _identity(table, present, f"strftime({{}}, '{ISO_FORMAT}')")
    b64 = f"to_base64(encode({raw}))"
    return (
        f"(replace(replace(rtrim({b64}, '='), '+', '-'), '/', '_') "
        f"|| CAST(length({b64}) - length(rtrim({b64}, '=')) AS VARCHAR))"
    )


def key_hash_sql(table: Table, present: set[str]) -> str:
    """SQL for a 64-bit hash of the row's identity (cheaper than the key: no date formatting, no base64).
    The index keeps it in a columnar field; the archive path joins the index's hits to archive rows on it."""
    return "md5_number_lower(" + _identity(table, present, "CAST(epoch_us({}) AS VARCHAR)") + ")"


def _blob_path(table: Table) -> str:
    prefix = literal(f"{BLOB_ACCOUNT_URL}/{table.container}/tenantId=")
    return (
        f"{prefix} || coalesce({quote(TENANT_COLUMN)}, '') "
        f"|| strftime({quote(EXPORT_TIME_COLUMN)}, '/y=%Y/m=%m/d=%d/h=%H/m=00/PT1H.json')"
    )


#: Fields computed from the table rather than read from a column: path -> index value expression.
COMPUTED: dict[str, Callable[[Table], str]] = {
    "category": lambda t: literal(CATEGORY_PREFIX + t.name),
    "operationName": lambda t: "'Publish'",
    "metadata_storage_name": lambda t: "'PT1H.json'",
    "metadata_storage_content_type": lambda t: "'application/json'",
    "metadata_storage_path": _blob_path,
    "metadata_storage_last_modified": lambda t: f"epoch_us({quote(EXPORT_TIME_COLUMN)})",
    "metadata_storage_size": lambda t: "NULL",  # the archive does not keep the blob
    "metadata_storage_content_md5": lambda t: "NULL",
}


def value_sql(spec: FieldSpec, table: Table, present: set[str]) -> str:
    """The index value of one field (datetimes as epoch microseconds; NULL for a column the rows lack)."""
    computed = COMPUTED.get(spec.path)
    if computed is not None:
        return computed(table)
    if spec.source not in present:
        return "NULL"
    col = quote(spec.source)
    return f"epoch_us({col})" if spec.storage == "date" else col


def archive_values_sql(layout: IndexLayout, source: str, present: set[str]) -> str:
    """`SELECT <key> AS __key, <each field's index value> AS "<path>" FROM source`: the documents' values as
    the index holds them ('' as NULL, datetimes in epoch microseconds), computed from archive rows (what
    the search engine's archive path queries)."""
    cols = [
        f"{key_expression(layout.table, present)} AS {KEY_COLUMN}",
        f"{key_hash_sql(layout.table, present)} AS {KEY_HASH_COLUMN}",
    ]
    for spec in layout.fields.values():
        if spec.key:
            continue
        value = value_sql(spec, layout.table, present)
        if spec.storage == "str":
            value = f"nullif({value}, '')"  # as the index holds it: '' is "no value"
        cols.append(f"{value} AS {quote(spec.path)}")
    return f"SELECT {', '.join(cols)} FROM {source}"
