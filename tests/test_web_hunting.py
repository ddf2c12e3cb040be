"""The hunting page's APIs in process: the catalog and vocabulary the editor completes from, the time range a
hunt is held to (on each table's time column), and bad input answered 4xx naming the field, never 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from huntvault import schema
from huntvault.archive import open_catalog
from huntvault.web.app import create_app
from tests.support.browser import QUERY_KEY
from tests.support.hunting import DETECT_WINDOWS, HuntingWorld, build_hunting_world, hunting_config, iso
from tests.support.ingest import archive_counts

QUERY = {"api-key": QUERY_KEY}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> HuntingWorld:
    return build_hunting_world(tmp_path_factory.mktemp("hunting-api"), days=0.5, detect=True)


@pytest.fixture(scope="module")
def client(world: HuntingWorld) -> Iterator[TestClient]:
    with TestClient(create_app(hunting_config(world), archive_dir=world.archive)) as c:
        yield c


def hunt(client: TestClient, query: str, **extra: Any) -> httpx.Response:
    return client.post("/api/hunt", json={"query": query, **extra}, headers=QUERY)


def direct(world: HuntingWorld, sql: str) -> list[tuple[Any, ...]]:
    """A count straight from the archive's own catalog (not through the hunt engine)."""
    con = open_catalog(world.archive)
    try:
        return [tuple(r) for r in con.sql(sql).fetchall()]
    finally:
        con.close()


# -- the catalog --------------------------------------------------------------------------------------


def test_schema_lists_every_table_with_its_typed_columns_time_column_and_rows(
    client: TestClient, world: HuntingWorld
) -> None:
    resp = client.get("/api/hunt/schema", headers=QUERY)
    assert resp.status_code == 200, resp.text
    tables = {t["name"]: t for t in resp.json()["tables"]}
    counts = archive_counts(world.archive)
    for name, table in schema.tables().items():  # every Defender table, with data or not
        listed = tables[name]
        assert [(c["name"], c["type"]) for c in listed["columns"]] == [
            (c.name, c.type) for c in table.columns
        ]
        assert listed["time_column"] == table.time_column
        assert listed["rows"] == counts.get(name, 0)
    assert tables["AlertEvents"]["time_column"] == "EventTime"
    assert tables["DeviceProcessEvents"]["time_column"] == "Timestamp"
    (lo, hi), *_ = direct(world, 'SELECT min("Timestamp"), max("Timestamp") FROM "DeviceProcessEvents"')
    dpe = tables["DeviceProcessEvents"]
    # the archive's statistics keep milliseconds (Delta's file stats)
    assert abs(datetime.fromisoformat(dpe["oldest"]) - datetime.fromisoformat(iso(lo))) < timedelta(
        milliseconds=1
    )
    assert abs(datetime.fromisoformat(dpe["newest"]) - datetime.fromisoformat(iso(hi))) < timedelta(
        milliseconds=1
    )
    assert set(counts) <= set(tables)  # tables the schema does not know are listed too


def test_every_listed_table_and_column_is_what_a_hunt_reads(client: TestClient) -> None:
    for t in client.get("/api/hunt/schema", headers=QUERY).json()["tables"]:
        if not t["rows"]:
            continue
        resp = hunt(client, f"{t['name']} | take 1")
        assert resp.status_code == 200, (t["name"], resp.text)
        assert resp.json()["columns"] == t["columns"], t["name"]


def test_language_lists_the_engines_own_words(client: TestClient) -> None:
    resp = client.get("/api/hunt/language", headers=QUERY)
    assert resp.status_code == 200
    lang = resp.json()
    assert {"where", "summarize", "join", "mv-expand", "make-series", "render"} <= set(lang["operators"])
    assert {"ago", "bin", "tostring", "parse_json", "ipv4_is_private"} <= set(lang["functions"])
    assert {"count", "dcount", "arg_max", "make_set"} <= set(lang["aggregates"])
    assert {"has", "!contains", "in~", "has_any", "between"} <= set(lang["word_operators"])
    assert "FileProfile" in lang["offline"] and set(lang["plugins"]) >= {"bag_unpack", "pivot"}
    # every word is one the engine knows: none of them gets the engine's "unknown" answer
    for op in lang["operators"]:
        msg = hunt(client, f"print x = 1 | {op}").json().get("error", {}).get("message", "")
        assert "expected a tabular operator" not in msg, op
    assert "expected a tabular operator" in hunt(client, "print x = 1 | nosuchop").json()["error"]["message"]
    for fn in lang["functions"]:
        msg = hunt(client, f"print x = {fn}()").json().get("error", {}).get("message", "")
        assert "unknown function" not in msg, fn
    for agg in lang["aggregates"]:
        msg = hunt(client, f"print x = 1 | summarize {agg}(x)").json().get("error", {}).get("message", "")
        assert "unknown function" not in msg, agg
    assert "unknown function" in hunt(client, "print x = nosuchfn()").json()["error"]["message"]
    for name in lang["offline"]:
        message = hunt(client, f"print x = {name}()").json()["error"]["message"]
        assert "not available offline" in message and name in message, name


# -- the time range -----------------------------------------------------------------------------------


def _span(world: HuntingWorld) -> tuple[datetime, datetime]:
    (lo, hi), *_ = direct(world, 'SELECT min("Timestamp"), max("Timestamp") FROM "DeviceProcessEvents"')
    return lo, hi


def test_time_range_holds_every_table_read_to_its_time_column(
    client: TestClient, world: HuntingWorld
) -> None:
    lo, hi = _span(world)
    start = lo + (hi - lo) / 3
    end = lo + 2 * (hi - lo) / 3
    window = {"from": iso(start), "to": iso(end)}
    body = hunt(
        client,
        "DeviceProcessEvents | summarize n = count(), lo = min(Timestamp), hi = max(Timestamp)",
        **window,
    )
    assert body.status_code == 200, body.text
    n, got_lo, got_hi = body.json()["rows"][0]
    ((expected,),) = direct(
        world,
        f'SELECT count(*) FROM "DeviceProcessEvents" WHERE "Timestamp" >= \'{iso(start)}\'::TIMESTAMPTZ '
        f"AND \"Timestamp\" < '{iso(end)}'::TIMESTAMPTZ",
    )
    assert n == expected and 0 < n < archive_counts(world.archive)["DeviceProcessEvents"]
    assert iso(start) <= got_lo and got_hi < iso(end)
    assert body.json()["window"] == window
    # both sides of a join are held to it
    joined = hunt(
        client,
        "DeviceProcessEvents | project DeviceId, P = Timestamp\n"
        "| join kind=inner (DeviceNetworkEvents | project DeviceId, N = Timestamp) on DeviceId\n"
        "| summarize lo = min(min_of(P, N)), hi = max(max_of(P, N)), n = count()",
        **window,
    ).json()
    jlo, jhi, jn = joined["rows"][0]
    assert jn > 0 and iso(start) <= jlo and jhi < iso(end)
    # legacy AlertEvents is held on EventTime
    alerts = hunt(client, "AlertEvents | count", **window)
    ((in_window,),) = direct(
        world,
        f'SELECT count(*) FROM "AlertEvents" WHERE "EventTime" >= \'{iso(start)}\'::TIMESTAMPTZ '
        f"AND \"EventTime\" < '{iso(end)}'::TIMESTAMPTZ",
    )
    assert alerts.status_code == 200 and alerts.json()["rows"][0][0] == in_window
    assert 0 < in_window < archive_counts(world.archive)["AlertEvents"]
    # a time filter in the query narrows it further
    narrowed = hunt(
        client,
        f"DeviceProcessEvents | where Timestamp < datetime({iso(start + (end - start) / 2)}) | count",
        **window,
    )
    assert 0 < narrowed.json()["rows"][0][0] < n


def test_a_time_without_offset_is_utc(client: TestClient, world: HuntingWorld) -> None:
    lo, hi = _span(world)
    mid = lo + (hi - lo) / 2
    naive = hunt(
        client,
        "DeviceProcessEvents | count",
        **{"from": mid.strftime("%Y-%m-%dT%H:%M:%S"), "to": iso(hi + timedelta(seconds=1))},
    )
    explicit = hunt(
        client,
        "DeviceProcessEvents | count",
        **{"from": mid.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": iso(hi + timedelta(seconds=1))},
    )
    assert naive.status_code == 200 and naive.json()["rows"] == explicit.json()["rows"]
    plus2 = hunt(
        client,
        "DeviceProcessEvents | count",
        **{
            "from": mid.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
            "to": iso(hi + timedelta(seconds=1)),
        },
    )
    assert plus2.json()["rows"][0][0] > explicit.json()["rows"][0][0]  # +02:00 is two hours earlier in UTC


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"from": "2026-10-31T00:00:00Z"}, "'to'"),
        ({"to": "2026-10-31T00:00:00Z"}, "'from'"),
        ({"from": "yesterday", "to": "2026-10-31T00:00:00Z"}, "'from'"),
        ({"from": "2026-10-31T00:00:00Z", "to": "2026-13-01"}, "'to'"),
        ({"from": "2026-10-31T00:00:00Z", "to": "2026-10-30T00:00:00Z"}, "before it ends"),
        ({"from": "2026-10-31T00:00:00Z", "to": "2026-10-31T00:00:00Z"}, "before it ends"),
        ({"from": "2026-10-31T00:00:00Z" + "0" * 60, "to": "2026-10-31T01:00:00Z"}, "from"),
        ({"from": 20261031, "to": "2026-10-31T01:00:00Z"}, "from"),
        ({"From": "2026-10-31T00:00:00Z"}, "From"),
        ({"max_rows": 0}, "max_rows"),
    ],
)
def test_bad_time_ranges_are_400s_naming_the_field(
    client: TestClient, extra: dict[str, Any], names: str
) -> None:
    resp = hunt(client, "DeviceProcessEvents | count", **extra)
    assert resp.status_code == 400, resp.text
    assert names in resp.json()["error"]["message"]


def test_fork_and_facet_answer_every_table_by_name(client: TestClient, world: HuntingWorld) -> None:
    resp = hunt(client, "DeviceProcessEvents | fork (count) Names=(summarize n = count() by DeviceName)")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    (total,) = direct(world, "SELECT count(*) FROM DeviceProcessEvents")[0]
    assert [t["name"] for t in body["tables"]] == ["GenericResult1", "Names"]
    assert body["rows"] == body["tables"][0]["rows"] == [[total]]
    names = body["tables"][1]
    assert [c["name"] for c in names["columns"]] == ["DeviceName", "n"]
    assert sum(r[1] for r in names["rows"]) == total and names["row_count"] == len(names["rows"])
    assert "tables" not in hunt(client, "DeviceProcessEvents | count").json()
    bad = hunt(client, "DeviceProcessEvents | facet by NoSuchColumn")
    assert bad.status_code == 400 and "NoSuchColumn" in bad.json()["error"]["message"]


def test_catalog_apis_need_a_key_and_name_a_missing_archive(world: HuntingWorld, tmp_path: Any) -> None:
    with TestClient(create_app(hunting_config(world), archive_dir=tmp_path / "none")) as c:
        assert c.get("/api/hunt/schema").status_code == 401
        assert c.get("/api/hunt/language").status_code == 401
        resp = c.get("/api/hunt/schema", headers=QUERY)
        assert resp.status_code == 400 and "does not exist" in resp.json()["error"]["message"]
        assert c.get("/api/hunt/language", headers=QUERY).status_code == 200


# -- the detection rules' last run ----------------------------------------------------------------------


def test_detect_status_reports_each_rules_last_run(client: TestClient, world: HuntingWorld) -> None:
    resp = client.get("/api/detect/status", headers=QUERY)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["state"] is True and body["watermark"]
    raised = {r: n for r, n in direct(world, 'SELECT "RuleId", count(*) FROM "HuntvaultAlerts" GROUP BY 1')}
    assert set(body["rules"]) == {"hv-lsass-memory-access", "hv-psexec-remote-service"}
    for rule_id, run in body["rules"].items():
        assert run["windows"] == DETECT_WINDOWS and run["alerts"] == raised[rule_id] == 1
        assert run["last_window_end"].startswith("2026-10-31T") and run["undelivered_windows"] == 0
    assert client.get("/api/detect/status").status_code == 401


def test_detect_status_before_any_run_creates_nothing(world: HuntingWorld, tmp_path: Any) -> None:
    cfg = hunting_config(world)
    cfg.detect.state_dir = str(tmp_path / "never-run")
    with TestClient(create_app(cfg, archive_dir=world.archive)) as c:
        body = c.get("/api/detect/status", headers=QUERY).json()
    assert body == {"state": False, "watermark": None, "rules": {}, "rule_errors": []}
    assert not (tmp_path / "never-run").exists()
