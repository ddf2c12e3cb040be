"""The export writer against Azurite: append blobs written block by block, identical to the folder output.

The export's container names are fixed (`insights-logs-advancedhunting-*`), so this module starts its own
Azurite rather than sharing the session one with other tests that write the same containers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from click.testing import CliRunner

from huntvault.cli import main
from huntvault.emulator import read_manifest, write_export
from huntvault.errors import EmulatorError
from tests.support.azurite import Azurite, start_azurite
from tests.support.emulator import FIXED_END, blob_files, small_export


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[Azurite]:
    with start_azurite() as az:
        yield az


def _download(cs: str) -> tuple[dict[tuple[str, str], bytes], int]:
    service = BlobServiceClient.from_connection_string(cs)
    got: dict[tuple[str, str], bytes] = {}
    multi_block = 0
    for container in service.list_containers(name_starts_with="insights-logs-advancedhunting-"):
        cc = service.get_container_client(container.name)
        for blob in cc.list_blobs():
            assert blob.blob_type == "AppendBlob"
            props = cc.get_blob_client(blob.name).get_blob_properties()
            if (props.append_blob_committed_block_count or 0) > 1:
                multi_block += 1
            got[(container.name, blob.name)] = cc.download_blob(blob.name).readall()
    return got, multi_block


def test_azure_append_blobs_round_trip(own_azurite: Azurite, tmp_path: Path) -> None:
    cs = own_azurite.connection_string
    small_export(tmp_path / "folder", devices=2, days=0.25, seed=11, malformed=2)
    args = [
        "emulate",
        "export",
        "--to-azure",
        cs,
        "--manifest-dir",
        str(tmp_path / "m"),
        "--devices",
        "2",
        "--days",
        "0.25",
        "--seed",
        "11",
        "--end",
        FIXED_END,
        "--malformed",
        "2",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    manifest = read_manifest(tmp_path / "m")
    assert manifest == read_manifest(tmp_path / "folder")

    expected = {(c, b): f.read_bytes() for c, b, f in blob_files(tmp_path / "folder")}
    got, multi_block = _download(cs)
    assert got == expected
    assert multi_block > 0  # appended block by block, not uploaded whole
    assert sum(map(len, got.values())) == sum(manifest["blobs"].values())

    # a second run refuses to append to the export, and --overwrite replaces it
    with pytest.raises(EmulatorError, match="--overwrite"):
        write_export(
            None, azure_connection_string=cs, manifest_dir=tmp_path / "m2", devices=1, days=0.1, end=FIXED_END
        )
    write_export(
        None,
        azure_connection_string=cs,
        manifest_dir=tmp_path / "m3",
        devices=1,
        days=0.1,
        end=FIXED_END,
        overwrite=True,
    )
    again, _ = _download(cs)
    assert sum(map(len, again.values())) == sum(read_manifest(tmp_path / "m3")["blobs"].values())
