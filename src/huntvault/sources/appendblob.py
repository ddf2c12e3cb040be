"""Growing append blobs (Azure Blob Storage or a local copy of the export): list, ranged reads, byte-offset checkpoints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from huntvault.errors import SourceError
from huntvault.schema import CONTAINER_PREFIX, table_from_container
from huntvault.sources.decode import complete_length
from huntvault.sources.run import Chunk

READ_BYTES = 32 * 1024 * 1024  # one ranged read


@dataclass(frozen=True)
class BlobInfo:
    """One listed blob: its stream key `container/name`, size, ETag and creation identity."""

    container: str
    name: str
    size: int
    etag: str
    created: str

    @property
    def key(self) -> str:
        return f"{self.container}/{self.name}"


class BlobClient(Protocol):
    """What the append-blob reader needs from a store."""

    def list(self) -> list[BlobInfo]: ...

    def read(self, blob: BlobInfo, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...


class LocalFolderClient:
    """A folder laid out like the export: `<root>/insights-logs-advancedhunting-*/.../PT1H.json`."""

    def __init__(self, root: str | os.PathLike[str], containers: list[str] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(f"export folder {self.root} does not exist")
        self.containers = containers or []
        self._paths: dict[str, Path] = {}

    def _containers(self) -> list[Path]:
        if self.containers:
            return [self.root / c for c in self.containers if (self.root / c).is_dir()]
        found = sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.startswith(CONTAINER_PREFIX))
        if not found and self.root.name.startswith(CONTAINER_PREFIX):
            return [self.root]
        return found

    def list(self) -> list[BlobInfo]:
        out: list[BlobInfo] = []
        for cont in self._containers():
            self._paths[cont.name] = cont
            for dirpath, dirnames, filenames in os.walk(cont):
                dirnames.sort()
                for fn in sorted(filenames):
                    if not fn.endswith(".json"):
                        continue
                    path = Path(dirpath) / fn
                    try:
                        st = path.stat()
                    except FileNotFoundError:
                        continue
                    name = path.relative_to(cont).as_posix()
                    out.append(
                        BlobInfo(
                            cont.name, name, st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}", str(st.st_ino)
                        )
                    )
        return out

    def read(self, blob: BlobInfo, offset: int, length: int) -> bytes:
        folder = self._paths.get(blob.container, self.root / blob.container)
        with (folder / blob.name).open("rb") as f:
            f.seek(offset)
            return f.read(length)

    def close(self) -> None:
        pass


class AzureBlobClient:
    """The real export account through azure-storage-blob (connection string, SAS, or account URL + credential)."""

    def __init__(
        self,
        connection_string: str = "",
        account_url: str = "",
        sas_token: str = "",
        containers: list[str] | None = None,
        credential: Any = None,
    ) -> None:
        from azure.storage.blob import BlobServiceClient

        if connection_string:
            self.service = BlobServiceClient.from_connection_string(connection_string)
        elif account_url:
            cred = sas_token or credential
            if cred is None:
                from azure.identity import DefaultAzureCredential

                cred = DefaultAzureCredential()
            self.service = BlobServiceClient(account_url, credential=cred)
        else:
            raise SourceError(
                "azure-blob needs a connection string, or an account URL (with a SAS token or azure-identity)"
            )
        self.containers = containers or []

    def list(self) -> list[BlobInfo]:
        from azure.core.exceptions import AzureError

        try:
            names = self.containers or sorted(
                c.name for c in self.service.list_containers(name_starts_with=CONTAINER_PREFIX)
            )
            out: list[BlobInfo] = []
            for cname in names:
                cc = self.service.get_container_client(cname)
                for b in cc.list_blobs():
                    if not b.name.endswith(".json"):
                        continue
                    created = b.creation_time.isoformat() if b.creation_time else ""
                    out.append(BlobInfo(cname, b.name, int(b.size or 0), str(b.etag), created))
            return out
        except AzureError as exc:
            raise SourceError(f"listing the export account failed: {exc}") from None

    def read(self, blob: BlobInfo, offset: int, length: int) -> bytes:
        from azure.core.exceptions import AzureError

        try:
            bc = self.service.get_blob_client(blob.container, blob.name)
            return bc.download_blob(offset=offset, length=length).readall()
        except AzureError as exc:
            raise SourceError(f"reading {blob.key} at {offset} failed: {exc}") from None

    def close(self) -> None:
        self.service.close()


class AppendBlobSource:
    """Reads every listed blob from its committed byte offset; only complete lines; resets on shrink/replace."""

    def __init__(self, name: str, client: BlobClient, read_bytes: int = READ_BYTES) -> None:
        self.name = name
        self.client = client
        self.read_bytes = read_bytes
        self._unread = 0

    def unread_bytes(self) -> int:
        return self._unread

    def poll(self, checkpoints: dict[str, dict[str, Any]]) -> Iterator[Chunk]:
        blobs = self.client.list()
        todo: list[tuple[BlobInfo, int]] = []
        for blob in blobs:
            cp = checkpoints.get(blob.key)
            offset = 0
            if cp:
                if cp.get("etag") == blob.etag and cp.get("created") == blob.created:
                    continue  # untouched since we read it
                offset = int(cp.get("offset", 0))
                if cp.get("created") != blob.created or blob.size < offset:
                    offset = 0  # replaced or shrunk: read again from 0, dedupe drops what we already have
            todo.append((blob, offset))
        self._unread = sum(max(b.size - o, 0) for b, o in todo)
        for blob, start in todo:
            yield from self._read_blob(blob, start)

    def _read_blob(self, blob: BlobInfo, offset: int) -> Iterator[Chunk]:
        table = table_from_container(blob.container)
        want = self.read_bytes
        while True:
            if offset >= blob.size:
                yield Chunk(blob.key, offset, b"", self._cp(blob, offset, True), table)
                return
            length = min(want, blob.size - offset)
            data = self.client.read(blob, offset, length)
            if not data:
                return
            keep = complete_length(data)
            if keep == 0:
                if offset + len(data) < blob.size:
                    want *= 2  # one line longer than a read: read more
                    continue
                # only a partial (still being written) line is left: it waits for the next poll
                yield Chunk(blob.key, offset, b"", self._cp(blob, offset, True), table)
                return
            self._unread = max(self._unread - keep, 0)
            nxt = offset + keep
            final = offset + len(data) >= blob.size  # what is left after `keep` is at most a partial line
            yield Chunk(blob.key, offset, data[:keep], self._cp(blob, nxt, final), table)
            offset = nxt
            want = self.read_bytes

    @staticmethod
    def _cp(blob: BlobInfo, offset: int, final: bool) -> dict[str, Any]:
        # The ETag lets the next poll skip an untouched blob: it is kept only once every complete
        # line of this blob version is consumed (a pending partial line waits for the blob to change).
        return {"offset": offset, "etag": blob.etag if final else "", "created": blob.created}

    def close(self) -> None:
        self.client.close()


__all__ = ["AppendBlobSource", "AzureBlobClient", "BlobClient", "BlobInfo", "LocalFolderClient"]
