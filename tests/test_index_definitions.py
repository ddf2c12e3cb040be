"""Index definitions through the REST API (in process): Azure's JSON in and out, bad definitions as 400s
naming the field and attribute, changes rebuilt in the background, strict attributes, delete and re-create."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from huntvault.config import Config
from huntvault.index import default_layout, render_definition
from huntvault.schema import get_table
from huntvault.web import create_app
from tests.support.search import ADMIN_KEY, INDEX, QUERY_KEY, crafted_table, write_archive

ADMIN = {"api-key": ADMIN_KEY}
ALERTS = "insights-logs-advancedhunting-alertinfo"


def default_json() -> dict[str, Any]:
    table = get_table("DeviceProcessEvents")
    assert table is not None
    body = render_definition(default_layout(table))
    body.pop("@odata.etag")
    return body


def field_of(body: dict[str, Any], path: str) -> dict[str, Any]:
    fields = body["fields"]
    if path.startswith("properties/"):
        fields = next(f for f in fields if f["name"] == "properties")["fields"]
        path = path.split("/", 1)[1]
    return next(f for f in fields if f["name"] == path)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("definitions")
    write_archive(root / "archive", "DeviceProcessEvents", crafted_table(120))
    cfg = Config()
    cfg.index.path = str(root / "index")
    cfg.server.admin_key = ADMIN_KEY
    cfg.server.query_key = QUERY_KEY
    with TestClient(create_app(cfg, archive_dir=root / "archive")) as c:
        yield c


def wait_rebuilt(client: TestClient, index: str = INDEX) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status = client.get(f"/indexers/{index}-indexer/status", headers=ADMIN).json()
        if status["currentState"]["mode"] == "indexingChangedDocs":
            return dict(status)
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def search(client: TestClient, **params: Any) -> Any:
    return client.get(f"/indexes/{INDEX}/docs", params={"api-version": "2024-07-01", **params}, headers=ADMIN)


def test_default_definition_is_tuned_for_hunting(client: TestClient) -> None:
    body = client.get(f"/indexes('{INDEX}')", headers=ADMIN).json()
    assert body["@odata.etag"].startswith('"0x') and body["@huntvault.strictAttributes"] is False
    cmd = field_of(body, "properties/ProcessCommandLine")
    assert cmd["searchable"] and not cmd["filterable"] and cmd["analyzer"] == "standard.lucene"
    device = field_of(body, "properties/DeviceName")
    assert device["searchable"] and device["filterable"] and device["sortable"] and device["facetable"]
    size = field_of(body, "properties/FileSize")
    assert size["retrievable"] and not (size["filterable"] or size["sortable"] or size["facetable"])
    assert field_of(body, "properties/Timestamp")["sortable"] and field_of(body, "id")["key"]


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda b: b.pop("fields"), ["'fields'"]),
        (lambda b: b.update(name="other-name"), ["differs from the index named in the URL"]),
        (
            lambda b: field_of(b, "properties/FileSize").update(searchable=True),
            ["properties/FileSize", "searchable"],
        ),
        (
            lambda b: field_of(b, "properties/FileSize").update(type="Edm.String"),
            ["properties/FileSize", "'type'"],
        ),
        (
            lambda b: field_of(b, "properties/DeviceName").update(analyzer="en.microsoft"),
            ["properties/DeviceName", "analyzer"],
        ),
        (
            lambda b: field_of(b, "properties/FileSize").update(analyzer="keyword"),
            ["properties/FileSize", "analyzer"],
        ),
        (
            lambda b: field_of(b, "properties/DeviceName").update(filterable="yes"),
            ["properties/DeviceName", "filterable"],
        ),
        (lambda b: field_of(b, "properties/DeviceName").update(key=True), ["properties/DeviceName", "'key'"]),
        (lambda b: b["fields"].pop(0), ["key field 'id'"]),
        (lambda b: b["fields"].append({"name": "nope", "type": "Edm.String"}), ["'nope'", "not a field"]),
        (
            lambda b: field_of(b, "properties")["fields"].append({"name": "Nope", "type": "Edm.String"}),
            ["properties/Nope"],
        ),
        (lambda b: b["fields"].append(copy.deepcopy(field_of(b, "time"))), ["'time'", "twice"]),
        (lambda b: b.update(scoringProfiles=[{"name": "x"}]), ["scoringProfiles"]),
        (
            lambda b: b.update(similarity={"@odata.type": "#Microsoft.Azure.Search.ClassicSimilarity"}),
            ["similarity"],
        ),
        (lambda b: b.update(unknownThing=1), ["unknownThing"]),
        (lambda b: field_of(b, "properties/DeviceName").update(synonymMaps=["m"]), ["synonymMaps"]),
        (lambda b: b.update({"@huntvault.strictAttributes": "on"}), ["@huntvault.strictAttributes"]),
    ],
)
def test_bad_definitions_are_400_naming_the_field_and_attribute(
    client: TestClient, mutate: Any, words: list[str]
) -> None:
    body = default_json()
    mutate(body)
    resp = client.put(f"/indexes/{INDEX}", json=body, headers=ADMIN)
    assert resp.status_code == 400, resp.text
    message = resp.json()["error"]["message"]
    assert all(w in message for w in words), message


def test_not_json_and_wrong_content_type_are_4xx(client: TestClient) -> None:
    bad = client.put(
        f"/indexes/{INDEX}", content=b"{nope", headers={**ADMIN, "content-type": "application/json"}
    )
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    text = client.put(f"/indexes/{INDEX}", content=b"x", headers={**ADMIN, "content-type": "text/plain"})
    assert text.status_code == 415
    flag = client.put(f"/indexes/{INDEX}?allowIndexDowntime=maybe", json=default_json(), headers=ADMIN)
    assert flag.status_code == 400 and "allowIndexDowntime" in flag.json()["error"]["message"]


def test_creating_an_existing_index_or_a_foreign_name_is_400(client: TestClient) -> None:
    resp = client.post("/indexes", json=default_json(), headers=ADMIN)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "ResourceNameAlreadyInUse"
    body = default_json() | {"name": "my-index"}
    resp = client.put("/indexes/my-index", json=body, headers=ADMIN)
    assert (
        resp.status_code == 400 and "insights-logs-advancedhunting-<table>" in resp.json()["error"]["message"]
    )


def test_if_match_guards_changes(client: TestClient) -> None:
    resp = client.put(
        f"/indexes/{INDEX}", json=default_json(), headers={**ADMIN, "if-match": '"0xNOTTHISONE"'}
    )
    assert resp.status_code == 412 and resp.json()["error"]["code"] == "PreconditionFailed"
    etag = client.get(f"/indexes/{INDEX}", headers=ADMIN).json()["@odata.etag"]
    ok = client.put(f"/indexes/{INDEX}", json=default_json(), headers={**ADMIN, "if-match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] == ok.json()["@odata.etag"]


def test_changed_attributes_rebuild_in_the_background_and_take_effect(client: TestClient) -> None:
    before = search(client, search="mimikatz", **{"$select": "properties/FileName"}).json()
    assert len(before["value"]) == 1
    body = default_json()
    field_of(body, "properties/ProcessCommandLine").update(searchable=False, analyzer=None)
    field_of(body, "properties/FileName").update(searchable=False, retrievable=False, analyzer=None)
    field_of(body, "properties/FileSize").update(filterable=True)
    resp = client.put(f"/indexes/{INDEX}", json=body, headers={**ADMIN, "prefer": "return=representation"})
    assert resp.status_code == 200
    assert field_of(resp.json(), "properties/FileName")["retrievable"] is False  # the new definition at once
    status = wait_rebuilt(client)
    assert status["lastResult"]["status"] == "success" and status["lastResult"]["mode"] == "indexingAllDocs"
    assert status["lastResult"]["itemsProcessed"] == 120
    assert search(client, search="mimikatz").json()["value"] == []  # no longer searchable there
    hit = search(client, search="alpha-host", **{"$select": "properties/DeviceName"}).json()["value"]
    assert hit and hit[0]["properties"] == {"DeviceName": "alpha-host"}
    full = search(client, search="alpha-host").json()["value"][0]["properties"]
    assert "FileName" not in full and "DeviceName" in full
    bad = search(client, search="*", **{"$select": "properties/FileName"})
    assert bad.status_code == 400 and "retrievable" in bad.json()["error"]["message"]
    count = client.get(f"/indexes/{INDEX}/docs/$count", headers=ADMIN).text
    assert count == "120"


def test_strict_attributes_turn_archive_answers_into_azures_400(client: TestClient) -> None:
    body = default_json() | {"@huntvault.strictAttributes": True}
    assert client.put(f"/indexes/{INDEX}", json=body, headers=ADMIN).status_code == 200
    wait_rebuilt(client)
    for params, word in (
        ({"$filter": "properties/ProcessId gt 5"}, "not filterable"),
        ({"$orderby": "properties/ProcessId"}, "not sortable"),
        ({"facet": "properties/ProcessId"}, "not facetable"),
    ):
        resp = search(client, search="*", **params)
        assert resp.status_code == 400 and word in resp.json()["error"]["message"], resp.text
    assert (
        search(client, search="*", **{"$filter": "properties/DeviceName eq 'alpha-host'"}).status_code == 200
    )
    body["@huntvault.strictAttributes"] = False
    assert client.put(f"/indexes/{INDEX}", json=body, headers=ADMIN).status_code == 200
    answered = search(client, search="*", **{"$filter": "properties/ProcessId ge 0", "$count": "true"})
    assert answered.status_code == 200 and answered.json()["@odata.count"] > 0


def test_delete_then_create_again(client: TestClient) -> None:
    assert client.delete(f"/indexes('{INDEX}')", headers=ADMIN).status_code == 204
    assert client.get(f"/indexes/{INDEX}", headers=ADMIN).status_code == 404
    assert search(client, search="*").status_code == 404
    assert client.delete(f"/indexes/{INDEX}", headers=ADMIN).status_code == 404
    client.post(f"/indexers/{INDEX}-indexer/run", headers=ADMIN)  # a sync does not bring it back
    assert [d["name"] for d in client.get("/indexes", headers=ADMIN).json()["value"]] == []
    created = client.post("/indexes", json=default_json(), headers=ADMIN)
    assert created.status_code == 201 and created.json()["name"] == INDEX
    deadline = time.monotonic() + 60
    while client.get(f"/indexes/{INDEX}/docs/$count", headers=ADMIN).text != "120":
        assert time.monotonic() < deadline
        client.post(f"/indexers/{INDEX}-indexer/run", headers=ADMIN)
        time.sleep(0.2)


def test_definitions_survive_a_restart(tmp_path: Path) -> None:
    write_archive(tmp_path / "archive", "AlertInfo", crafted_alerts())
    cfg = Config()
    cfg.index.path = str(tmp_path / "index")
    cfg.server.admin_key = ADMIN_KEY
    with TestClient(create_app(cfg, archive_dir=tmp_path / "archive")) as c:
        body = c.get(f"/indexes/{ALERTS}", headers=ADMIN).json()
        body.pop("@odata.etag")
        field_of(body, "properties/Title").update(searchable=False, analyzer=None)
        body["description"] = "alerts, titles not searched"
        assert c.put(f"/indexes/{ALERTS}", json=body, headers=ADMIN).status_code == 200
        wait_rebuilt(c, ALERTS)
    with TestClient(create_app(cfg, archive_dir=tmp_path / "archive")) as c:
        again = c.get(f"/indexes/{ALERTS}", headers=ADMIN).json()
        assert again["description"] == "alerts, titles not searched"
        assert field_of(again, "properties/Title")["searchable"] is False
        assert c.get(f"/indexes/{ALERTS}/docs/$count", headers=ADMIN).text == "12"


def crafted_alerts() -> Any:
    from tests.support.search import generate_table

    return generate_table("AlertInfo", 12, seed=3)
