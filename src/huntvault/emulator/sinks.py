"""Where the export writer puts its blobs: a local folder, Azure append blobs, or Event Hub message files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from huntvault.errors import EmulatorError
from huntvault.schema import CONTAINER_PREFIX

#: Azure allows 4 MiB per append block.
MAX_APPEND_BLOCK = 4 * 1024 * 1024
#: Event Hub standard tier allows 1 MB per event.
MAX_EVENTHUB_MESSAGE = 1_000_000


class Sink(Protocol):
    """A destination of the export: appends whole CRLF-terminated lines to a container's blob."""

    def append(self, container: str, blob: str, lines: list[bytes]) -> None: ...

    def append_malformed(self, container: str, blob: str, line: bytes) -> bool:
        """Append a deliberately broken line; False if this sink cannot carry one (Event Hub JSON)."""
        ...

    def close(self) -> None: ...


class FolderSink:
    """`DIR/<container>/tenantId=<guid>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`, appended in place."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._made: set[Path] = set()

    def _path(self, container: str, blob: str) -> Path:
        path = self.root / container / blob
        parent = path.parent
        if parent not in self._made:
            parent.mkdir(parents=True, exist_ok=True)
            self._made.add(parent)
        return path

    def append(self, container: str, blob: str, lines: list[bytes]) -> None:
        with open(self._path(container, blob), "ab") as fh:
            fh.write(b"".join(lines))

    def append_malformed(self, container: str, blob: str, line: bytes) -> bool:
        self.append(container, blob, [line])
        return True

    def close(self) -> None:
        return None


class AzureBlobSink:
    """Append blobs in an Azure Storage account (or Azurite), one `append_block` per flush, as Defender does."""

    def __init__(self, connection_string: str, overwrite: bool = False) -> None:
        from azure.core.exceptions import AzureError, ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        self._exists_error = ResourceExistsError
        try:
            self.service = BlobServiceClient.from_connection_string(connection_string)
            self._clear_previous(overwrite)
        except ValueError as exc:
            raise EmulatorError(f"invalid Azure connection string: {exc}") from None
        except AzureError as exc:
            raise EmulatorError(f"Azure storage: {exc}") from None
        self._containers: set[str] = set()
        self._blobs: dict[tuple[str, str], object] = {}

    def _clear_previous(self, overwrite: bool) -> None:
        """Refuse (or, with `overwrite`, empty) export containers that already hold blobs."""
        for container in self.service.list_containers(name_starts_with=CONTAINER_PREFIX):
            cc = self.service.get_container_client(container.name)
            names = [b.name for b in cc.list_blobs()]
            if names and not overwrite:
                raise EmulatorError(
                    f"container {container.name} already holds an export; use --overwrite to replace it"
                )
            for name in names:
                cc.delete_blob(name)

    def _blob(self, container: str, blob: str):  # type: ignore[no-untyped-def]
        key = (container, blob)
        client = self._blobs.get(key)
        if client is None:
            if container not in self._containers:
                try:
                    self.service.create_container(container)
                except self._exists_error:
                    pass
                self._containers.add(container)
            client = self.service.get_blob_client(container, blob)
            client.create_append_blob()
            self._blobs[key] = client
        return client

    def append(self, container: str, blob: str, lines: list[bytes]) -> None:
        client = self._blob(container, blob)
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            if size + len(line) > MAX_APPEND_BLOCK and chunk:
                client.append_block(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            client.append_block(b"".join(chunk))

    def append_malformed(self, container: str, blob: str, line: bytes) -> bool:
        self.append(container, blob, [line])
        return True

    def close(self) -> None:
        self.service.close()


class EventHubFileSink:
    """Event Hub messages as files: `DIR/<hub>/<sequence:08d>.json`, each `{"records":[...]}`.

    The hub is the table's container name (one hub per category, Defender's default when no hub name is
    configured), or `hub` for all tables (one named hub; records are told apart by `category`). One
    message per flush and table (split to stay under 1 MB), in the order the export writer flushed.
    """

    def __init__(self, root: str | os.PathLike[str], hub: str = "") -> None:
        self.hub = hub
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._seq: dict[str, int] = {}

    def _write(self, hub: str, records: list[bytes]) -> None:
        seq = self._seq.get(hub, 0)
        folder = self.root / hub
        if seq == 0:
            folder.mkdir(parents=True, exist_ok=True)
        body = b'{"records":[' + b",".join(records) + b"]}"
        (folder / f"{seq:08d}.json").write_bytes(body)
        self._seq[hub] = seq + 1

    def append(self, container: str, blob: str, lines: list[bytes]) -> None:
        batch: list[bytes] = []
        size = 20
        for line in lines:
            rec = line.rstrip(b"\r\n")
            if size + len(rec) + 1 > MAX_EVENTHUB_MESSAGE and batch:
                self._write(self.hub or container, batch)
                batch, size = [], 20
            batch.append(rec)
            size += len(rec) + 1
        if batch:
            self._write(self.hub or container, batch)

    def append_malformed(self, container: str, blob: str, line: bytes) -> bool:
        return False  # an Event Hub message is one JSON document; a broken record cannot ride in it

    def close(self) -> None:
        return None


#: Sink kinds by name (the CLI maps its options onto these); each takes its target and options.
SINKS: dict[str, Callable[..., Sink]] = {
    "folder": FolderSink,
    "azure": AzureBlobSink,
    "eventhub-files": EventHubFileSink,
}

__all__ = ["MAX_APPEND_BLOCK", "SINKS", "AzureBlobSink", "EventHubFileSink", "FolderSink", "Sink"]
