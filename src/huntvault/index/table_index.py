"""One table's index: its definition, the generation that answers, the one being rebuilt, and their runs."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from huntvault.durable import write_durably
from huntvault.errors import SearchError
from huntvault.index.definitions import default_layout, parse_definition, render_definition
from huntvault.index.fields import LAYOUT_VERSION, IndexLayout
from huntvault.index.generation import Applied, Generation, Progress, Stopped
from huntvault.index.locks import held
from huntvault.index.source import ArchiveView
from huntvault.schema import Table

STATE_FILE = "huntvault-index.json"
HISTORY = 50
REBUILD_COMMIT_DOCS = 500_000  # a rebuild commits this often, so a stopped one resumes from there


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    mode: str = "sync"  # sync | rebuild

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
            "mode": "indexingAllDocs" if self.mode == "rebuild" else "indexingChangedDocs",
        }

    def record(self, applied: Applied) -> None:
        self.added_files += len(applied.added)
        self.removed_files += len(applied.removed)
        self.items_processed += applied.documents
        for item in applied.errors:
            self.items_failed += 1
            self.errors.append(
                {
                    "key": None,
                    "name": item.part,
                    "errorMessage": f"Could not read archive part: {type(item.error).__name__}: {item.error}",
                    "statusCode": 400,
                    "details": None,
                    "documentationLink": None,
                }
            )


@dataclass
class VerifyReport:
    """`huntvault index --verify`: documents per archive part against the part's rows, and the repair."""

    index: str
    table: str
    parts: int = 0
    archive_rows: int = 0
    archive_bytes: int = 0
    documents: int = 0
    index_bytes: int = 0
    mismatched: list[dict[str, Any]] = field(default_factory=list)  # part, documents, rows
    missing: list[str] = field(default_factory=list)  # live parts the index does not hold
    orphans: list[str] = field(default_factory=list)  # parts the index holds that the archive has not
    repaired: bool = False
    documents_after: int = 0

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.orphans)

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "table": self.table,
            "ok": self.ok,
            "parts": self.parts,
            "archiveRows": self.archive_rows,
            "documents": self.documents,
            "mismatched": self.mismatched,
            "missing": self.missing,
            "orphans": self.orphans,
            "repaired": self.repaired,
            "documentsAfterRepair": self.documents_after,
            "indexBytes": self.index_bytes,
            "archiveBytes": self.archive_bytes,
            "indexBytesPerDocument": round(self.index_bytes / self.documents_after, 1)
            if self.documents_after
            else None,
            "archiveBytesPerRow": round(self.archive_bytes / self.archive_rows, 1)
            if self.archive_rows
            else None,
        }


class TableIndex:
    """The index of one table: `active` answers searches; `pending`, when a changed definition asked for
    another tantivy layout, is being rebuilt from the archive and replaces it when complete.

    `huntvault-index.json` holds the definition (null = the default one), the active and pending generation
    numbers and the run history; each generation folder holds the parts it indexed. Writers re-read them
    under the locks, so a server and `huntvault index` on the same folder never step on each other.
    """

    def __init__(self, table: Table, directory: Path, strict_default: bool = False) -> None:
        self.table = table
        self.dir = directory
        self.strict_default = strict_default
        self.lock = threading.RLock()  # swaps of the generation objects
        self.running = False  # an incremental sync is running (status)
        self.rebuild_started = ""  # when the running rebuild started ("" = none running here)
        self.load_error = ""
        with held(self.state_lock):
            self.state = self._read_state()
            self.active = self._generation(self.state["active"], self.state.get("definition"))
            pending = self.state.get("pending")
            self.pending = (
                self._generation(int(pending["generation"]), pending.get("definition")) if pending else None
            )
            self._clean()

    # -- state -----------------------------------------------------------------------------------

    @property
    def state_lock(self) -> Path:
        return self.dir / "state.lock"

    @property
    def name(self) -> str:
        return self.active.layout.name

    @property
    def layout(self) -> IndexLayout:
        """The layout searches use (the active generation's)."""
        return self.active.layout

    @property
    def declared(self) -> IndexLayout:
        """The definition as last set (the pending generation's while it is rebuilt)."""
        pending = self.pending
        return pending.layout if pending is not None else self.active.layout

    def _read_state(self) -> dict[str, Any]:
        path = self.dir / STATE_FILE
        empty: dict[str, Any] = {
            "version": LAYOUT_VERSION,
            "table": self.table.name,
            "deleted": False,
            "explicit": False,
            "definition": None,
            "active": 1,
            "pending": None,
            "history": [],
        }
        try:
            state = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return empty
        except (OSError, orjson.JSONDecodeError):
            return empty
        if not isinstance(state, dict) or state.get("version") != LAYOUT_VERSION:
            # an index built by an earlier huntvault: rebuilt from the archive with this layout
            for old in self.dir.iterdir() if self.dir.is_dir() else []:
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
            history = state.get("history", []) if isinstance(state, dict) else []
            return {**empty, "history": history if isinstance(history, list) else []}
        return {**empty, **state}

    def _save_state(self) -> None:
        write_durably(self.dir / STATE_FILE, orjson.dumps(self.state, option=orjson.OPT_INDENT_2))

    def _layout(self, definition: Any) -> IndexLayout:
        if definition is None:
            layout = default_layout(self.table)
            layout.strict = self.strict_default
            return layout
        try:
            return parse_definition(definition, self.table, definition.get("name"), self.strict_default)
        except (SearchError, AttributeError) as exc:  # e.g. a column the schema no longer has
            self.load_error = f"the stored definition is invalid ({exc}); the default one is used"
            layout = default_layout(self.table)
            layout.strict = self.strict_default
            return layout

    def _generation(self, number: int, definition: Any) -> Generation:
        return Generation(self._layout(definition), self.dir / f"gen-{int(number)}", int(number))

    def _clean(self) -> None:
        """Remove generation folders no state names (a superseded or finished rebuild's leftovers)."""
        keep = {self.active.dir.name} | ({self.pending.dir.name} if self.pending else set())
        for sub in self.dir.glob("gen-*"):
            if sub.is_dir() and sub.name not in keep:
                shutil.rmtree(sub, ignore_errors=True)

    def reload(self) -> None:
        """Follow what another process did: a finished rebuild, a new definition, a deletion."""
        with held(self.state_lock), self.lock:
            before = self.state
            self.state = self._read_state()
            if self.state["active"] != self.active.number:
                self.active = self._generation(self.state["active"], self.state.get("definition"))
            elif self.state.get("definition") != before.get("definition"):
                self.active.layout = self._same_physical(self.active, self.state.get("definition"))
            pending = self.state.get("pending")
            if not pending:
                self.pending = None
            elif self.pending is None or self.pending.number != int(pending["generation"]):
                self.pending = self._generation(int(pending["generation"]), pending.get("definition"))
        self.active.refresh()

    def _same_physical(self, gen: Generation, definition: Any) -> IndexLayout:
        layout = self._layout(definition)
        return layout if layout.fingerprint() == gen.fingerprint else gen.layout

    def _record(self, result: SyncResult) -> None:
        with held(self.state_lock):
            fresh = self._read_state()
            fresh["history"] = [result.as_json(), *fresh.get("history", [])][:HISTORY]
            self.state["history"] = fresh["history"]
            write_durably(self.dir / STATE_FILE, orjson.dumps(fresh, option=orjson.OPT_INDENT_2))

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.state.get("history", []))

    @property
    def progress(self) -> Progress | None:
        pending = self.pending
        if pending is not None and pending.progress is not None:
            return pending.progress
        return self.active.progress

    # -- definitions -----------------------------------------------------------------------------

    def set_definition(
        self, layout: IndexLayout, stored: dict[str, Any] | None, explicit: bool = True
    ) -> bool:
        """Make `layout` (its JSON `stored`, None for the default) the definition; True when the tantivy
        layout changed, i.e. a rebuild was scheduled (the active generation keeps answering meanwhile)."""
        with held(self.state_lock), self.lock:
            self.state = self._read_state()
            self.state["explicit"] = explicit
            self.state["deleted"] = False
            superseded = self.pending
            if superseded is not None and layout.fingerprint() == superseded.fingerprint:
                superseded.layout = layout  # the rebuild under way already builds this layout
                self.state["pending"] = {**self.state["pending"], "definition": stored}
                self._save_state()
                return True
            if layout.fingerprint() == self.active.fingerprint:
                self.active.layout = layout  # attributes only: no new tantivy layout
                self.state["definition"] = stored
                self.state["pending"] = None
                self.pending = None
                rebuild = False
            else:
                number = max(self.active.number, superseded.number if superseded else 0) + 1
                self.pending = Generation(layout, self.dir / f"gen-{number}", number)
                self.state["pending"] = {"generation": number, "definition": stored, "requested": now_iso()}
                rebuild = True
            self._save_state()
        if superseded is not None:
            superseded.cancelled.set()  # its rebuild stops at the next batch and its folder goes
        return rebuild

    def delete(self) -> None:
        """Forget the index: its files go; it stays deleted until a definition is put again."""
        with held(self.state_lock), self.lock:
            self.state = self._read_state()
            self.state.update(deleted=True, explicit=True, definition=None, pending=None)
            self.state["active"] = int(self.state["active"]) + 1
            self.pending = None
            self._save_state()
        for sub in self.dir.glob("gen-*"):
            shutil.rmtree(sub, ignore_errors=True)

    @property
    def deleted(self) -> bool:
        return bool(self.state.get("deleted"))

    def definition_json(self) -> dict[str, Any]:
        return render_definition(self.declared)

    # -- indexing --------------------------------------------------------------------------------

    def pending_rows(self, view: ArchiveView) -> int:
        """Rows of the archive's live parts the active generation does not hold yet (what a sync adds)."""
        self.active.refresh()
        held_parts = self.active.parts
        return sum(p.rows for p in view.parts(self.table.name) if p.path not in held_parts)

    def pending_rows_of_rebuild(self, view: ArchiveView) -> int:
        """Rows of the archive's live parts the pending generation does not hold yet (0: none pending)."""
        pending = self.pending
        if pending is None:
            return 0
        pending.refresh()
        return sum(p.rows for p in view.parts(self.table.name) if p.path not in pending.parts)

    def sync(
        self,
        view: ArchiveView,
        heap_mb: int = 256,
        threads: int = 0,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> SyncResult:
        """Bring the active generation in step with the archive's live parts (added, compacted, dropped).

        `progress(documents added, documents to add)` is called as batches go in."""
        result = SyncResult(start=now_iso())
        t0 = time.perf_counter()
        self.running = True
        try:
            self.reload()
            gen = self.active
            result.record(gen.apply(view, view.parts(self.table.name), heap_mb, threads, progress=progress))
            result.status = "success"
        except Exception as exc:  # one bad run must not kill the server; it is reported in status
            result.status = "transientFailure"
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.running = False
        result.end = now_iso()
        result.seconds = time.perf_counter() - t0
        if result.added_files or result.removed_files or result.error or not self.state.get("history"):
            self._record(result)
        return result

    def rebuild(
        self,
        view: ArchiveView,
        heap_mb: int = 256,
        threads: int = 0,
        stop: threading.Event | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> SyncResult | None:
        """Build the pending generation from the archive, then make it the active one (None: nothing pending).

        Searches keep using the active generation until the swap. A stopped rebuild keeps what it committed
        and resumes next time; a rebuild superseded by a newer definition stops and its folder goes.
        """
        pending = self.pending
        if pending is None:
            return None
        result = SyncResult(start=now_iso(), mode="rebuild")
        t0 = time.perf_counter()
        self.rebuild_started = result.start
        try:
            result.record(
                pending.apply(
                    view,
                    view.parts(self.table.name),
                    heap_mb,
                    threads,
                    stop,
                    commit_every=REBUILD_COMMIT_DOCS,
                    progress=progress,
                )
            )
            if not self._swap(pending, view, heap_mb, threads, result, t0):
                if pending.cancelled.is_set():
                    shutil.rmtree(pending.dir, ignore_errors=True)
                return None
            return result  # recorded by the swap itself, in the same state write
        except Stopped:
            if pending.cancelled.is_set():
                shutil.rmtree(pending.dir, ignore_errors=True)
            return None
        except Exception as exc:
            result.status = "transientFailure"
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.rebuild_started = ""
        result.end = now_iso()
        result.seconds = time.perf_counter() - t0
        self._record(result)
        return result

    def _swap(
        self,
        pending: Generation,
        view: ArchiveView,
        heap_mb: int,
        threads: int,
        result: SyncResult,
        t0: float,
    ) -> bool:
        """Make `pending` the active generation, recording the rebuild's result in the same state write (a
        status read never sees the new generation without its run, nor the reverse)."""
        with held(pending.lock_file), held(self.active.lock_file), held(self.state_lock), self.lock:
            state = self._read_state()
            wanted = state.get("pending")
            if not wanted or int(wanted["generation"]) != pending.number:
                return False  # superseded (or finished by another process)
            result.record(pending.apply(view, view.parts(self.table.name), heap_mb, threads))
            old = self.active
            state["active"] = pending.number
            state["definition"] = wanted.get("definition")
            state["pending"] = None
            result.status = "success"
            result.end = now_iso()
            result.seconds = time.perf_counter() - t0
            state["history"] = [result.as_json(), *state.get("history", [])][:HISTORY]
            self.state = state
            self._save_state()
            self.active, self.pending = pending, None
        old.invalidate()
        shutil.rmtree(old.dir, ignore_errors=True)
        return True

    def verify(self, view: ArchiveView, repair: bool, heap_mb: int = 256, threads: int = 0) -> VerifyReport:
        """Documents per archive part against the part's rows; with `repair`, re-index what differs."""
        self.reload()
        gen = self.active
        report = VerifyReport(self.name, self.table.name)
        with held(gen.lock_file):
            gen.refresh()
            gen.invalidate()
            searcher = gen.searcher()
            live = view.parts(self.table.name)
            live_ids = {p.path for p in live}
            for part in live:
                rows = part.rows or view.read(part.path).num_rows
                report.parts += 1
                report.archive_rows += rows
                report.archive_bytes += part.bytes
                held_docs = gen.count_part(part.path, searcher)
                if part.path not in gen.parts and held_docs == 0 and rows:
                    report.missing.append(part.path)
                elif held_docs != rows:
                    report.mismatched.append({"part": part.path, "documents": held_docs, "rows": rows})
            for term in sorted(set(gen.part_terms()) | set(gen.parts)):
                if term not in live_ids and gen.count_part(term, searcher):
                    report.orphans.append(term)
            report.documents = int(searcher.num_docs)
            if repair and not report.ok:
                fix = set(report.missing) | {m["part"] for m in report.mismatched}
                gen.apply(view, live, heap_mb, threads, repair=fix, drop=set(report.orphans))
                report.repaired = True
            report.documents_after = gen.documents()
            report.index_bytes = gen.size_bytes()
        return report


def not_found(name: str) -> SearchError:
    return SearchError(
        f"The index '{name}' for service 'huntvault' was not found.", 404, "ResourceNameNotFound"
    )
