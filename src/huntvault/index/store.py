"""The index store: one tantivy index per archived table, kept in step with the archive's live files."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy

from huntvault.errors import HuntvaultError, SearchError
from huntvault.index.builder import DocumentBuilder, part_rows
from huntvault.index.fields import (
    ANALYZER_PATTERN,
    FILE_FIELD,
    IndexLayout,
    layout_for,
    register_analyzers,
    validate_index_name,
)
from huntvault.index.source import ArchiveView
from huntvault.schema import CONTAINER_PREFIX, Column, Table, get_table

STATE_FILE = "huntvault-index.json"
STATE_VERSION = 3  # 2: no stored `_src` (documents rebuilt from stored raw fields); 3: numbers fast-only
HISTORY = 50


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _table_for(name: str) -> Table:
    known = get_table(name)
    if known is not None:
        return known
    # unknown tables keep Timestamp; everything else is in _Extra and comes back in `properties`
    return Table(name=name, columns=(Column("Timestamp", "datetime"),))


@dataclass
class SyncResult:
    """One indexer execution (Azure's IndexerExecutionResult shape via `as_json`)."""

    start: str
    end: str = ""
    status: str = "inProgress"
    error: str | None = None
    added_files: int = 0
    removed_files: int = 0
    items_processed: int = 0
    items_failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "errorMessage": self.error,
            "startTime": self.start,
            "endTime": self.end or None,
            "errors": self.errors,
            "warnings": [],
            "itemsProcessed": self.items_processed,
            "itemsFailed": self.items_failed,
            "initialTrackingState": None,
            "finalTrackingState": None,
            "filesAdded": self.added_files,
            "filesRemoved": self.removed_files,
        }


class TableIndex:
    """The tantivy index of one table plus its state: which archive files it holds, run history."""

    def __init__(self, layout: IndexLayout, directory: Path) -> None:
        self.layout = layout
        self.dir = directory
        self.lock = threading.RLock()  # guards the cached searcher (held briefly)
        self.sync_lock = threading.Lock()  # one sync at a time; searches never wait for it
        self.schema = layout.tantivy_schema()
        self.fingerprint = hashlib.sha256(
            json.dumps([ANALYZER_PATTERN, [(f.path, f.edm) for f in layout.fields.values()]]).encode()
        ).hexdigest()[:16]
        self.state = self._load_state()
        self.index = self._open()
        self._write_index: tantivy.Index | None = None
        self._searcher: tantivy.Searcher | None = None
        self.running = False

    @property
    def name(self) -> str:
        return self.layout.name

    def _load_state(self) -> dict[str, Any]:
        path = self.dir / STATE_FILE
        empty = {"version": STATE_VERSION, "fingerprint": self.fingerprint, "files": {}, "history": []}
        if not path.is_file():
            return empty
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return empty
        if state.get("version") != STATE_VERSION or state.get("fingerprint") != self.fingerprint:
            shutil.rmtree(
                self.dir / "tantivy", ignore_errors=True
            )  # layout changed: rebuild from the archive
            return {**empty, "history": state.get("history", [])}
        return dict(state)

    def _open(self) -> tantivy.Index:
        tdir = self.dir / "tantivy"
        tdir.mkdir(parents=True, exist_ok=True)
        try:
            index = tantivy.Index(self.schema, path=str(tdir), reuse=True)
        except ValueError:
            shutil.rmtree(tdir, ignore_errors=True)
            tdir.mkdir(parents=True)
            self.state["files"] = {}
            index = tantivy.Index(self.schema, path=str(tdir), reuse=True)
        register_analyzers(index)
        return index

    def _writer_index(self) -> tantivy.Index:
        """A second instance of the same index for writing: its analyzer only splits the pre-analyzed
        text the DocumentBuilder produces (tokenizers are per instance, not stored in the index)."""
        if self._write_index is None:
            self._write_index = tantivy.Index(self.schema, path=str(self.dir / "tantivy"), reuse=True)
            register_analyzers(self._write_index, pretokenized=True)
        return self._write_index

    def save(self) -> None:
        _write_atomic(self.dir / STATE_FILE, self.state)

    def searcher(self) -> tantivy.Searcher:
        with self.lock:
            if self._searcher is None:
                self.index.reload()
                self._searcher = self.index.searcher()
            return self._searcher

    @property
    def files(self) -> dict[str, int]:
        return dict(self.state["files"])

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.state.get("history", []))

    def pending_rows(self, view: ArchiveView) -> int:
        """Rows of the archive's live parts this index has not taken in yet (what a sync would add)."""
        indexed = self.state["files"]
        rows = 0
        for f in view.files(self.layout.table.name):
            if f.path not in indexed:
                try:
                    rows += f.rows if f.rows is not None else part_rows(view.absolute(f.path))
                except Exception:  # an unreadable part is reported by the sync itself
                    continue
        return rows

    def sync(
        self,
        view: ArchiveView,
        heap_mb: int = 256,
        threads: int = 0,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> SyncResult:
        """Bring the index in step with the archive's live files: add new parts, drop removed ones.

        `progress(documents added, documents to add)` is called as batches go in."""
        with self.sync_lock:
            self.running = True
            t0 = time.perf_counter()
            result = SyncResult(start=_now())
            try:
                self._sync(view, heap_mb, threads, result, progress)
                result.status = "success"
            except Exception as exc:  # one bad run must not kill the server; it is reported in status
                result.status = "transientFailure"
                result.error = f"{type(exc).__name__}: {exc}"
            finally:
                self.running = False
            result.end = _now()
            result.seconds = time.perf_counter() - t0
            if result.added_files or result.removed_files or result.error or not self.state["history"]:
                self.state["history"] = [result.as_json(), *self.state["history"]][:HISTORY]
                self.save()
            return result

    def _sync(
        self,
        view: ArchiveView,
        heap_mb: int,
        threads: int,
        result: SyncResult,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        live = {f.path: f for f in view.files(self.layout.table.name)}
        indexed: dict[str, int] = self.state["files"]
        gone = sorted(set(indexed) - set(live))
        new = sorted(set(live) - set(indexed))
        if not gone and not new:
            return
        writer = self._writer_index().writer(heap_size=max(heap_mb, 16) * 1_000_000, num_threads=threads)
        builder = DocumentBuilder(self.layout)
        added: dict[str, int] = {}
        try:
            for rel in gone:
                writer.delete_documents_by_term(FILE_FIELD, rel)
            readable: list[str] = []
            for rel in new:
                writer.delete_documents_by_term(FILE_FIELD, rel)  # idempotent after a crash mid-run
                try:
                    added[rel] = part_rows(view.absolute(rel))
                    readable.append(rel)
                except Exception as exc:  # an unreadable part is an item error, the rest goes on
                    self._item_error(result, rel, exc)
            total = sum(added.values())
            done = [0]

            def tick(n: int) -> None:
                done[0] += n
                if progress is not None:
                    progress(done[0], total)

            for group in _groups(readable, GROUP_FILES):
                try:
                    fed = _feed(writer, builder.documents([view.absolute(r) for r in group], view.root), tick)
                except Exception as exc:
                    for rel in group:  # isolate the bad part(s): retry one by one
                        writer.delete_documents_by_term(FILE_FIELD, rel)
                    fed = 0
                    for rel in group:
                        try:
                            fed += _feed(writer, builder.documents([view.absolute(rel)], view.root))
                        except Exception as one:
                            writer.delete_documents_by_term(FILE_FIELD, rel)
                            added.pop(rel, None)
                            self._item_error(result, rel, one if one else exc)
                result.items_processed += fed
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        finally:
            builder.close()
        for rel in gone:
            indexed.pop(rel, None)
        indexed.update(added)
        result.added_files = len(added)
        result.removed_files = len(gone)
        with self.lock:
            self._searcher = None
        self.save()

    @staticmethod
    def _item_error(result: SyncResult, rel: str, exc: BaseException) -> None:
        result.items_failed += 1
        result.errors.append(
            {
                "key": None,
                "name": rel,
                "errorMessage": f"Could not read archive part: {type(exc).__name__}: {exc}",
                "statusCode": 400,
                "details": None,
                "documentationLink": None,
            }
        )


GROUP_FILES = 64  # parts per DuckDB query


def _offset(
    progress: Callable[[int, int | None], None], base: int, total: int
) -> Callable[[int, int | None], None]:
    """One index's progress as part of a whole sync's: its documents counted after `base`."""

    def each(done: int, _total: int | None) -> None:
        progress(base + done, max(total, base + done))

    return each


def _groups(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _feed(
    writer: tantivy.IndexWriter, batches: Iterator[list[str]], on_batch: Callable[[int], None] | None = None
) -> int:
    """Add every document; DuckDB builds the next batch in a thread while tantivy takes this one."""
    q: queue.Queue[list[str] | BaseException | None] = queue.Queue(maxsize=3)

    def produce() -> None:
        try:
            for batch in batches:
                q.put(batch)
            q.put(None)
        except BaseException as exc:  # handed to the consumer, re-raised there
            q.put(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    count = 0
    add = writer.add_json
    while True:
        item = q.get()
        if item is None:
            break
        if isinstance(item, BaseException):
            thread.join()
            raise item
        for doc in item:
            add(doc)
        count += len(item)
        if on_batch is not None:
            on_batch(len(item))
    thread.join()
    return count


class IndexStore:
    """All table indexes under one directory, fed from one archive."""

    def __init__(
        self,
        index_dir: str | Path,
        archive_dir: str | Path,
        tables: list[str] | None = None,
        heap_mb: int = 256,
        threads: int = 0,
    ) -> None:
        self.dir = Path(index_dir)
        self.view = ArchiveView(archive_dir)
        self.only = {t.lower() for t in tables or []}
        self.heap_mb = heap_mb
        self.threads = threads
        self._indexes: dict[str, TableIndex] = {}
        self._aliases: dict[str, str] = {}
        self._lock = threading.RLock()
        self.discover()

    def _wanted(self, table: str) -> bool:
        return not self.only or table.lower() in self.only

    def discover(self) -> None:
        """Open (or create) the index of every archived table, and of every table indexed before."""
        with self._lock:
            names = {t for t in self.view.tables() if self._wanted(t)}
            if self.dir.is_dir():
                for p in self.dir.iterdir():
                    state = p / STATE_FILE
                    if p.name.startswith(CONTAINER_PREFIX) and state.is_file():
                        try:
                            table = json.loads(state.read_text(encoding="utf-8")).get("table")
                        except ValueError:
                            table = None
                        if table and self._wanted(table):
                            names.add(table)
            for table in sorted(names):
                layout = layout_for(_table_for(table))
                if layout.name in self._indexes:
                    continue
                idx = TableIndex(layout, self.dir / layout.name)
                idx.state["table"] = layout.table.name
                self._indexes[layout.name] = idx
                self._aliases[layout.table.name.lower()] = layout.name

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._indexes)

    def get(self, name: str) -> TableIndex:
        """The index called `name` (container name) or aliased by its table name (any case)."""
        with self._lock:
            idx = self._indexes.get(name) or self._indexes.get(self._aliases.get(name.lower(), ""))
        if idx is None:
            validate_index_name(name)
            raise SearchError(
                f"The index '{name}' for service 'huntvault' was not found.", 404, "ResourceNameNotFound"
            )
        return idx

    def by_indexer(self, name: str) -> TableIndex:
        with self._lock:
            for idx in self._indexes.values():
                if idx.layout.indexer_name == name:
                    return idx
        raise SearchError(
            f"Indexer '{name}' was not found in service 'huntvault'.", 404, "ResourceNameNotFound"
        )

    def all(self) -> list[TableIndex]:
        with self._lock:
            return [self._indexes[n] for n in sorted(self._indexes)]

    def sync(
        self,
        names: list[str] | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> dict[str, SyncResult]:
        """Run the indexer of every index (or of `names`) once; returns each execution result.

        `progress(documents added, documents to add)` covers all the indexes of this sync together."""
        changed = self.view.changed_tables() if names is None else None
        self.discover()
        todo: list[TableIndex] = []
        for idx in self.all():
            if names is not None and idx.name not in names:
                continue
            if changed is not None and idx.layout.table.name not in changed and idx.state["history"]:
                continue  # the change feed says nothing happened to this table
            todo.append(idx)
        total = sum(idx.pending_rows(self.view) for idx in todo) if progress is not None else 0
        base = 0
        out: dict[str, SyncResult] = {}
        for idx in todo:
            each = None
            if progress is not None:
                progress(base, total)
                each = _offset(progress, base, total)
            out[idx.name] = idx.sync(self.view, self.heap_mb, self.threads, each)
            base += out[idx.name].items_processed
        if progress is not None:
            progress(base, max(total, base))
        return out


class IndexPoller:
    """Background indexer: syncs every `interval` seconds until stopped (the server's freshness loop)."""

    def __init__(self, store: IndexStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="huntvault-indexer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.store.sync()
            except (HuntvaultError, OSError):
                pass  # each table's failure is already recorded in its execution history
            self._stop.wait(self.interval)
