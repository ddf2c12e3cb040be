"""The index store: one index per archived table, its definition (Azure's JSON), syncs, rebuilds, --verify."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from huntvault.errors import SearchError
from huntvault.index.definitions import parse_definition, render_definition
from huntvault.index.fields import IndexLayout, validate_index_name
from huntvault.index.source import ArchiveRef, ArchiveView
from huntvault.index.table_index import STATE_FILE, SyncResult, TableIndex, VerifyReport, not_found
from huntvault.schema import CONTAINER_PREFIX, Column, Table, container_name, get_table, table_from_container


def table_for(name: str) -> Table:
    """The schema table `name`, or a minimal one for a table the schema does not know (Timestamp + _Extra)."""
    known = get_table(name)
    if known is not None:
        return known
    # unknown tables keep Timestamp; everything else is in _Extra and comes back in `properties`
    return Table(name=name, columns=(Column("Timestamp", "datetime"),))


class IndexStore:
    """All table indexes under one folder, fed from one archive (a local folder or an object store)."""

    def __init__(
        self,
        index_dir: str | Path,
        archive: ArchiveRef,
        tables: list[str] | None = None,
        heap_mb: int = 256,
        threads: int = 0,
        strict: bool = False,
        background: bool = False,
    ) -> None:
        self.dir = Path(index_dir)
        self.view = ArchiveView(archive)
        self.only = {t.lower() for t in tables or []}
        self.heap_mb = heap_mb
        self.threads = threads
        self.strict = strict
        self.background = background  # rebuilds run in threads (server) instead of in `rebuild_all` (CLI)
        self._indexes: dict[str, TableIndex] = {}
        self._aliases: dict[str, str] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._rebuilds: dict[str, tuple[threading.Thread, int]] = {}  # index -> (thread, generation)
        self.discover()

    def _wanted(self, table: str) -> bool:
        return not self.only or table.lower() in self.only

    @staticmethod
    def _read_state(folder: Path) -> dict[str, Any] | None:
        try:
            state = orjson.loads((folder / STATE_FILE).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return state if isinstance(state, dict) else None

    def discover(self) -> None:
        """Open the index of every archived table, and of every table indexed or defined before, except
        those deleted through the API (and, without a definition of their own, those `index.tables` leaves out)."""
        with self._lock:
            names = {t for t in self.view.tables() if self._wanted(t)}
            deleted: set[str] = set()
            if self.dir.is_dir():
                for p in self.dir.iterdir():
                    if not p.name.startswith(CONTAINER_PREFIX):
                        continue
                    state = self._read_state(p)
                    if state is None or not state.get("table"):
                        continue
                    table = str(state["table"])
                    if state.get("deleted"):
                        deleted.add(table.lower())
                    elif state.get("explicit") or self._wanted(table):
                        names.add(table)
            for table in sorted(names):
                if table.lower() in deleted:
                    continue
                self._open(table_for(table))
            for name in [n for n, idx in self._indexes.items() if idx.table.name.lower() in deleted]:
                self._forget(name)

    def _open(self, table: Table) -> TableIndex:
        name = container_name(table.name)
        idx = self._indexes.get(name)
        if idx is None:
            idx = TableIndex(table, self.dir / name, self.strict)
            self._indexes[name] = idx
            self._aliases[table.name.lower()] = name
            if idx.pending is not None and self.background:
                self._start_rebuild(idx)
        return idx

    def _forget(self, name: str) -> None:
        idx = self._indexes.pop(name, None)
        if idx is not None:
            self._aliases.pop(idx.table.name.lower(), None)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._indexes)

    def canonical(self, name: str) -> str:
        """The index name `name` means: itself, or the export container of the table it names (any case)."""
        with self._lock:
            if name in self._indexes:
                return name
            alias = self._aliases.get(name.lower())
        if alias:
            return alias
        known = get_table(name)
        return container_name(known.name) if known is not None else name

    def get(self, name: str) -> TableIndex:
        """The index called `name` (container name) or aliased by its table name (any case)."""
        with self._lock:
            idx = self._indexes.get(name) or self._indexes.get(self._aliases.get(name.lower(), ""))
        if idx is None:
            validate_index_name(name)
            raise not_found(name)
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

    # -- definitions -----------------------------------------------------------------------------

    def _table_of_new(self, name: str) -> Table:
        """The table a new index called `name` follows: `insights-logs-advancedhunting-<table>`."""
        validate_index_name(name)
        table = table_from_container(name)
        archived = {t.lower(): t for t in self.view.tables()}
        if table is None or (get_table(table) is None and table.lower() not in archived):
            raise SearchError(
                f"huntvault indexes follow archive tables: an index must be named "
                f"'{CONTAINER_PREFIX}<table>' for a Defender table of the schema or of the archive, "
                f"not '{name[:140]}'.\r\nParameter name: name",
                400,
                "InvalidName",
            )
        return table_for(archived.get(table.lower(), table))

    def definition(self, name: str) -> dict[str, Any]:
        return self.get(name).definition_json()

    def put_definition(
        self,
        name: str,
        body: Any,
        *,
        create_only: bool = False,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Create or change an index from Azure's index JSON; returns (its definition, created).

        A definition that needs another tantivy layout schedules a rebuild from the archive; the current
        index keeps answering until the rebuild is complete (`GET /indexers/{name}/status` shows it).
        """
        with self._lock:
            target = self.canonical(name)
            existing = self._indexes.get(target)
            table = self._table_of_new(target) if existing is None else existing.table
            if create_only and existing is not None:
                raise SearchError(
                    f"Cannot create index '{target}' because it already exists.",
                    400,
                    "ResourceNameAlreadyInUse",
                )
            current = existing.definition_json()["@odata.etag"] if existing is not None else None
            _preconditions(target, current, if_match, if_none_match)
            layout = parse_definition(body, table, target if body_name(body) == target else name, self.strict)
            layout_json = _stored_json(layout)
            if existing is None:
                idx = TableIndex(table, self.dir / target, self.strict)
                self._indexes[target] = idx
                self._aliases[table.name.lower()] = target
            else:
                idx = existing
            rebuild = idx.set_definition(layout, layout_json)
            if rebuild and self.background:
                self._start_rebuild(idx)
            return idx.definition_json(), existing is None

    def delete_index(self, name: str, if_match: str | None = None) -> None:
        with self._lock:
            idx = self.get(name)
            _preconditions(idx.name, idx.definition_json()["@odata.etag"], if_match, None)
            idx.delete()
            self._forget(idx.name)

    # -- runs ------------------------------------------------------------------------------------

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
            if changed is not None and idx.table.name not in changed and idx.history:
                continue  # the change feed says nothing happened to this table
            todo.append(idx)
        total = sum(idx.pending_rows(self.view) for idx in todo) if progress is not None else 0
        return self._run(
            todo, total, progress, lambda idx, each: idx.sync(self.view, self.heap_mb, self.threads, each)
        )

    def pending_rebuild_rows(self) -> int:
        """Rows of the archive the pending rebuilds still have to index (for a progress bar's total)."""
        return sum(idx.pending_rows_of_rebuild(self.view) for idx in self.all())

    def rebuild_all(
        self,
        stop: threading.Event | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> dict[str, SyncResult]:
        """Complete every pending rebuild here and now (the CLI; the server runs them in threads)."""
        todo = [idx for idx in self.all() if idx.pending is not None]
        total = sum(idx.pending_rows_of_rebuild(self.view) for idx in todo) if progress is not None else 0
        return self._run(
            todo,
            total,
            progress,
            lambda idx, each: idx.rebuild(self.view, self.heap_mb, self.threads, stop or self._stop, each),
        )

    @staticmethod
    def _run(
        todo: list[TableIndex],
        total: int,
        progress: Callable[[int, int | None], None] | None,
        step: Callable[[TableIndex, Callable[[int, int | None], None] | None], SyncResult | None],
    ) -> dict[str, SyncResult]:
        """Run `step` on each index, reporting their documents as one whole to `progress`."""
        base = 0
        out: dict[str, SyncResult] = {}
        for idx in todo:
            each = None
            if progress is not None:
                progress(base, max(total, base))
                each = _offset(progress, base, total)
            result = step(idx, each)
            if result is not None:
                out[idx.name] = result
                base += result.items_processed
        if progress is not None:
            progress(base, max(total, base))
        return out

    def _start_rebuild(self, idx: TableIndex) -> None:
        """A thread that builds the index's pending generation and swaps it in (one per index at a time)."""
        running = self._rebuilds.get(idx.name)
        if running is not None and running[0].is_alive():
            return  # its loop picks up a newer pending generation itself

        def run() -> None:
            while not self._stop.is_set() and idx.pending is not None:
                mine = idx.pending
                idx.rebuild(self.view, self.heap_mb, self.threads, self._stop)
                if idx.pending is mine:  # failed or stopped: try again after a pause
                    self._stop.wait(5.0)

        thread = threading.Thread(target=run, name=f"rebuild-{idx.name}", daemon=True)
        self._rebuilds[idx.name] = (thread, idx.pending.number if idx.pending else 0)
        thread.start()

    def start_rebuilds(self) -> None:
        with self._lock:
            self.background = True
            for idx in self._indexes.values():
                if idx.pending is not None:
                    self._start_rebuild(idx)

    def close(self, timeout: float = 30.0) -> None:
        """Stop background rebuilds (what they committed stays; they resume at the next start)."""
        self._stop.set()
        for thread, _ in list(self._rebuilds.values()):
            thread.join(timeout)

    def verify(self, names: list[str] | None = None, repair: bool = True) -> dict[str, VerifyReport]:
        self.discover()
        out: dict[str, VerifyReport] = {}
        for idx in self.all():
            if names is None or idx.name in names:
                out[idx.name] = idx.verify(self.view, repair, self.heap_mb, self.threads)
        return out


def body_name(body: Any) -> Any:
    return body.get("name") if isinstance(body, dict) else None


def _stored_json(layout: IndexLayout) -> dict[str, Any]:
    out = render_definition(layout)
    out.pop("@odata.etag", None)
    return out


def _norm(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"')


def _preconditions(name: str, current: str | None, if_match: str | None, if_none_match: str | None) -> None:
    """HTTP If-Match / If-None-Match against the definition's etag: Azure's 412 when they fail."""
    failed = False
    if if_match is not None:
        failed = current is None or (if_match.strip() != "*" and _norm(if_match) != _norm(current))
    if if_none_match is not None and current is not None:
        failed = failed or if_none_match.strip() == "*" or _norm(if_none_match) == _norm(current)
    if failed:
        raise SearchError(
            f"The precondition given in one of the request headers evaluated to false for index '{name}'.",
            412,
            "PreconditionFailed",
        )


def _offset(
    progress: Callable[[int, int | None], None], base: int, total: int
) -> Callable[[int, int | None], None]:
    """One index's progress as part of a whole run's: its documents counted after `base`."""

    def each(done: int, _total: int | None) -> None:
        progress(base + done, max(total, base + done))

    return each
