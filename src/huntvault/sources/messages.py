"""Record streams that are not append blobs: jsonl files/stdin, Event Hub message files (replay) and live Event Hubs."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from huntvault.errors import SourceError
from huntvault.schema import table_from_container
from huntvault.sources.appendblob import AppendBlobSource, BlobInfo
from huntvault.sources.run import Chunk


class JsonlFileClient:
    """One jsonl file seen as a single growing blob (so offsets, growth and resets work as for the export)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"jsonl file {self.path} does not exist")

    def list(self) -> list[BlobInfo]:
        st = self.path.stat()
        return [
            BlobInfo(
                "jsonl", str(self.path), st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}", str(st.st_ino)
            )
        ]

    def read(self, blob: BlobInfo, offset: int, length: int) -> bytes:
        with self.path.open("rb") as f:
            f.seek(offset)
            return f.read(length)

    def close(self) -> None:
        pass


class JsonlSource(AppendBlobSource):
    """A jsonl file of envelopes (or bare rows of `table`), checkpointed by byte offset."""

    def __init__(self, name: str, path: str | os.PathLike[str], table: str | None = None) -> None:
        super().__init__(name, JsonlFileClient(path))
        self.table = table

    def poll(self, checkpoints: dict[str, dict[str, Any]]) -> Iterator[Chunk]:
        for chunk in super().poll(checkpoints):
            chunk.expect_table = None
            chunk.table_hint = self.table
            yield chunk


class StdinSource:
    """Lines from a binary stream (stdin): read once; there is nothing to resume, so no offset is kept."""

    def __init__(self, name: str, table: str | None = None, stream: BinaryIO | None = None) -> None:
        self.name = name
        self.table = table
        self.stream = stream or sys.stdin.buffer
        self.offset = 0

    def unread_bytes(self) -> int:
        return 0

    def poll(self, checkpoints: dict[str, dict[str, Any]]) -> Iterator[Chunk]:
        pending = b""
        while True:
            block = self.stream.read(8 * 1024 * 1024)
            if not block:
                break
            pending += block
            cut = pending.rfind(b"\n") + 1
            if cut:
                yield Chunk(
                    "stdin", self.offset, pending[:cut], {"offset": self.offset + cut}, None, self.table
                )
                self.offset += cut
                pending = pending[cut:]
        if pending.strip():
            yield Chunk(
                "stdin",
                self.offset,
                pending + b"\n",
                {"offset": self.offset + len(pending)},
                None,
                self.table,
            )
            self.offset += len(pending)

    def close(self) -> None:
        pass


def records_chunk(stream: str, body: bytes, checkpoint: dict[str, Any], expect: str | None) -> Chunk:
    """An Event Hub message body `{"records":[...]}` as a chunk of export lines (offsets map to record indexes)."""
    try:
        obj = orjson.loads(body)
        records = obj["records"] if isinstance(obj, dict) else None
        if not isinstance(records, list):
            raise ValueError("no records list")
    except (orjson.JSONDecodeError, ValueError, KeyError):
        # The whole message is malformed: one line (it is quarantined with the reason from the normaliser).
        line = body.replace(b"\r", b" ").replace(b"\n", b" ") + b"\n"
        return Chunk(stream, 0, line, checkpoint, None, None, {0: 0})
    lines: list[bytes] = []
    mapping: dict[int, int] = {}
    pos = 0
    for i, rec in enumerate(records):
        line = orjson.dumps(rec) + b"\n"
        mapping[pos] = i
        lines.append(line)
        pos += len(line)
    return Chunk(stream, 0, b"".join(lines), checkpoint, expect, None, mapping)


class EventHubReplaySource:
    """A folder of Event Hub message bodies (`*.json`, each `{"records":[...]}`), read in name order.

    Sub-folders named like hubs (`insights-logs-advancedhunting-<table>`) give the fast path its table.
    """

    def __init__(self, name: str, folder: str | os.PathLike[str]) -> None:
        self.name = name
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"Event Hub replay folder {self.folder} does not exist")
        self._unread = 0

    def unread_bytes(self) -> int:
        return self._unread

    def poll(self, checkpoints: dict[str, dict[str, Any]]) -> Iterator[Chunk]:
        files = sorted(p for p in self.folder.rglob("*.json") if p.is_file())
        todo = []
        for p in files:
            key = p.relative_to(self.folder).as_posix()
            st = p.stat()
            tag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
            if checkpoints.get(key, {}).get("etag") == tag:
                continue
            todo.append((p, key, tag, st.st_size))
        self._unread = sum(t[3] for t in todo)
        for p, key, tag, size in todo:
            hub = p.relative_to(self.folder).parts[0] if len(p.relative_to(self.folder).parts) > 1 else ""
            expect = table_from_container(hub) if hub else None
            chunk = records_chunk(key, p.read_bytes(), {"etag": tag}, expect)
            self._unread = max(self._unread - size, 0)
            yield chunk

    def close(self) -> None:
        pass


class EventHubSource:
    """A live Event Hub consumer (azure-eventhub) with checkpoints in a blob container.

    One hub for all tables (`eventhub_name`), or one hub per table (`hubs`, named like the export
    containers). Received messages are handed to the shared run loop as chunks; the Event Hub
    checkpoint of a partition is updated only after the archive committed them (at-least-once
    delivery; dedupe drops repeats).
    """

    def __init__(
        self,
        name: str,
        connection_string: str,
        hubs: list[str],
        consumer_group: str,
        storage_connection_string: str,
        checkpoint_container: str,
    ) -> None:
        from azure.eventhub import EventHubConsumerClient
        from azure.eventhub.extensions.checkpointstoreblob import BlobCheckpointStore

        if not connection_string:
            raise SourceError("eventhub needs HUNTVAULT_EVENTHUB_CONNECTION_STRING")
        if not hubs:
            raise SourceError("eventhub needs eventhub_name (one hub) or containers (one hub per table)")
        self.name = name
        self.clients = []
        for hub in hubs:
            store = None
            if storage_connection_string:
                store = BlobCheckpointStore.from_connection_string(
                    storage_connection_string, checkpoint_container
                )
            self.clients.append(
                EventHubConsumerClient.from_connection_string(
                    connection_string,
                    consumer_group=consumer_group,
                    eventhub_name=hub,
                    checkpoint_store=store,
                )
            )
        self._pending: list[tuple[Any, Any]] = []
        self._lock = threading.Lock()
        self._buffer: list[tuple[Any, Any]] = []
        self._threads = [threading.Thread(target=self._receive, args=(c,), daemon=True) for c in self.clients]
        for t in self._threads:
            t.start()

    def _receive(self, client: Any) -> None:
        def on_event(ctx: Any, event: Any) -> None:
            if event is not None:
                with self._lock:
                    self._buffer.append((ctx, event))

        client.receive(on_event=on_event, starting_position="-1", max_wait_time=1.0)

    def unread_bytes(self) -> int:
        return 0

    def poll(self, checkpoints: dict[str, dict[str, Any]]) -> Iterator[Chunk]:
        # Acknowledge what the previous poll handed over: the run loop commits at the end of each poll.
        for ctx, event in self._pending:
            ctx.update_checkpoint(event)
        self._pending = []
        with self._lock:
            events, self._buffer = self._buffer, []
        for ctx, event in events:
            key = f"{ctx.eventhub_name}/{ctx.partition_id}"
            cp = {"offset": str(event.offset), "sequence_number": int(event.sequence_number)}
            expect = table_from_container(ctx.eventhub_name)
            yield records_chunk(key, b"".join(event.body), cp, expect)
            self._pending.append((ctx, event))

    def close(self) -> None:
        for c in self.clients:
            c.close()


__all__ = [
    "EventHubReplaySource",
    "EventHubSource",
    "JsonlFileClient",
    "JsonlSource",
    "StdinSource",
    "records_chunk",
]
