"""The table model: Defender advanced-hunting tables and column types, loaded from tables.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import pyarrow as pa

from huntvault.errors import SchemaError

#: KQL scalar type -> Arrow type used in the archive. `dynamic` is stored as JSON text.
KQL_TO_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "guid": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "real": pa.float64(),
    "decimal": pa.float64(),
    "bool": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "timespan": pa.int64(),
    "dynamic": pa.string(),
}

#: Columns every archived row carries besides the table's own (envelope and drift).
EXPORT_TIME_COLUMN = "_ExportTime"  # envelope `time`: when Defender exported the row
RECEIVED_COLUMN = "_TimeReceivedBySvc"  # envelope `_TimeReceivedBySvc` when present
TENANT_COLUMN = "_TenantId"  # envelope `tenantId`
EXTRA_COLUMN = "_Extra"  # JSON object of properties the schema does not know (never dropped)
ENVELOPE_COLUMNS: tuple[tuple[str, str], ...] = (
    (EXPORT_TIME_COLUMN, "datetime"),
    (RECEIVED_COLUMN, "datetime"),
    (TENANT_COLUMN, "string"),
    (EXTRA_COLUMN, "dynamic"),
)

CONTAINER_PREFIX = "insights-logs-advancedhunting-"
CATEGORY_PREFIX = "AdvancedHunting-"


@dataclass(frozen=True)
class Column:
    """One typed column of a Defender table."""

    name: str
    type: str  # KQL type
    json_in_string: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        return KQL_TO_ARROW[self.type]


@dataclass(frozen=True)
class Table:
    """One Defender advanced-hunting table."""

    name: str
    columns: tuple[Column, ...]
    time_column: str = "Timestamp"
    streamed: bool = True
    legacy: bool = False
    own: bool = False  # a table huntvault writes itself (forwarded API alerts, detections), not Defender's
    dedupe_key: tuple[str, ...] | None = None
    by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({c.name: c for c in self.columns})

    @property
    def container(self) -> str:
        """The export's container (and Event Hub) name for this table."""
        return container_name(self.name)

    @property
    def category(self) -> str:
        return CATEGORY_PREFIX + self.name

    def column(self, name: str) -> Column | None:
        return self.by_name.get(name)

    def arrow_schema(self, with_envelope: bool = True) -> pa.Schema:
        """The archive schema: the table's columns in order, then the envelope columns."""
        fields = [pa.field(c.name, c.arrow_type) for c in self.columns]
        if with_envelope:
            fields += [pa.field(n, KQL_TO_ARROW[t]) for n, t in ENVELOPE_COLUMNS]
        return pa.schema(fields)


def container_name(table: str) -> str:
    return CONTAINER_PREFIX + table.lower()


@cache
def _load() -> dict[str, Table]:
    raw = json.loads(resources.files("huntvault.schema").joinpath("tables.json").read_text(encoding="utf-8"))
    tables: dict[str, Table] = {}
    for name, spec in raw["tables"].items():
        cols = []
        for c in spec["columns"]:
            if c["type"] not in KQL_TO_ARROW:
                raise SchemaError(f"tables.json: {name}.{c['name']}: unknown KQL type {c['type']!r}")
            cols.append(Column(c["name"], c["type"], bool(c.get("json_in_string"))))
        key = spec.get("dedupe_key")
        tables[name] = Table(
            name=name,
            columns=tuple(cols),
            time_column=spec.get("time_column", "Timestamp"),
            streamed=bool(spec.get("streamed", True)),
            legacy=bool(spec.get("legacy", False)),
            own=bool(spec.get("huntvault", False)),
            dedupe_key=tuple(key) if key else None,
        )
    return tables


def tables() -> dict[str, Table]:
    """Every known table by its exact name."""
    return _load()


@cache
def _lower_index() -> dict[str, str]:
    return {n.lower(): n for n in _load()}


def get_table(name: str) -> Table | None:
    """The table called `name` (case-insensitive), or None for an unknown table."""
    exact = _load().get(name)
    if exact is not None:
        return exact
    canon = _lower_index().get(name.lower())
    return _load()[canon] if canon else None


def table_from_category(category: str) -> str:
    """`AdvancedHunting-DeviceProcessEvents` -> `DeviceProcessEvents` (unknown categories kept as named)."""
    name = category[len(CATEGORY_PREFIX) :] if category.startswith(CATEGORY_PREFIX) else category
    known = get_table(name)
    return known.name if known else name


def table_from_container(container: str) -> str | None:
    """`insights-logs-advancedhunting-deviceprocessevents` -> `DeviceProcessEvents`, or None if not an export container.

    Unknown tables come back lower-cased, as the container spells them.
    """
    if not container.startswith(CONTAINER_PREFIX):
        return None
    lowered = container[len(CONTAINER_PREFIX) :]
    return _lower_index().get(lowered, lowered)
