"""Search over an object-store archive (Azurite): parts read by id through the archive's `read_part`, the
archive path over the remote snapshot, `serve` and its status page without a local folder, --verify."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from huntvault.cli import main
from huntvault.config import Config
from huntvault.web import create_app
from tests.support.azurite import Azurite
from tests.support.search import ADMIN_KEY, INDEX, QUERY_KEY, crafted_table, generate_table, write_archive

pytestmark = pytest.mark.slow


def test_index_search_and_serve_an_azure_archive(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.storage.blob import BlobServiceClient

    container = f"idx-{uuid.uuid4().hex[:8]}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
    url = f"az://{container}/archive"
    monkeypatch.setenv("HUNTVAULT_ARCHIVE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = crafted_table(80)
    write_archive(url, "DeviceProcessEvents", data)
    write_archive(url, "AlertInfo", generate_table("AlertInfo", 9, seed=4))
    big = sum(1 for r in data.to_pylist() if (r["FileSize"] or 0) > 25_000_000)

    cfg = Config()
    cfg.archive.path = url
    cfg.archive.connection_string = azurite.connection_string
    cfg.index.path = str(tmp_path / "index")
    cfg.server.admin_key = ADMIN_KEY
    cfg.server.query_key = QUERY_KEY
    key = {"api-key": ADMIN_KEY}
    with TestClient(create_app(cfg)) as client:
        assert client.get(f"/indexes/{INDEX}/docs/$count", headers=key).text == "80"
        found = client.get(
            f"/indexes/{INDEX}/docs",
            params={
                "search": "*",
                "$filter": "properties/FileSize gt 25000000",
                "$count": "true",
                "$top": "0",
            },
            headers=key,
        ).json()
        assert found["@odata.count"] == big > 0  # a field the index does not hold: the remote archive answers
        status = client.get("/api/status", headers=key).json()
        assert status["archive"]["archive"] == url and "error" not in status["archive"]
        assert {i["index"]: i["documents"] for i in status["indexers"]}[INDEX] == 80
        assert client.get("/api/status/quarantine", headers=key).status_code == 200
        body = client.get(f"/indexes/{INDEX}", headers=key).json()
        body.pop("@odata.etag")
        props = next(f for f in body["fields"] if f["name"] == "properties")["fields"]
        next(f for f in props if f["name"] == "FileSize").update(filterable=True)
        assert client.put(f"/indexes/{INDEX}", json=body, headers=key).status_code == 200
        deadline = time.monotonic() + 60
        while client.get(f"/indexers/{INDEX}-indexer/status", headers=key).json()["currentState"]["mode"] != (
            "indexingChangedDocs"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        rebuilt = client.get(
            f"/indexes/{INDEX}/docs",
            params={
                "search": "*",
                "$filter": "properties/FileSize gt 25000000",
                "$count": "true",
                "$top": "0",
            },
            headers=key,
        ).json()
        assert rebuilt["@odata.count"] == big  # now from the index, rebuilt from the remote parts

    config = tmp_path / "huntvault.toml"
    config.write_text(f'[index]\npath = "{(tmp_path / "index").as_posix()}"\n', encoding="utf-8")
    out = CliRunner().invoke(main, ["--config", str(config), "index", "--archive", url, "--verify", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report[INDEX]["ok"] and report[INDEX]["documents"] == 80
    assert report["insights-logs-advancedhunting-alertinfo"]["documents"] == 9
