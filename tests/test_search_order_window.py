"""Ordering by a number or date looks in a window at the top of the column first: same answers as a full scan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from tests.support.search import SearchEnv, generate_table, make_env

ROWS = 2000


def skewed_table() -> pa.Table:
    """Values bunched at one end with a few far outliers (the even-spread guess for a window is wrong),
    ties, nulls, and a date column with a gap of months."""
    rows = generate_table("DeviceProcessEvents", ROWS, seed=5, spacing_s=60.0).to_pylist()
    for i, row in enumerate(rows):
        row["FileSize"] = None if i % 97 == 0 else (10**12 + i if i % 250 == 3 else i % 50)
        row["ProcessId"] = i % 7  # many ties
        if i % 400 == 1:
            row["Timestamp"] = row["Timestamp"] + timedelta(days=120)
    return pa.Table.from_pylist(rows, schema=generate_table("DeviceProcessEvents", 1).schema)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> SearchEnv:
    return make_env(tmp_path_factory.mktemp("search-window"), skewed_table())


def expected(env: SearchEnv, field: str, desc: bool, skip: int, top: int, keep: Any = None) -> list[Any]:
    """The values Azure's order gives: nulls first ascending, last descending."""
    values = [r[field] for r in env.data.to_pylist() if keep is None or keep(r)]
    present = sorted((v for v in values if v is not None), reverse=desc)
    nulls = [None] * (len(values) - len(present))
    ordered = present + nulls if desc else nulls + present
    return ordered[skip : skip + top]


def ordered(env: SearchEnv, field: str, desc: bool, skip: int, top: int, **extra: Any) -> dict[str, Any]:
    return env.search(
        search=extra.pop("search", "*"),
        **{
            "$orderby": f"properties/{field} {'desc' if desc else 'asc'}",
            "$skip": skip,
            "$top": top,
            "$select": f"properties/ReportId,properties/{field}",
            **extra,
        },
    )


@pytest.mark.parametrize("field", ["FileSize", "ProcessId", "Timestamp"])
@pytest.mark.parametrize("desc", [True, False])
@pytest.mark.parametrize(("skip", "top"), [(0, 1), (0, 10), (5, 20), (150, 30)])
def test_window_order_equals_full_scan(env: SearchEnv, field: str, desc: bool, skip: int, top: int) -> None:
    fast = ordered(env, field, desc, skip, top)
    # $count makes the engine order by the whole column (it has to visit every match anyway)
    full = ordered(env, field, desc, skip, top, **{"$count": "true"})
    got = [h["properties"][field] for h in fast["value"]]
    want = expected(env, field, desc, skip, top)
    if field == "Timestamp":
        want = [v.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for v in want]
    assert got == want
    assert [h["properties"]["ReportId"] for h in fast["value"]] == [
        h["properties"]["ReportId"] for h in full["value"]
    ]
    assert ("@search.nextPageParameters" in fast) == ("@search.nextPageParameters" in full)


def test_window_order_with_a_filter_and_search(env: SearchEnv) -> None:
    device = env.data.column("DeviceName")[0].as_py()
    flt = f"properties/DeviceName eq '{device}'"
    fast = ordered(env, "FileSize", True, 0, 15, **{"$filter": flt})
    full = ordered(env, "FileSize", True, 0, 15, **{"$filter": flt, "$count": "true"})
    want = expected(env, "FileSize", True, 0, 15, keep=lambda r: r["DeviceName"] == device)
    assert [h["properties"]["FileSize"] for h in fast["value"]] == want
    assert [h["properties"]["ReportId"] for h in fast["value"]] == [
        h["properties"]["ReportId"] for h in full["value"]
    ]
