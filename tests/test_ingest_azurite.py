"""End to end against Azurite: the emulator writes append blobs, the azure-blob source reads them."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from huntvault.archive import Archive
from huntvault.config import ArchiveConfig
from huntvault.sources import AppendBlobSource, AzureBlobClient, Ingestor
from tests.support.azurite import Azurite
from tests.support.ingest import archive_counts, distinct_keys, expected_counts


def _run(conn: str, arc: Path) -> Ingestor:
    with Archive(arc) as a:
        ing = Ingestor(
            AppendBlobSource("azure", AzureBlobClient(connection_string=conn)),
            a,
            ArchiveConfig(flush_rows=700),
        )
        ing.run()
        ing.close()
        return ing


@pytest.mark.slow
def test_azurite_counts_growth_and_late_append(azurite: Azurite, tmp_path: Path) -> None:
    from azure.storage.blob import BlobServiceClient

    conn = azurite.connection_string
    svc = BlobServiceClient.from_connection_string(conn)
    for c in svc.list_containers(name_starts_with="insights-logs-advancedhunting-"):
        svc.delete_container(c.name)
    from huntvault.emulator.export import write_export

    write_export(
        None,
        azure_connection_string=conn,
        manifest_dir=tmp_path / "m",
        devices=2,
        days=0.25,
        seed=5,
        end="2026-07-22T12:00:00Z",
        malformed=3,
    )
    manifest = orjson.loads((tmp_path / "m" / "manifest.json").read_bytes())
    arc = tmp_path / "archive"
    first = _run(conn, arc)
    assert archive_counts(arc) == expected_counts(manifest)
    assert first.stats.quarantined == 3
    # nothing new: every blob skipped by ETag, no byte read twice
    again = _run(conn, arc)
    assert again.stats.bytes_read == 0
    # a late append into the oldest hour blob is picked up, alone
    cont = svc.get_container_client("insights-logs-advancedhunting-devicenetworkevents")
    oldest = sorted(b.name for b in cont.list_blobs())[0]
    props = {
        "Timestamp": "2026-07-22T08:00:00.5Z",
        "DeviceId": f"late-{uuid.uuid4()}",
        "ReportId": 9,
        "RemotePort": 443,
    }
    line = (
        orjson.dumps(
            {
                "time": "2026-07-22T11:00:00Z",
                "tenantId": "t",
                "category": "AdvancedHunting-DeviceNetworkEvents",
                "properties": props,
            }
        )
        + b"\r\n"
    )
    cont.get_blob_client(oldest).append_block(line)
    late = _run(conn, arc)
    assert late.stats.rows_written == 1 and late.stats.bytes_read == len(line)
    rows, keys = distinct_keys(arc, "DeviceNetworkEvents")
    assert rows == keys == manifest["tables"]["DeviceNetworkEvents"]["events"] + 1
    # the same account through an account URL + SAS token, limited to two containers
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    from tests.support.azurite import ACCOUNT, KEY

    sas = generate_account_sas(
        ACCOUNT,
        KEY,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(read=True, list=True),
        datetime.now(UTC) + timedelta(hours=1),
    )
    wanted = ["insights-logs-advancedhunting-deviceinfo", "insights-logs-advancedhunting-devicenetworkevents"]
    client = AzureBlobClient(account_url=azurite.blob_url, sas_token=sas, containers=wanted)
    with Archive(tmp_path / "sas") as a:
        ing = Ingestor(AppendBlobSource("sas", client), a)
        ing.run()
        ing.close()
    assert archive_counts(tmp_path / "sas") == {
        "DeviceInfo": manifest["tables"]["DeviceInfo"]["events"],
        "DeviceNetworkEvents": manifest["tables"]["DeviceNetworkEvents"]["events"] + 1,
    }
