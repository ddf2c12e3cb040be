"""The one run loop every source shares: poll chunks, decode, batch, commit data and checkpoints together."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from huntvault.archive import Archive, Batch, CommitResult
from huntvault.config import ArchiveConfig
from huntvault.sources.decode import Decoded, Decoder

DECODE_BYTES = 64 * 1024 * 1024  # raw lines of one table decoded together (one DuckDB query)
DECODE_WORKERS = 2  # decode jobs run at once (one's Python steps overlap the other's DuckDB query)


@dataclass
class Chunk:
    """Complete lines read from one stream, and the checkpoint value that covers them once committed."""

    stream: str
    offset: int  # byte offset of data[0] in the stream
    data: bytes
    checkpoint: dict[str, Any]
    expect_table: str | None = None  # the container's table: enables the fast path
    table_hint: str | None = None  # bare rows (jsonl --table)
    offset_map: dict[int, int] | None = None  # byte offset -> record index (Event Hub messages)


class Source(Protocol):
    """A streaming-export reader: yields chunks past the given checkpoints; never advances them itself."""

    name: str

    def poll(self, checkpoints: dict[str, dict[str, Any]]) -> Iterator[Chunk]: ...

    def unread_bytes(self) -> int: ...

    def close(self) -> None: ...


@dataclass
class IngestStats:
    """Running totals of one ingest run (what the progress bar and the CLI report)."""

    polls: int = 0
    bytes_read: int = 0
    lines_ok: int = 0
    rows_written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    commits: int = 0
    per_table: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def absorb(self, res: CommitResult) -> None:
        self.rows_written += res.rows
        self.duplicates += res.duplicates
        self.quarantined += res.quarantined
        self.commits += 1
        for t, n in res.per_table.items():
            self.per_table[t] = self.per_table.get(t, 0) + n


Progress = Callable[[IngestStats, int], None]  # (stats, unread bytes)


class Ingestor:
    """Runs one source into one archive, committing by rows / bytes / time and at the end of each poll."""

    def __init__(
        self,
        source: Source,
        archive: Archive,
        config: ArchiveConfig | None = None,
        fast: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.archive = archive
        self.config = config or ArchiveConfig()
        self.fast = fast
        self._decoders: list[Decoder] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._decoding = ThreadPoolExecutor(max_workers=DECODE_WORKERS, thread_name_prefix="hv-decode")
        # decode jobs in submission order; their results join the batch in that order
        self._queued: deque[tuple[Future[Decoded], Chunk, int]] = deque()
        self._queued_bytes = 0
        self.progress = progress
        self.stats = IngestStats()
        self.state: dict[str, dict[str, Any]] = archive.checkpoints(source.name)
        self.batch = Batch()
        self.batch.checkpoints.setdefault(source.name, {})
        self.pending: dict[tuple[str | None, str | None], list[Chunk]] = {}
        self.pending_bytes = 0
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hv-commit")
        self._inflight: Future[CommitResult] | None = None

    def close(self) -> None:
        try:
            self._drain()
        finally:
            self._committer.shutdown()
            self._decoding.shutdown()
            for decoder in self._decoders:
                decoder.close()
            self.source.close()

    def poll_once(self) -> None:
        """One pass over the source: everything new is read, decoded and committed."""
        for chunk in self.source.poll(self.state):
            if chunk.offset_map is not None:
                self._decode([chunk])
            elif chunk.data:
                key = (chunk.expect_table, chunk.table_hint)
                self.pending.setdefault(key, []).append(chunk)
                self.pending_bytes += len(chunk.data)
            self.batch.input_bytes += len(chunk.data)
            self.batch.checkpoint(self.source.name, chunk.stream, chunk.checkpoint)
            self.state[chunk.stream] = chunk.checkpoint
            self.stats.bytes_read += len(chunk.data)
            if self.pending_bytes >= DECODE_BYTES:
                self._decode_pending()
            if self._due():
                self.commit(wait=False)
            elif self.progress:
                self.progress(self.stats, self.source.unread_bytes())
        self.stats.polls += 1
        self.commit()

    def _decode_pending(self) -> None:
        pending, self.pending, self.pending_bytes = self.pending, {}, 0
        for chunks in pending.values():
            self._decode(chunks)

    def _decoder(self) -> Decoder:
        """The calling decode thread's own decoder (a DuckDB connection each)."""
        found: Decoder | None = getattr(self._local, "decoder", None)
        if found is None:
            found = self._local.decoder = Decoder(fast=self.fast)
            with self._lock:
                self._decoders.append(found)
        return found

    def _decode(self, chunks: list[Chunk]) -> None:
        """Queue chunks of one (table, hint) for decoding together: one DuckDB query for many small blobs."""
        first = chunks[0]
        if len(chunks) == 1:
            data = first.data
            segments = [(0, first.stream, first.offset)]
        else:
            segments, pos = [], 0
            for c in chunks:
                segments.append((pos, c.stream, c.offset))
                pos += len(c.data)
            data = b"".join(c.data for c in chunks)
        while len(self._queued) >= DECODE_WORKERS:
            self._absorb_one()

        def job() -> Decoded:
            return self._decoder().decode(
                data,
                first.offset,
                self.source.name,
                first.stream,
                first.table_hint,
                first.expect_table,
                segments,
            )

        self._queued.append((self._decoding.submit(job), first, len(data)))
        self._queued_bytes += len(data)

    def _absorb_one(self) -> None:
        """The oldest decode job's rows and quarantine into the batch (waits for it)."""
        future, first, size = self._queued.popleft()
        self._queued_bytes -= size
        decoded = future.result()
        if first.offset_map is not None:
            for i, q in enumerate(decoded.quarantine):
                rec = first.offset_map.get(q.offset - first.offset, q.offset)
                decoded.quarantine[i] = type(q)(q.source, q.stream, rec, q.reason, q.line, q.table_hint)
        for table, pieces in decoded.tables.items():
            for piece in pieces:
                self.batch.add(table, piece)
        self.batch.quarantine.extend(decoded.quarantine)
        self.stats.lines_ok += decoded.rows

    def _absorb_all(self) -> None:
        while self._queued:
            self._absorb_one()

    def _due(self) -> bool:
        b = self.batch
        return (
            b.rows + (self.pending_bytes + self._queued_bytes) // 2048 >= self.config.flush_rows
            or b.input_bytes >= self.config.flush_bytes
            or (b.rows > 0 and time.monotonic() - b.started >= self.config.flush_seconds)
        )

    def commit(self, wait: bool = True) -> None:
        """Make the batch durable (parts, dedupe keys, checkpoints in one transaction).

        With `wait=False` the commit runs on the committer thread while reading and decoding go on;
        commits stay in order (one at a time), and each poll ends with everything committed.
        """
        self._decode_pending()
        self._absorb_all()
        if self.batch.empty() or (not any(self.batch.checkpoints.values()) and not self.batch.tables):
            self.batch = Batch()
            self.batch.checkpoints.setdefault(self.source.name, {})
            if wait:
                self._drain()
            return
        self.batch.lag_bytes[self.source.name] = self.source.unread_bytes()
        self._drain()
        self._inflight = self._committer.submit(self.archive.commit, self.batch)
        self.batch = Batch()
        self.batch.checkpoints.setdefault(self.source.name, {})
        if wait:
            self._drain()

    def _drain(self) -> None:
        """Wait for the commit in flight (its errors surface here)."""
        if self._inflight is None:
            return
        future, self._inflight = self._inflight, None
        self.stats.absorb(future.result())
        if self.progress:
            self.progress(self.stats, self.source.unread_bytes())

    def run(
        self, stop: threading.Event | None = None, follow: bool = False, poll_seconds: float = 2.0
    ) -> IngestStats:
        """`--once` (default): one pass. `follow`: poll until `stop` is set; the poll under way finishes
        and commits first, so stopping loses nothing and checkpoints cover exactly what was committed."""
        while True:
            began = time.monotonic()
            self.poll_once()
            if not follow or (stop is not None and stop.is_set()):
                return self.stats
            wait = poll_seconds - (time.monotonic() - began)
            if wait > 0:
                if stop is None:
                    time.sleep(wait)
                elif stop.wait(wait):
                    return self.stats


__all__ = ["Chunk", "IngestStats", "Ingestor", "Progress", "Source"]
