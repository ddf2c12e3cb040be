"""The schema data file and the record normaliser: every table round-trips, and the wire's edge cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pytest

from huntvault.errors import NormaliseError
from huntvault.schema import (
    ENVELOPE_COLUMNS,
    EXTRA_COLUMN,
    Column,
    container_name,
    get_table,
    table_from_category,
    table_from_container,
    tables,
)
from huntvault.schema.normalise import coerce, normalise_line, normalise_record, parse_datetime

TS = "2026-07-22T10:44:33.4250955Z"
TS_VALUE = datetime(2026, 7, 22, 10, 44, 33, 425095, tzinfo=UTC)

SAMPLE: dict[str, tuple[Any, Any]] = {  # KQL type -> (wire value, normalised value)
    "string": ("some text", "some text"),
    "guid": ("0b9f6b1e-3c1a-4d2e-9a8b-6f5e4d3c2b1a", "0b9f6b1e-3c1a-4d2e-9a8b-6f5e4d3c2b1a"),
    "int": (443, 443),
    "long": (639199803770463703, 639199803770463703),
    "real": (1.5, 1.5),
    "decimal": (2.25, 2.25),
    "bool": (True, True),
    "datetime": (TS, TS_VALUE),
    "timespan": (10, 10),
    "dynamic": ({"a": [1, 2]}, '{"a":[1,2]}'),
}


def _line(table: str, props: dict[str, Any], **envelope: Any) -> bytes:
    env = {
        "time": "2026-07-22T10:50:00.1234567Z",
        "tenantId": "t-1",
        "operationName": "Publish",
        "category": f"AdvancedHunting-{table}",
        "_TimeReceivedBySvc": "2026-07-22T10:49:00.0000000",
        "properties": props,
        "Tenant": "DefaultTenant",
    }
    env.update(envelope)
    return orjson.dumps(env) + b"\r\n"


@pytest.mark.parametrize("name", sorted(tables()))
def test_every_table_round_trips_a_sample_line(name: str) -> None:
    table = tables()[name]
    props: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for col in table.columns:
        wire, value = SAMPLE[col.type]
        if col.json_in_string:
            wire = orjson.dumps(wire).decode()  # JSON-in-a-string, as the export writes it
        props[col.name] = wire
        expected[col.name] = value
    rec = normalise_line(_line(name, props))
    assert rec.table == name and rec.known_table
    for col in table.columns:
        assert rec.row[col.name] == expected[col.name], col.name
    assert rec.row[EXTRA_COLUMN] is None
    assert rec.row["_ExportTime"] == datetime(2026, 7, 22, 10, 50, 0, 123456, tzinfo=UTC)
    assert rec.row["_TimeReceivedBySvc"] == datetime(2026, 7, 22, 10, 49, tzinfo=UTC)
    assert rec.row["_TenantId"] == "t-1"
    # the typed row fits the table's Arrow schema, envelope included
    schema = table.arrow_schema()
    assert [f.name for f in schema][-len(ENVELOPE_COLUMNS) :] == [n for n, _ in ENVELOPE_COLUMNS]
    pa.Table.from_pylist([rec.row], schema=schema)


def test_every_table_has_the_time_column_and_machine_group() -> None:
    for name, table in tables().items():
        assert table.column(table.time_column) is not None, name
        assert table.column(table.time_column).type == "datetime"  # type: ignore[union-attr]
        # every streamed row is decorated with MachineGroup; huntvault's own tables are not streamed
        assert (table.column("MachineGroup") is not None) != table.own, name
    assert get_table("AlertEvents").time_column == "EventTime"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TS, TS_VALUE),  # 7 digits: the 100-ns digit is truncated
        ("2026-07-22T10:44:59.29Z", datetime(2026, 7, 22, 10, 44, 59, 290000, tzinfo=UTC)),
        ("2026-07-22T10:44:59.2Z", datetime(2026, 7, 22, 10, 44, 59, 200000, tzinfo=UTC)),  # 1 digit
        ("2026-07-22T10:44:59Z", datetime(2026, 7, 22, 10, 44, 59, tzinfo=UTC)),  # no fraction
        ("2026-07-22T10:43:05.0000000", datetime(2026, 7, 22, 10, 43, 5, tzinfo=UTC)),  # no Z: UTC
        ("2026-07-22T12:44:33+02:00", datetime(2026, 7, 22, 10, 44, 33, tzinfo=UTC)),  # offset
        ("2026-07-22T05:14:33.5-0530", datetime(2026, 7, 22, 10, 44, 33, 500000, tzinfo=UTC)),
        ("2026-07-22", datetime(2026, 7, 22, tzinfo=UTC)),
    ],
)
def test_datetimes(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


def test_unparsable_timestamp_names_the_column() -> None:
    with pytest.raises(NormaliseError) as exc:
        normalise_line(_line("DeviceInfo", {"Timestamp": "yesterday", "DeviceId": "d"}))
    assert exc.value.column == "Timestamp"
    with pytest.raises(NormaliseError) as exc:
        normalise_line(_line("DeviceInfo", {"DeviceId": "d"}))
    assert exc.value.column == "Timestamp" and "missing" in str(exc.value)
    with pytest.raises(NormaliseError):
        parse_datetime("2026-13-45T10:00:00Z")


def test_eighteen_digit_ids_stay_exact() -> None:
    big = 639199803770463703
    assert float(big) != big  # beyond float64
    rec = normalise_line(_line("DeviceInfo", {"Timestamp": TS, "ReportId": big}))
    assert rec.row["ReportId"] == big
    rec = normalise_line(_line("DeviceInfo", {"Timestamp": TS, "ReportId": str(big)}))
    assert rec.row["ReportId"] == big


def test_json_in_string_and_empty_values() -> None:
    rec = normalise_line(
        _line(
            "DeviceInfo",
            {
                "Timestamp": TS,
                "LoggedOnUsers": '[{"UserName":"jdoe"}]',
                "AdditionalFields": "[]",
                "PublicIP": None,
                "OSBuild": "",
                "IsAzureADJoined": "",
                "DeviceName": None,
            },
        )
    )
    row = rec.row
    assert row["LoggedOnUsers"] == '[{"UserName":"jdoe"}]'
    assert row["AdditionalFields"] == "[]"
    assert row["OSBuild"] is None and row["IsAzureADJoined"] is None  # "" in a typed column is null
    assert row["PublicIP"] == "" and row["DeviceName"] == ""  # strings are never null
    for empty in ("", None):
        rec = normalise_line(_line("DeviceInfo", {"Timestamp": TS, "AdditionalFields": empty}))
        assert rec.row["AdditionalFields"] is None
    rec = normalise_line(_line("DeviceInfo", {"Timestamp": TS, "AdditionalFields": "not json"}))
    assert rec.row["AdditionalFields"] == '"not json"'


def test_unknown_columns_are_kept_in_extra() -> None:
    rec = normalise_line(
        _line("DeviceProcessEvents", {"Timestamp": TS, "BrandNewColumn": 5, "Other": {"x": 1}})
    )
    assert orjson.loads(rec.row[EXTRA_COLUMN]) == {"BrandNewColumn": 5, "Other": {"x": 1}}
    assert "BrandNewColumn" not in rec.row


def test_unknown_table_keeps_everything() -> None:
    rec = normalise_line(_line("CloudBrandNewEvents", {"Timestamp": TS, "A": 1}))
    assert not rec.known_table and rec.table == "CloudBrandNewEvents"
    assert rec.row["Timestamp"] == TS_VALUE
    assert orjson.loads(rec.row[EXTRA_COLUMN]) == {"Timestamp": TS, "A": 1}
    rec = normalise_line(_line("CloudBrandNewEvents", {"A": 1}))  # no Timestamp: the export time
    assert rec.row["Timestamp"] == datetime(2026, 7, 22, 10, 50, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kql_type", "wire", "value"),
    [
        ("long", "42", 42),
        ("long", 42.0, 42),
        ("int", True, 1),
        ("real", "2.5", 2.5),
        ("real", 3, 3.0),
        ("bool", "true", True),
        ("bool", "False", False),
        ("bool", 0, False),
        ("string", 12, "12"),
        ("string", False, "false"),
        ("string", {"a": 1}, '{"a":1}'),
        ("dynamic", [1], "[1]"),
    ],
)
def test_wrong_types_are_coerced(kql_type: str, wire: Any, value: Any) -> None:
    assert coerce(Column("C", kql_type), wire) == value


@pytest.mark.parametrize(
    ("kql_type", "wire"),
    [
        ("long", "abc"),
        ("long", 1.5),
        ("int", 2**40),
        ("real", "x"),
        ("bool", "maybe"),
        ("bool", {"a": 1}),
        ("datetime", 12345),
        ("long", [1]),
    ],
)
def test_wrong_types_are_rejected_naming_the_column(kql_type: str, wire: Any) -> None:
    with pytest.raises(NormaliseError) as exc:
        coerce(Column("Col", kql_type), wire)
    assert exc.value.column == "Col"


def test_bad_lines() -> None:
    for bad in (
        b"",
        b"\r\n",
        b"{not json",
        b"[1,2]",
        b'{"category":"AdvancedHunting-DeviceInfo"}',
        b'{"category":"AdvancedHunting-DeviceInfo","properties":[1]}',
        b'{"properties":{}}',
    ):
        with pytest.raises(NormaliseError):
            normalise_line(bad)


def test_bare_row_with_table_hint() -> None:
    rec = normalise_record({"Timestamp": TS, "DeviceId": "d1"}, table_hint="DeviceNetworkEvents")
    assert (
        rec.table == "DeviceNetworkEvents" and rec.row["DeviceId"] == "d1" and rec.row["_ExportTime"] is None
    )


def test_names_and_containers() -> None:
    assert container_name("DeviceProcessEvents") == "insights-logs-advancedhunting-deviceprocessevents"
    assert table_from_container("insights-logs-advancedhunting-deviceprocessevents") == "DeviceProcessEvents"
    assert table_from_container("insights-logs-advancedhunting-somethingnew") == "somethingnew"
    assert table_from_container("other-container") is None
    assert table_from_category("AdvancedHunting-deviceinfo") == "DeviceInfo"
    assert get_table("DEVICEINFO") is get_table("DeviceInfo")
    assert get_table("Nope") is None
