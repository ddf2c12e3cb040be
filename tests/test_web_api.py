"""The UI's APIs in process (FastAPI through httpx): hunt, samples, status, quarantine, alerts, auth, pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from huntvault.archive import status as archive_status
from huntvault.errors import ConfigError
from huntvault.web import PAGES, page_urls, start_background_server
from huntvault.web.app import create_app
from huntvault.web.hunt_api import load_samples
from huntvault.web.ui import STATIC_DIR
from tests.support.azurite import free_port
from tests.support.browser import ADMIN_KEY, QUERY_KEY, World, build_world, world_config
from tests.support.ingest import archive_counts

ADMIN = {"api-key": ADMIN_KEY}
QUERY = {"api-key": QUERY_KEY}
TIMECHART = 'DeviceProcessEvents\n| summarize n = count() by bin(Timestamp, 1h)\n| render timechart with (title = "per hour")'


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("web-api"))


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    app = create_app(world_config(world), archive_dir=world.archive)
    with TestClient(app) as c:
        yield c


def hunt(client: TestClient, query: str, headers: dict[str, str] = QUERY, **extra: Any) -> httpx.Response:
    return client.post("/api/hunt", json={"query": query, **extra}, headers=headers)


# -- hunt ------------------------------------------------------------------------------------------


def test_hunt_returns_typed_columns_rows_chart_and_timing(client: TestClient, world: World) -> None:
    resp = hunt(client, TIMECHART)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["columns"] == [{"name": "Timestamp", "type": "datetime"}, {"name": "n", "type": "long"}]
    assert body["chart"] == {"visualization": "timechart", "title": "per hour"}
    assert sum(r[1] for r in body["rows"]) == archive_counts(world.archive)["DeviceProcessEvents"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", r[0]) for r in body["rows"])
    assert body["row_count"] == len(body["rows"]) and body["truncated"] is False
    assert set(body["timing"]) == {"compile_ms", "execute_ms", "total_ms"} and body["sql"]


def test_hunt_syntax_error_points_at_line_and_column(client: TestClient) -> None:
    resp = hunt(client, "DeviceProcessEvents\n| wher FileName == 'x'")
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert (err["code"], err["line"], err["column"]) == ("KqlSyntaxError", 2, 3)
    assert "wher" in err["message"]


def test_hunt_unknown_column_is_a_400_with_position(client: TestClient) -> None:
    resp = hunt(client, "DeviceProcessEvents\n| where NoSuchColumn == 1")
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["line"] == 2 and err["column"] > 0 and "NoSuchColumn" in err["message"]


def test_hunt_row_cap_truncates(client: TestClient) -> None:
    body = hunt(client, "DeviceProcessEvents | project Timestamp", max_rows=7).json()
    assert body["row_count"] == 7 and body["truncated"] is True


def test_hunt_rejects_an_empty_query(client: TestClient) -> None:
    assert hunt(client, "").status_code == 400


def test_every_packaged_sample_runs(client: TestClient) -> None:
    listed = client.get("/api/hunt/samples", headers=QUERY).json()["value"]
    assert [s["name"] for s in listed] == [s["name"] for s in load_samples()] and len(listed) >= 8
    charts = set()
    for sample in listed:
        assert sample["title"] and sample["description"]
        resp = hunt(client, sample["query"])
        assert resp.status_code == 200, (sample["name"], resp.text)
        if resp.json()["chart"]:
            charts.add(resp.json()["chart"]["visualization"])
    assert charts == {"timechart", "columnchart", "barchart", "piechart"}


# -- status ----------------------------------------------------------------------------------------


def test_status_reports_tables_sources_indexers_and_forwarder(client: TestClient, world: World) -> None:
    body = client.get("/api/status", headers=QUERY).json()
    arc = body["archive"]
    counts = archive_counts(world.archive)
    assert {t["table"]: t["rows"] for t in arc["tables"]} == counts
    assert all(t["bytes"] > 0 and t["min_timestamp"] <= t["max_timestamp"] for t in arc["tables"])
    assert arc["quarantined"] == world.manifest["totals"]["malformed"] == 3
    (src,) = arc["sources"]
    assert src["source"] == "local" and src["event_lag_seconds"] is not None and src["last_commit"]
    indexed = {i["index"] for i in body["indexers"]}
    assert len(indexed) == len(counts)
    dpe = next(i for i in body["indexers"] if i["index"].endswith("deviceprocessevents"))
    assert dpe["documents"] == counts["DeviceProcessEvents"] and dpe["last_status"] == "success"
    fwd = body["forwarder"]
    assert fwd["cursor"] and fwd["configured_sinks"] == ["sentinel", "file", "broken"]
    n = len(world.forwarded)
    assert fwd["sinks"]["sentinel"]["sent"] == fwd["sinks"]["file"]["sent"] == n
    assert fwd["sinks"]["broken"]["pending"] == n and fwd["sinks"]["broken"]["sent"] == 0


def test_quarantined_lines_are_viewable_page_by_page(client: TestClient, world: World) -> None:
    first = client.get("/api/status/quarantine", params={"limit": 2}, headers=QUERY).json()
    rest = client.get("/api/status/quarantine", params={"offset": 2, "limit": 2}, headers=QUERY).json()
    assert first["total"] == rest["total"] == archive_status(world.archive).quarantined == 3
    items = first["items"] + rest["items"]
    assert len(items) == 3 and len({(i["file"], i["file_line"]) for i in items}) == 3
    for item in items:
        assert item["file"].startswith("_quarantine/") and item["reason"] and item["source"] == "local"
        raw = (
            (world.root / "export" / item["stream"])
            .read_bytes()[item["offset"] :]
            .split(b"\n", 1)[0]
            .rstrip(b"\r")
        )
        assert raw.decode("utf-8", "replace") == item["line"]


# -- alerts ----------------------------------------------------------------------------------------


def test_alerts_carry_machine_evidence_and_delivery_per_sink(client: TestClient, world: World) -> None:
    body = client.get("/api/alerts", headers=QUERY).json()
    assert body["sinks"] == ["sentinel", "file", "broken"]
    assert {(a["id"], a["lastUpdateTime"]) for a in body["value"]} == world.forwarded
    times = [a["lastUpdateTime"] for a in body["value"]]
    assert times == sorted(times, reverse=True)
    for a in body["value"]:
        assert a["title"] and a["severity"] and a["machine"]["computerDnsName"] and a["machine"]["osPlatform"]
        assert a["evidence"] and all(e["entityType"] for e in a["evidence"])
        d = a["deliveries"]
        assert d["sentinel"]["state"] == d["file"]["state"] == "sent" and d["sentinel"]["at"]
        assert d["broken"]["state"] == "pending"
    assert len(client.get("/api/alerts", params={"limit": 2}, headers=QUERY).json()["value"]) == 2


# -- auth, pages, static files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/session"),
        ("GET", "/api/status"),
        ("GET", "/api/status/quarantine"),
        ("GET", "/api/alerts"),
        ("GET", "/api/hunt/samples"),
        ("POST", "/api/hunt"),
    ],
)
def test_apis_need_a_key(client: TestClient, method: str, path: str) -> None:
    body = {"json": {"query": "print 1"}} if method == "POST" else {}
    assert client.request(method, path, **body).status_code == 401
    assert client.request(method, path, headers={"api-key": "wrong"}, **body).status_code == 403
    assert client.request(method, path, headers=QUERY, **body).status_code == 200
    assert client.request(method, path, headers=ADMIN, **body).status_code == 200


def test_session_names_the_role_and_the_indexes(client: TestClient) -> None:
    assert client.get("/api/session", headers=QUERY).json()["role"] == "query"
    admin = client.get("/api/session", headers=ADMIN).json()
    assert admin["auth"] is True and admin["role"] == "admin"
    assert any(n.endswith("deviceprocessevents") for n in admin["indexes"])


def test_no_auth_only_on_a_loopback_host(world: World) -> None:
    local = create_app(world_config(world, no_auth=True, host="127.0.0.1"), archive_dir=world.archive)
    with TestClient(local, base_url="http://127.0.0.1:8080") as c:
        session = c.get("/api/session").json()
        assert session["auth"] is False and session["role"] == "admin"
        assert c.get("/api/status").status_code == 200
        # DNS rebinding: any Host name but a loopback one is refused
        refused = c.get("/api/status", headers={"host": "attacker.example:8080"})
        assert refused.status_code == 403 and "localhost, 127.0.0.1 and [::1]" in refused.text
    with pytest.raises(ConfigError, match=r"server\.no_auth"):
        create_app(world_config(world, no_auth=True, host="0.0.0.0"), archive_dir=world.archive)


def test_pages_and_static_files_come_from_the_package(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui/search"
    for slug in PAGES:
        resp = client.get(f"/ui/{slug}")
        assert resp.status_code == 200 and "default-src 'self'" in resp.headers["content-security-policy"]
        assert f'<body data-page="{slug}">' in resp.text and 'aria-current="page"' in resp.text
        for ref in re.findall(r'(?:src|href)="([^"]+)"', resp.text):
            assert ref.startswith(("/ui/", "#", "data:")), ref
            if ref.startswith("/ui/static/"):
                assert client.get(ref).status_code == 200, ref
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in (".js", ".css", ".html"):
            text = path.read_text(encoding="utf-8")
            # no CDN and no fetch elsewhere: the only URL is the SVG namespace
            assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path


def test_background_server_for_the_demo(world: World) -> None:
    port = free_port()
    srv = start_background_server(
        world_config(world), world.archive, port=port, no_auth=True, start_indexer=False
    )
    try:
        resp = httpx.get(f"{srv.url}/api/session", timeout=10)
        assert resp.status_code == 200 and resp.json()["auth"] is False
        assert httpx.get(page_urls(srv.url)["Hunting"], timeout=10).status_code == 200
    finally:
        srv.stop()
    assert not srv.thread.is_alive()
    assert page_urls("http://127.0.0.1:8080/")["Search explorer"] == "http://127.0.0.1:8080/ui/search"


def test_static_dir_is_packaged() -> None:
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"web/static/**/*"' in pyproject and '"web/templates/**/*"' in pyproject
