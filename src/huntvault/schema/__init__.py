"""Defender advanced-hunting tables and column types (tables.json) and record normalisation: the schema's API."""

from __future__ import annotations

from huntvault.schema.model import (
    CATEGORY_PREFIX,
    CONTAINER_PREFIX,
    ENVELOPE_COLUMNS,
    EXPORT_TIME_COLUMN,
    EXTRA_COLUMN,
    KQL_TO_ARROW,
    RECEIVED_COLUMN,
    TENANT_COLUMN,
    Column,
    Table,
    container_name,
    get_table,
    table_from_category,
    table_from_container,
    tables,
)
from huntvault.schema.normalise import (
    COERCERS,
    Record,
    coerce,
    normalise_line,
    normalise_properties,
    normalise_record,
    normalise_unknown,
    parse_datetime,
)

__all__ = [
    "CATEGORY_PREFIX",
    "COERCERS",
    "CONTAINER_PREFIX",
    "ENVELOPE_COLUMNS",
    "EXPORT_TIME_COLUMN",
    "EXTRA_COLUMN",
    "KQL_TO_ARROW",
    "RECEIVED_COLUMN",
    "TENANT_COLUMN",
    "Column",
    "Record",
    "Table",
    "coerce",
    "container_name",
    "get_table",
    "normalise_line",
    "normalise_properties",
    "normalise_record",
    "normalise_unknown",
    "parse_datetime",
    "table_from_category",
    "table_from_container",
    "tables",
]
