"""One generation of a table's index: a tantivy folder built with one layout, and the archive parts it holds."""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import tantivy

from huntvault.archive import PartInfo
from huntvault.durable import write_durably
from huntvault.errors import HuntvaultError
from huntvault.index.analyzers import register_analyzers
from huntvault.index.builder import DocumentBuilder, with_part
from huntvault.index.fields import FILE_FIELD, IndexLayout
from huntvault.index.locks import held
from huntvault.index.source import ArchiveView

PARTS_FILE = "parts.json"
GROUP_ROWS = 100_000  # small parts are indexed together, up to about this many rows per DuckDB query
MIN_THREAD_HEAP_MB = 16  # tantivy wants at least 15 MB of writer memory per indexing thread


class Stopped(HuntvaultError):
    """An indexing run was asked to stop (server shutdown); what it committed stays, the rest is redone."""


@dataclass
class Progress:
    """How far an indexing run is (shown by `GET /indexers/{name}/status` while it runs)."""

    parts_total: int = 0
    parts_done: int = 0
    rows_total: int = 0
    documents: int = 0
    started: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, Any]:
        return {
            "partsTotal": self.parts_total,
            "partsDone": self.parts_done,
            "documentsTotal": self.rows_total,
            "documentsDone": self.documents,
        }


@dataclass
class ItemError:
    part: str
    error: BaseException


@dataclass
class Applied:
    """What one `Generation.apply` did."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    documents: int = 0
    errors: list[ItemError] = field(default_factory=list)


class Generation:
    """A tantivy index folder built with one layout, and `parts`: the archive parts (by stable id) it holds,
    with their row counts. Writes hold the generation's lock (threads and processes); searches never wait."""

    def __init__(self, layout: IndexLayout, directory: Path, number: int) -> None:
        self.layout = layout
        self.dir = directory
        self.number = number
        self.schema = layout.tantivy_schema()
        self.fingerprint = layout.fingerprint()
        self.parts: dict[str, int] = {}
        self.progress: Progress | None = None
        self.cancelled = threading.Event()  # set when a newer definition supersedes this generation
        self._lock = threading.RLock()  # guards the cached searcher (held briefly)
        self._index: tantivy.Index | None = None
        self._write_index: tantivy.Index | None = None
        self._searcher: tantivy.Searcher | None = None
        self._parts_mtime = -1.0
        # no lock here (a rebuild in another thread or process may hold it while this process reloads its
        # state): the parts file is replaced whole; a stale folder is wiped by the next writer
        self._load_parts(wipe=False)

    @property
    def lock_file(self) -> Path:
        return self.dir / "lock"

    @property
    def tantivy_dir(self) -> Path:
        return self.dir / "tantivy"

    # -- state -----------------------------------------------------------------------------------

    def _load_parts(self, wipe: bool = True) -> None:
        """Re-read the parts file (another process may have indexed since); another layout's folder is
        wiped (by a writer, holding the lock) or read as empty."""
        path = self.dir / PARTS_FILE
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            self.parts = {}
            self._parts_mtime = -1.0
            return
        if mtime == self._parts_mtime:
            return
        try:
            state = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            state = {}
        if state.get("fingerprint") != self.fingerprint:
            if wipe:
                self._wipe()
            else:
                self.parts = {}
            return
        parts = state.get("parts")
        self.parts = {str(k): int(v) for k, v in parts.items()} if isinstance(parts, dict) else {}
        if self._parts_mtime >= 0:
            self.invalidate()  # another process changed the index: reload the searcher
        self._parts_mtime = mtime

    def _save_parts(self) -> None:
        path = self.dir / PARTS_FILE
        write_durably(path, orjson.dumps({"fingerprint": self.fingerprint, "parts": self.parts}))
        self._parts_mtime = path.stat().st_mtime

    def _wipe(self) -> None:
        shutil.rmtree(self.tantivy_dir, ignore_errors=True)
        (self.dir / PARTS_FILE).unlink(missing_ok=True)
        self.parts = {}
        self._parts_mtime = -1.0
        self._index = self._write_index = self._searcher = None

    def _open(self) -> tantivy.Index:
        if self._index is None:
            self.tantivy_dir.mkdir(parents=True, exist_ok=True)
            try:
                index = tantivy.Index(self.schema, path=str(self.tantivy_dir), reuse=True)
            except ValueError:  # another layout's files: start over
                self._wipe()
                self.tantivy_dir.mkdir(parents=True, exist_ok=True)
                index = tantivy.Index(self.schema, path=str(self.tantivy_dir), reuse=True)
            register_analyzers(index)
            self._index = index
        return self._index

    def _writer_index(self) -> tantivy.Index:
        """A second instance of the same index for writing: its analyzers only split the pre-analyzed text
        the DocumentBuilder produces (tokenizers are per instance, not stored in the index)."""
        if self._write_index is None:
            self._open()
            self._write_index = tantivy.Index(self.schema, path=str(self.tantivy_dir), reuse=True)
            register_analyzers(self._write_index, pretokenized=True)
        return self._write_index

    def refresh(self) -> None:
        """Pick up what another process indexed (cheap when nothing changed)."""
        self._load_parts(wipe=False)

    # -- reading ---------------------------------------------------------------------------------

    def searcher(self) -> tantivy.Searcher:
        with self._lock:
            if self._searcher is None:
                index = self._open()
                index.reload()
                self._searcher = index.searcher()
            return self._searcher

    def invalidate(self) -> None:
        with self._lock:
            self._searcher = None

    def documents(self) -> int:
        return int(self.searcher().num_docs)

    def size_bytes(self) -> int:
        if not self.tantivy_dir.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.tantivy_dir.iterdir() if p.is_file())

    def count_part(self, part: str, searcher: tantivy.Searcher | None = None) -> int:
        """Documents the index holds from one archive part (deleted ones excluded)."""
        s = searcher or self.searcher()
        res = s.search(tantivy.Query.term_query(self.schema, FILE_FIELD, part), 1, count=True)
        return int(getattr(res, "count", 0) or 0)

    def part_terms(self) -> list[str]:
        """Every part id that has (or had, until segments merge) documents in the index."""
        return [t for t, _ in self.searcher().terms_with_prefix(FILE_FIELD, "", limit=None)]

    # -- writing ---------------------------------------------------------------------------------

    def apply(
        self,
        view: ArchiveView,
        live: list[PartInfo],
        heap_mb: int = 256,
        threads: int = 0,
        stop: threading.Event | None = None,
        commit_every: int = 0,
        repair: set[str] | None = None,
        drop: set[str] | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Applied:
        """Bring the index in step with `live`: parts it lacks are added, parts no longer live deleted.

        Every part is deleted by its id before it is added, so a crash between the tantivy commit and the
        parts file (or another process indexing the same part) never leaves a document twice. `repair`
        names parts to re-index although they are known, `drop` ids to delete although not known (both from
        `--verify`). With `commit_every`, a long run commits every that many documents (a stopped rebuild
        resumes from there). `progress(documents added, documents to add)` is called as batches go in.
        """
        out = Applied()
        with held(self.lock_file):
            self._load_parts()
            live_ids = {p.path: p for p in live}
            gone = sorted((set(self.parts) - set(live_ids)) | (drop or set()))
            new = [p for p in live if p.path not in self.parts or p.path in (repair or set())]
            if not gone and not new:
                return out
            threads = max(threads, 0)
            per_thread = threads or 2
            heap = max(heap_mb, MIN_THREAD_HEAP_MB * per_thread) * 1_000_000
            writer = self._writer_index().writer(heap_size=heap, num_threads=threads)
            builder = DocumentBuilder(self.layout)
            self.progress = Progress(len(new), 0, sum(p.rows for p in new))
            try:
                for part in gone:
                    writer.delete_documents_by_term(FILE_FIELD, part)
                    self.parts.pop(part, None)
                out.removed = [p for p in gone if p not in live_ids]
                self._add(writer, builder, view, new, out, stop, commit_every, progress)
                writer.commit()
                writer.wait_merging_threads()
            except BaseException:
                writer.rollback()
                self._load_parts_after_rollback()
                raise
            finally:
                builder.close()
                self.progress = None
            self._save_parts()
            self.invalidate()
        return out

    def _load_parts_after_rollback(self) -> None:
        self._parts_mtime = -1.0
        self._load_parts()

    def _add(
        self,
        writer: tantivy.IndexWriter,
        builder: DocumentBuilder,
        view: ArchiveView,
        new: list[PartInfo],
        out: Applied,
        stop: threading.Event | None,
        commit_every: int,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        def tick(documents: int) -> None:
            shown = self.progress
            if shown is not None:
                shown.documents += documents
                if progress is not None:
                    progress(shown.documents, max(shown.rows_total, shown.documents))

        for part in new:
            writer.delete_documents_by_term(FILE_FIELD, part.path)  # idempotent after a crash mid-run
        since_commit = 0
        failed: list[list[PartInfo]] = []

        def should_stop() -> bool:
            return self.cancelled.is_set() or (stop is not None and stop.is_set())

        for group, fed, error in _pipeline(builder, view, _groups(new), writer, should_stop, tick):
            if error is not None:
                for part in group:  # its documents so far go; the parts are retried one by one below
                    writer.delete_documents_by_term(FILE_FIELD, part.path)
                failed.append(group)
                continue
            self._done(group, fed, out)
            since_commit += fed
            if commit_every and since_commit >= commit_every:
                writer.commit()
                self._save_parts()
                since_commit = 0
        for group in failed:
            for part in group:
                for _, fed, error in _pipeline(builder, view, [[part]], writer, should_stop, tick):
                    if error is not None:
                        writer.delete_documents_by_term(FILE_FIELD, part.path)
                        out.errors.append(ItemError(part.path, error))
                    else:
                        self._done([part], fed, out)

    def _done(self, group: list[PartInfo], fed: int, out: Applied) -> None:
        for part in group:
            self.parts[part.path] = part.rows
            out.added.append(part.path)
        out.documents += fed
        if self.progress is not None:
            self.progress.parts_done += len(group)


def _groups(parts: list[PartInfo]) -> list[list[PartInfo]]:
    """Consecutive parts packed into groups of about GROUP_ROWS rows (a big part is a group of its own)."""
    groups: list[list[PartInfo]] = []
    current: list[PartInfo] = []
    rows = 0
    for part in parts:
        if current and rows + part.rows > GROUP_ROWS:
            groups.append(current)
            current, rows = [], 0
        current.append(part)
        rows += part.rows
    if current:
        groups.append(current)
    return groups


_END = object()


def _produce(
    builder: DocumentBuilder,
    view: ArchiveView,
    groups: list[list[PartInfo]],
    q: queue.Queue[Any],
    cancel: threading.Event,
) -> None:
    """Read each group's parts (Arrow, by id) and build its documents, handing batches to the writer."""
    for i, group in enumerate(groups):
        if cancel.is_set():
            break
        try:
            tables = [with_part(view.read(p.path), p.path) for p in group]
            rows = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
            del tables
            for batch in builder.documents(rows):
                if cancel.is_set():
                    break
                q.put((i, batch, None))
            q.put((i, None, None))
        except Exception as exc:  # an unreadable part is an item error of the run, handed to the writer
            q.put((i, None, exc))
    q.put(_END)


def _pipeline(
    builder: DocumentBuilder,
    view: ArchiveView,
    groups: list[list[PartInfo]],
    writer: tantivy.IndexWriter,
    should_stop: Callable[[], bool],
    tick: Callable[[int], None] | None = None,
) -> Iterator[tuple[list[PartInfo], int, BaseException | None]]:
    """Feed every group to the writer: DuckDB builds the next batch in a thread while tantivy's writer takes
    this one (its indexing threads do the work; this loop only hands over each document's JSON).
    Yields (group, documents added, error) as each group ends."""
    q: queue.Queue[Any] = queue.Queue(maxsize=4)
    cancel = threading.Event()
    thread = threading.Thread(target=_produce, args=(builder, view, groups, q, cancel), daemon=True)
    thread.start()
    add = writer.add_json
    counts = [0] * len(groups)
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            i, batch, error = item
            if batch is not None:
                if should_stop():
                    raise Stopped("indexing stopped")
                for doc in batch:
                    add(doc)
                counts[i] += len(batch)
                if tick is not None:
                    tick(len(batch))
                continue
            yield groups[i], counts[i], error
    finally:
        cancel.set()
        while thread.is_alive():  # unblock and finish the producer (it never outlives the run)
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()
