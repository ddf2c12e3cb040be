"""What a sink's records look like: Logs Ingestion shaping (reserved names, TimeGenerated, classic suffixes)
and the column list of that shape, which `forward init` declares in the custom table and the DCR."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from huntvault.errors import SchemaError
from huntvault.forward.merge import GUID_FIELDS, MERGE_MODES, SCHEMA_KINDS, classic_columns
from huntvault.schema import get_table

#: Archive tables the forwarder writes (joinable with DeviceEvents & co. on DeviceId); their columns
#: are also the Defender alert and machine fields every record shape is built from.
ALERT_TABLE = "DefenderApiAlerts"
MACHINE_TABLE = "DefenderApiMachines"
_ARCHIVE_ONLY = ("Timestamp", "AlertId", "DeviceId")

#: Logs Ingestion reserved column names -> what the sink sends instead (`id` -> `id_`).
LOGS_INGESTION_RESERVED = ("_ResourceId", "id", "_SubscriptionId", "TenantId", "Type", "UniqueId", "Title")


def rename_reserved(record: dict[str, Any]) -> dict[str, Any]:
    """Logs Ingestion refuses its reserved column names: send them with a trailing underscore."""
    if not any(k in record for k in LOGS_INGESTION_RESERVED):
        return record
    return {(k + "_" if k in LOGS_INGESTION_RESERVED else k): v for k, v in record.items()}


def defender_fields(table: str) -> dict[str, str]:
    """Field -> schema type of the Defender alert (ALERT_TABLE) or machine (MACHINE_TABLE) entity."""
    found = get_table(table)
    if found is None:
        raise SchemaError(f"the schema has no table {table}")
    return {c.name: c.type for c in found.columns if c.name not in _ARCHIVE_ONLY}


@functools.cache
def classic_kinds() -> dict[str, str]:
    """Field -> Data Collector kind (string, real, datetime, boolean, guid) of every known field."""
    kinds: dict[str, str] = {"AlertId": "string"}
    for table in (ALERT_TABLE, MACHINE_TABLE):
        for name, typ in defender_fields(table).items():
            kinds[name] = "guid" if name in GUID_FIELDS else SCHEMA_KINDS.get(typ, "string")
    return kinds


def logs_ingestion_record(record: dict[str, Any], merge: str, time_field: str) -> dict[str, Any]:
    """A merged record as the Logs Ingestion sink sends it: TimeGenerated first, then the columns
    (classic: Data Collector names with type suffixes; others: reserved names get a trailing `_`)."""
    when = record.get(time_field) or record.get("alertCreationTime") or record.get("lastUpdateTime")
    if merge == "classic":
        return {"TimeGenerated": when, **classic_columns(record, classic_kinds())}
    out = rename_reserved(record)
    if "TimeGenerated" in out:
        return out
    return {"TimeGenerated": when, **out}


# -- the declared shape -------------------------------------------------------------------------------

#: Log Analytics table column type -> DCR stream declaration type
STREAM_TYPES: dict[str, str] = {
    "string": "string",
    "long": "long",
    "real": "real",
    "boolean": "boolean",
    "dateTime": "datetime",
    "dynamic": "dynamic",
    "guid": "string",
}
#: classic suffix -> table column type
SUFFIX_TYPES: dict[str, str] = {"_s": "string", "_d": "real", "_t": "dateTime", "_b": "boolean", "_g": "guid"}
_SAMPLES: dict[str, Any] = {
    "string": "s",
    "long": 1,
    "int": 1,
    "real": 1.5,
    "datetime": "2026-01-01T00:00:00Z",
    "bool": True,
    "dynamic": ["s"],
    "guid": "00000000-0000-0000-0000-000000000000",
}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the custom table: name and Log Analytics type (string, long, real, dateTime...)."""

    name: str
    type: str

    @property
    def stream_type(self) -> str:
        return STREAM_TYPES[self.type]


def _sample(table: str) -> dict[str, Any]:
    return {
        name: _SAMPLES["guid" if name in GUID_FIELDS else typ] for name, typ in defender_fields(table).items()
    }


def _column_type(name: str, value: Any, merge: str) -> str:
    if merge == "classic" and name != "TimeGenerated":
        return SUFFIX_TYPES[name[-2:]]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "real"
    if isinstance(value, (list, dict)):
        return "dynamic"
    return "dateTime" if _ISO.match(str(value)) else "string"


def logs_ingestion_columns(merge: str, time_field: str = "lastUpdateTime") -> list[ColumnSpec]:
    """The columns a logs-ingestion sink with this record shape sends (TimeGenerated first).

    Built by running a sample alert and machine (one value of the right type per known field)
    through the same merge and shaping as real records, so the declaration cannot drift.
    """
    record = MERGE_MODES[merge].merge(_sample(ALERT_TABLE), _sample(MACHINE_TABLE))
    shaped = logs_ingestion_record(record, merge, time_field)
    return [ColumnSpec(name, _column_type(name, value, merge)) for name, value in shaped.items()]
