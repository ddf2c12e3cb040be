"""The DuckDB fast path gives exactly the normaliser's typed values and quarantines exactly what it rejects."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from huntvault.sources import Decoder
from huntvault.sources.decode import _key_flags, split_lines
from tests.support.ingest import small_export

BASE = {
    "Timestamp": "2026-07-22T10:44:33.4250955Z",
    "DeviceId": "d1",
    "DeviceName": "host",
    "ReportId": 7,
    "FileSize": 10,
    "ProcessId": 5,
    "AdditionalFields": '{"IsLocalLogon":true}',
    "IsProcessRemoteSession": False,
    "ProcessCreationTime": "2026-07-22T10:44:33Z",
}

VARIANTS: list[dict] = [
    {},
    {"DeviceName": 5},  # number in a string column
    {"DeviceName": 1.5e20},
    {"DeviceName": {"a": [1, 2]}},
    {"DeviceName": True},
    {"DeviceName": 'caf\u00e9 \\ "q" \u2603'},
    {"DeviceName": None},
    {"FileSize": "123"},  # string in a long column
    {"FileSize": "1.0"},
    {"FileSize": 1.5},  # quarantined
    {"FileSize": ""},
    {"FileSize": 123456789012345678},
    {"FileSize": 99999999999999999999},  # out of range: quarantined
    {"FileSize": True},
    {"FileSize": -0},
    {"IsProcessRemoteSession": 1},
    {"IsProcessRemoteSession": "yes"},
    {"IsProcessRemoteSession": 2},  # quarantined
    {"IsProcessRemoteSession": ""},
    {"ProcessCreationTime": "2026-07-22T10:44:33.1Z"},
    {"ProcessCreationTime": "2026-07-22T10:44:33.123456789Z"},
    {"ProcessCreationTime": "2026-07-22T10:44:33+02:00"},
    {"ProcessCreationTime": "2026-07-22 10:44"},
    {"ProcessCreationTime": "2026-02-30T10:44:33Z"},  # quarantined
    {"ProcessCreationTime": "2026-07-22T24:00:00Z"},  # quarantined
    {"ProcessCreationTime": "2026-07-22T10:44:60Z"},
    {"ProcessCreationTime": ""},
    {"ProcessCreationTime": 5},
    {"ProcessCreationTime": "0000-01-01T00:00:00Z"},
    {"ProcessCreationTime": "0000-01-01T00:00:00.0000000Z"},
    {"ProcessCreationTime": "2026-07-22T10:44:33.425095xZ"},
    {"ProcessCreationTime": "2026-07-22T24:00:00.0000000Z"},
    {"ProcessCreationTime": "2026-07-22T10:44:60.0000000Z"},
    {"ProcessCreationTime": "2026-07-22T10:44:33.4250951"},
    {"ProcessCreationTime": "2026-07-22T1 :44:33.4250951Z"},
    {"ProcessCreationTime": "2026-07-22t10:44:33.4250951Z"},
    {"ProcessCreationTime": "2026-07-22T10:44:33,4250951Z"},
    {"Timestamp": None},  # quarantined: no time
    {"Timestamp": "2026-07-22T10:44:33"},  # naive = UTC
    {"AdditionalFields": "[]"},
    {"AdditionalFields": ""},
    {"AdditionalFields": "not json"},
    {"AdditionalFields": {"x": 1.0}},
    {"AdditionalFields": '{"n": 1e400}'},
    {"UnknownDrift": 1},  # goes to _Extra
    {"ReportId": "639199803770463703"},
]


def envelope(props: dict, **env: object) -> bytes:
    base: dict[str, object] = {
        "time": "2026-07-22T10:50:00.1234567Z",
        "tenantId": "t1",
        "operationName": "Publish",
        "category": "AdvancedHunting-DeviceProcessEvents",
        "_TimeReceivedBySvc": "2026-07-22T10:49:00.0000000",
        "properties": props,
    }
    base.update(env)
    return json.dumps(base, ensure_ascii=False, separators=(",", ":")).encode()


def tricky_lines() -> list[bytes]:
    lines = [envelope({**BASE, **v, "ReportId": i}) for i, v in enumerate(VARIANTS)]
    lines += [
        envelope(BASE, time=""),
        envelope(BASE, time=5),
        envelope(BASE, tenantId=None),
        envelope(BASE, tenantId=12),
        envelope(BASE, category="AdvancedHunting-deviceprocessevents"),
        envelope(BASE, category="AdvancedHunting-SomethingNew"),
        envelope(BASE, Tenant="DefaultTenant"),
        envelope(BASE, _TimeReceivedBySvc="2026-07-22T10:49:00+01:00"),
        b'{"time": "x", "category": "AdvancedHunting-DeviceProcessEvents", "properties": "nope"}',
        b'{"category": "AdvancedHunting-DeviceProcessEvents"}',
        b"{bad json",
        b'{"properties": {"DeviceName": "\\ud800"}, "category": "AdvancedHunting-DeviceProcessEvents"}',
        b"[1, 2]",
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","DeviceName":"a","DeviceName":"b"}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","Drift":"a","Drift":"b"}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","Drift":1,"FileSize":1,"FileSize":2}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","x":NaN,"properties":{"Timestamp":"2026-07-22T10:00:00Z"}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","FolderPath":"C:\\\\x\\u00e9"}}',
        b"\xff\xfe not utf-8",
        # what a lenient reader accepts and orjson refuses, and spaced-out odd values
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","ReportId":1,}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","Extra": NaN ,"properties":{"Timestamp":"2026-07-22T10:00:00Z"}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","Drift":-Infinity}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","Drift":1e999}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","DeviceName" : 5}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","FileSize" :\t1.5}}',
        b'{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2026-07-22T10:00:00Z","FileSize":2147483648000}}',
        b'{"category" : "AdvancedHunting-DeviceProcessEvents" , "properties" : { "Timestamp" : "2026-07-22T10:00:00Z" , "SHA1" : "e123" } }',
    ]
    return lines


def decode_both(data: bytes) -> tuple:
    fast = Decoder(fast=True).decode(data, 100, "s", "blob", expect_table="DeviceProcessEvents")
    slow = Decoder(fast=False).decode(data, 100, "s", "blob", expect_table="DeviceProcessEvents")
    return fast, slow


def tables_of(dec: object) -> dict[str, list[str]]:
    """Rows of each table as a sorted list of their reprs (order-free comparison)."""
    return {k: sorted(repr(r) for r in pa.concat_tables(v).to_pylist()) for k, v in dec.tables.items()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_fast_path_equals_normaliser_on_tricky_lines(eol: bytes) -> None:
    data = eol.join(tricky_lines()) + eol
    fast, slow = decode_both(data)
    assert fast.fast_rows > 0  # the fast path did take the plain lines
    ft, st = tables_of(fast), tables_of(slow)
    assert ft.keys() == st.keys()
    for name in ft:
        assert ft[name] == st[name], name
    for name, pieces in fast.tables.items():
        assert all(p.schema.equals(slow.tables[name][0].schema) for p in pieces)
    key = lambda q: q.offset  # noqa: E731
    assert [(q.offset, q.reason) for q in sorted(fast.quarantine, key=key)] == [
        (q.offset, q.reason) for q in sorted(slow.quarantine, key=key)
    ]
    assert len(slow.quarantine) >= 8
    starts, _ = split_lines(data)
    assert {q.offset - 100 for q in slow.quarantine} <= set(starts.tolist())


def test_fast_path_equals_normaliser_on_emulated_blobs(tmp_path: Path) -> None:
    small_export(tmp_path, devices=1, days=0.2, seed=3)
    total_fast = 0
    for cont in ("deviceprocessevents", "devicenetworkevents", "deviceinfo", "devicelogonevents"):
        for blob in sorted((tmp_path / f"insights-logs-advancedhunting-{cont}").rglob("PT1H.json"))[:2]:
            data = blob.read_bytes()
            table = {
                "deviceprocessevents": "DeviceProcessEvents",
                "devicenetworkevents": "DeviceNetworkEvents",
                "deviceinfo": "DeviceInfo",
                "devicelogonevents": "DeviceLogonEvents",
            }[cont]
            fast = Decoder(fast=True).decode(data, 0, "s", "b", expect_table=table)
            slow = Decoder(fast=False).decode(data, 0, "s", "b", expect_table=table)
            total_fast += fast.fast_rows
            assert tables_of(fast) == tables_of(slow)
            assert len(fast.quarantine) == len(slow.quarantine)
    assert total_fast > 0


POOL: list[object] = [
    None,
    "",
    "x",
    "12",
    " 7 ",
    "1.0",
    "1.5",
    "true",
    "yes",
    "0",
    0,
    1,
    2,
    -0,
    7,
    1.0,
    1.5,
    -2.5e3,
    True,
    False,
    2**31,
    2**40,
    10**18,
    {"a": [1, {"b": None}]},
    [],
    "[1,2]",
    '{"k":"v"}',
    "2026-07-22T10:44:33.1234567Z",
    "2026-07-22T10:44:33Z",
    "2026-07-22T10:44:33+05:30",
    "2026-07-22",
    "2026-13-01T00:00:00Z",
    "caf\u00e9",
]


def test_fast_path_equals_normaliser_on_random_perturbations(tmp_path: Path) -> None:
    import random

    small_export(tmp_path, devices=2, days=0.25, seed=9, malformed=0)
    rnd = random.Random(1234)
    total_fast = 0
    for cont, table in (
        ("deviceinfo", "DeviceInfo"),
        ("devicenetworkevents", "DeviceNetworkEvents"),
        ("devicelogonevents", "DeviceLogonEvents"),
        ("alertinfo", "AlertInfo"),
    ):
        lines: list[bytes] = []
        for blob in sorted((tmp_path / f"insights-logs-advancedhunting-{cont}").rglob("PT1H.json")):
            lines += [x for x in blob.read_bytes().splitlines() if x.strip()]
        out = []
        for raw in lines:
            obj = json.loads(raw)
            if rnd.random() < 0.5:
                keys = list(obj["properties"])
                for key in rnd.sample(keys, k=min(2, len(keys))):
                    if key != "Timestamp" or rnd.random() < 0.2:
                        obj["properties"][key] = rnd.choice(POOL)
            out.append(json.dumps(obj, ensure_ascii=rnd.random() < 0.3).encode())
        data = b"\n".join(out) + b"\n"
        fast = Decoder(fast=True).decode(data, 0, "s", "b", expect_table=table)
        slow = Decoder(fast=False).decode(data, 0, "s", "b", expect_table=table)
        total_fast += fast.fast_rows
        assert tables_of(fast) == tables_of(slow), table
        assert sorted((q.offset, q.reason) for q in fast.quarantine) == sorted(
            (q.offset, q.reason) for q in slow.quarantine
        )
    assert total_fast > 50


def test_key_flags_marks_unknown_and_repeated_keys() -> None:
    keys = pa.chunked_array(
        [
            pa.array(
                [["a", "b"], None, [], ["a", "a"], ["a", "x"], ["x", "y", "x"], ["b", "x", "b"], ["y"]],
                pa.list_(pa.string()),
            )
        ]
    )
    extra, dup = _key_flags(keys, ["a", "b"])
    assert extra.tolist() == [False, False, False, False, True, True, True, True]
    assert dup.tolist() == [False, False, False, True, False, True, True, False]
