"""Record shapes of an alert merged with its machine: `prefixed`, `logicapp` (exact union()) and `classic`.

`classic` keeps queries written for the Logic App's `MDATPAlerts_CL` working: the union's field names
and values, plus `AlertId` (the alert id the union loses). On the Data Collector path the service adds
the type suffixes (`title_s`, `incidentId_d`, `lastUpdateTime_t`, `isAadJoined_b`, `aadTenantId_g`);
on the Logs Ingestion path `classic_columns` adds the same suffixes itself, so the record lands in a
migrated classic table (or one `forward init` creates) with the very same column names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

MACHINE_PREFIX = "Machine"

Merge = Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]


def merge_logicapp(alert: dict[str, Any], machine: dict[str, Any] | None) -> dict[str, Any]:
    """Logic Apps `union(alert, machine)`: a top-level, last-wins merge.

    Pitfall reproduced on purpose: the machine's `id`, `computerDnsName` and `rbacGroupName`
    overwrite the alert's, so the record's `id` is the MACHINE id, not the alert id.
    """
    out = dict(alert)
    out.update(machine or {})
    return out


def prefixed_name(field: str) -> str:
    """A machine field's name in a prefixed record: `osPlatform` -> `MachineOsPlatform`,
    `machineTags` -> `MachineTags` (not `MachineMachineTags`)."""
    if field.startswith("machine") and field[7:8].isupper():
        return MACHINE_PREFIX + field[7:]
    return MACHINE_PREFIX + field[:1].upper() + field[1:]


def merge_prefixed(alert: dict[str, Any], machine: dict[str, Any] | None) -> dict[str, Any]:
    """Every alert field as is, then each machine field as `Machine<Field>`.

    The machine's `id` is the alert's `machineId` already, so it is not repeated as `MachineId`
    (a column differing from `machineId` only in case); a machine with another id keeps it there.
    """
    out = dict(alert)
    for key, value in (machine or {}).items():
        if key == "id" and value == alert.get("machineId"):
            continue
        out[prefixed_name(key)] = value
    return out


def merge_classic(alert: dict[str, Any], machine: dict[str, Any] | None) -> dict[str, Any]:
    """The Logic App's union (same names, machine wins on `id`, `computerDnsName`, `rbacGroupName`)
    plus `AlertId`, so every query on the Logic App's MDATPAlerts_CL keeps working."""
    out = merge_logicapp(alert, machine)
    out["AlertId"] = alert.get("id")
    return out


def _prefixed_machine(record: dict[str, Any]) -> dict[str, Any]:
    machine = {_unprefixed(k): v for k, v in record.items() if k.startswith(MACHINE_PREFIX) and len(k) > 7}
    if machine:
        machine.setdefault("id", record.get("machineId"))
    return machine


#: machine fields whose own name starts with "machine" (`prefixed_name` does not double the prefix)
MACHINE_WORD_FIELDS = frozenset({"machineTags"})


def _unprefixed(column: str) -> str:
    rest = column[len(MACHINE_PREFIX) :]
    if "machine" + rest in MACHINE_WORD_FIELDS:
        return "machine" + rest
    return rest[:1].lower() + rest[1:]


#: the fields the machine entity adds to a union record (used to read the machine back out of one)
UNION_MACHINE_FIELDS = (
    "computerDnsName",
    "osPlatform",
    "healthStatus",
    "riskScore",
    "exposureLevel",
    "lastIpAddress",
    "rbacGroupName",
    "machineTags",
    "osVersion",
    "lastSeen",
)


def _union_machine(record: dict[str, Any]) -> dict[str, Any]:
    machine = {k: record[k] for k in UNION_MACHINE_FIELDS if k in record}
    if machine:
        machine["id"] = record.get("machineId")
    return machine


@dataclass(frozen=True)
class MergeMode:
    """One record shape: how it is built, and how to read the alert id and the machine back out of it."""

    name: str
    merge: Merge
    alert_id: Callable[[dict[str, Any]], str]  # "" when the shape lost it (logicapp)
    machine: Callable[[dict[str, Any]], dict[str, Any]]


MERGE_MODES: dict[str, MergeMode] = {
    "prefixed": MergeMode("prefixed", merge_prefixed, lambda r: str(r.get("id") or ""), _prefixed_machine),
    "logicapp": MergeMode("logicapp", merge_logicapp, lambda r: "", _union_machine),
    "classic": MergeMode("classic", merge_classic, lambda r: str(r.get("AlertId") or ""), _union_machine),
}
MERGES: dict[str, Merge] = {name: mode.merge for name, mode in MERGE_MODES.items()}


def alert_key(alert: dict[str, Any]) -> tuple[str, str]:
    """What one delivery is counted by: the alert id and its lastUpdateTime."""
    return str(alert.get("id", "")), str(alert.get("lastUpdateTime", ""))


# -- Data Collector column names (type suffixes) ------------------------------------------------------

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")

#: kind of value -> the suffix the Data Collector API gives its column
SUFFIXES: dict[str, str] = {"string": "_s", "real": "_d", "datetime": "_t", "boolean": "_b", "guid": "_g"}

#: schema type (huntvault.schema) -> classic kind; dynamic values become JSON text in a string column
SCHEMA_KINDS: dict[str, str] = {
    "string": "string",
    "long": "real",
    "int": "real",
    "real": "real",
    "double": "real",
    "decimal": "real",
    "datetime": "datetime",
    "bool": "boolean",
    "boolean": "boolean",
    "dynamic": "string",
    "guid": "guid",
}

#: fields that hold GUIDs, so the Data Collector types them `_g` (and `forward init` declares them so)
GUID_FIELDS = frozenset({"aadTenantId", "aadDeviceId", "detectorId"})


def value_kind(value: Any) -> str:
    """How the Data Collector API types a JSON value (None: the property is dropped)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "real"
    if isinstance(value, str):
        if _GUID.match(value):
            return "guid"
        if _ISO_TIME.match(value):
            return "datetime"
    return "string"


def _fits(kind: str, value: Any) -> bool:
    """Whether `value` can be sent in a column of `kind` (else the value decides, as the service would)."""
    if kind == "string":
        return True
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "real":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    pattern = _GUID if kind == "guid" else _ISO_TIME
    return isinstance(value, str) and bool(pattern.match(value))


def classic_columns(record: dict[str, Any], kinds: dict[str, str] | None = None) -> dict[str, Any]:
    """A record with Data Collector column names: `title` -> `title_s`, `incidentId` -> `incidentId_d`...

    `kinds` fixes the kind of known fields (so a table created by `forward init` always matches);
    other fields, and values that do not fit their field's kind, are typed by value, as the Data
    Collector API does. Nulls are dropped, arrays and objects become JSON text, numbers are reals.
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            continue
        kind = (kinds or {}).get(key, "")
        if not kind or not _fits(kind, value):
            kind = value_kind(value)
        if isinstance(value, (list, dict)):
            value = orjson.dumps(value).decode()
        elif kind == "real":
            value = float(value)
        elif kind == "string" and not isinstance(value, str):
            value = orjson.dumps(value).decode()
        out[key + SUFFIXES[kind]] = value
    return out
