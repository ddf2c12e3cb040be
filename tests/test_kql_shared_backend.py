"""A server's hunts reuse one DuckDB backend until the archive commits again, and run concurrently on it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from huntvault.archive import Archive
from huntvault.kql import backends, execute, shared_backend

QUERY = "DeviceNetworkEvents | summarize n = count() by DeviceName | order by DeviceName asc"


def _rows(device: str, n: int, start: int) -> list[dict[str, object]]:
    t0 = datetime(2026, 7, 20, tzinfo=UTC)
    return [
        {
            "Timestamp": (t0 + timedelta(seconds=start + i)).isoformat(),
            "DeviceId": f"dev-{device}",
            "DeviceName": device,
            "ReportId": start + i,
            "ActionType": "ConnectionSuccess",
        }
        for i in range(n)
    ]


def counts(archive: Path) -> dict[str, int]:
    table = execute(QUERY, archive, backend=shared_backend(archive)).table
    return {r["DeviceName"]: r["n"] for r in table.to_pylist()}


def test_backend_is_kept_until_the_archive_changes(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    with Archive(root) as arc:
        arc.append_rows("DeviceNetworkEvents", _rows("alpha", 5, 0))
    first = shared_backend(root)
    assert shared_backend(root) is first
    assert counts(root) == {"alpha": 5}
    with Archive(root) as arc:  # a commit moves the change feed: the next hunt sees the new part
        arc.append_rows("DeviceNetworkEvents", _rows("beta", 3, 100))
    second = shared_backend(root)
    assert second is not first
    assert counts(root) == {"alpha": 5, "beta": 3}
    assert shared_backend(root) is second


def test_concurrent_hunts_on_one_backend(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    with Archive(root) as arc:
        arc.append_rows("DeviceNetworkEvents", _rows("alpha", 50, 0) + _rows("beta", 20, 1000))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: counts(root), range(40)))
    assert all(r == {"alpha": 50, "beta": 20} for r in results)


def test_folder_without_manifest_gets_a_fresh_backend(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert shared_backend(tmp_path / "plain") is not shared_backend(tmp_path / "plain")


def test_timeout_interrupts_the_query_on_a_shared_backend(tmp_path: Path) -> None:
    import pytest

    from huntvault.errors import KqlUnsupportedError

    root = tmp_path / "archive"
    with Archive(root) as arc:
        arc.append_rows("DeviceNetworkEvents", _rows("alpha", 5, 0))
    slow = "range x from 1 to 2000000000 step 1 | extend y = hash(tostring(x)) | summarize max(y)"
    with pytest.raises(KqlUnsupportedError, match="timeout"):
        execute(slow, root, backend=shared_backend(root), timeout=0.3)
    assert counts(root) == {"alpha": 5}  # the backend still answers afterwards


def test_kept_backends_are_bounded_least_recently_used_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "SHARED_BACKENDS_MAX", 2)
    roots = [tmp_path / name for name in ("a", "b", "c")]
    for root in roots:
        with Archive(root) as arc:
            arc.append_rows("DeviceNetworkEvents", _rows(root.name, 1, 0))
    a, b = shared_backend(roots[0]), shared_backend(roots[1])
    assert shared_backend(roots[0]) is a  # a is now the most recently used
    c = shared_backend(roots[2])  # a third archive: b, the least recently used, goes
    assert shared_backend(roots[0]) is a
    assert shared_backend(roots[2]) is c
    assert shared_backend(roots[1]) is not b
    assert counts(roots[1]) == {"b": 1}
