"""The search service: the index store, its background indexer and the engine, behind one object for web and CLI."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from huntvault.archive import ArchiveLocation, archive_location
from huntvault.config import Config
from huntvault.errors import SearchError, UnknownFieldError
from huntvault.index import (
    IndexPoller,
    IndexStore,
    SyncResult,
    VerifyReport,
    indexer_definition,
    indexer_status,
    run_indexer,
)
from huntvault.search.engine import SearchEngine
from huntvault.search.request import SearchRequest


class SearchService:
    """Everything the REST API and `huntvault search` need, built from the configuration.

    `archive` overrides `[archive].path` (a folder or an az:// URL; credentials from `[archive]` and the
    HUNTVAULT_ARCHIVE_* variables). `background` runs rebuilds of changed definitions in threads (the
    server); without it `rebuild()` runs them (the CLI).
    """

    def __init__(
        self,
        config: Config,
        archive: str | os.PathLike[str] | ArchiveLocation | None = None,
        sync_now: bool = True,
        background: bool = True,
    ) -> None:
        self.config = config
        loc = (
            archive
            if isinstance(archive, ArchiveLocation)
            else archive_location(config.archive, os.fspath(archive) if archive is not None else None)
        )
        self.archive = loc
        self.store = IndexStore(
            config.index.path,
            loc,
            tables=config.index.tables or None,
            heap_mb=config.index.writer_heap_mb,
            threads=config.index.writer_threads,
            strict=config.index.strict_attributes,
            background=background,
        )
        self.engine = SearchEngine(self.store, config.search)
        self.poller: IndexPoller | None = None
        if sync_now:
            self.store.sync()

    def start(self) -> None:
        """Keep the indexes fresh in the background (every `index.poll_seconds`), rebuilds included."""
        if self.poller is None and self.config.index.enabled:
            self.poller = IndexPoller(self.store, self.config.index.poll_seconds)
            self.poller.start()
        else:
            self.store.start_rebuilds()

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()
            self.poller = None
        self.store.close()

    # -- indexes --

    def index_names(self) -> list[str]:
        self.store.discover()
        return self.store.names()

    def index_tables(self) -> dict[str, str]:
        """Each index's table name (the alias the API accepts for it, in any case)."""
        self.store.discover()
        return {idx.name: idx.table.name for idx in self.store.all()}

    def resolve_index(self, name: str) -> str:
        """The index `name` designates (its own name, or its table's in any case); an unknown name is a 404
        that lists what exists and suggests the closest table, instead of Azure's naming-rule message."""
        tables = self.index_tables()
        if name in tables:
            return name
        by_table = {t.lower(): n for n, t in tables.items()}
        if name.lower() in by_table:
            return by_table[name.lower()]
        import difflib

        known = sorted(tables.values())
        close = difflib.get_close_matches(name.lower(), [t.lower() for t in known], n=1, cutoff=0.75)
        hint = next((f" (did you mean {t}?)" for t in known if close and t.lower() == close[0]), "")
        listed = ", ".join(known) if known else "none yet: ingest and index some data first"
        raise SearchError(
            f"no index or table named '{name[:140]}'{hint}; tables with an index: {listed}",
            404,
            "ResourceNameNotFound",
        )

    def index_definition(self, name: str) -> dict[str, Any]:
        return self.store.definition(name)

    def put_index(
        self,
        name: str,
        body: Any,
        *,
        create_only: bool = False,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Create or change an index definition (Azure's JSON); returns (definition, created)."""
        return self.store.put_definition(
            name, body, create_only=create_only, if_match=if_match, if_none_match=if_none_match
        )

    def delete_index(self, name: str, if_match: str | None = None) -> None:
        self.store.delete_index(name, if_match)

    def index_stats(self, name: str) -> dict[str, Any]:
        idx = self.store.get(name)
        return {
            "documentCount": self.engine.count(name),
            "storageSize": idx.active.size_bytes() + (idx.pending.size_bytes() if idx.pending else 0),
            "vectorIndexSize": 0,
        }

    # -- runs (CLI) --

    def sync(self, progress: Callable[[int, int | None], None] | None = None) -> dict[str, SyncResult]:
        """Every index in step with the archive once; `progress(documents added, documents to add)`."""
        return self.store.sync(progress=progress)

    def rebuild(self, progress: Callable[[int, int | None], None] | None = None) -> dict[str, SyncResult]:
        """Complete every pending rebuild now (definitions changed while no server was running)."""
        return self.store.rebuild_all(progress=progress)

    def rebuilds_pending(self) -> bool:
        return any(idx.pending is not None for idx in self.store.all())

    def verify(self, repair: bool = True) -> dict[str, VerifyReport]:
        return self.store.verify(repair=repair)

    # -- documents --

    def search(self, name: str, req: SearchRequest) -> dict[str, Any]:
        return self.engine.search(name, req)

    def search_all(self, req: SearchRequest) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """The request on every index that has the fields it names; (results, skipped index -> why).

        An index lacking a field the request selects, filters, sorts or facets on is skipped (the
        portal's query strings name one table's columns); if every index lacks one, the first error is
        raised.
        """
        results: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        first: UnknownFieldError | None = None
        for name in self.index_names():
            try:
                results[name] = self.engine.search(name, req)
            except UnknownFieldError as exc:
                skipped[name] = f"no field '{exc.path}'"
                first = first or exc
        if not results and first is not None:
            raise first
        return results, skipped

    def lookup(self, name: str, key: str, select: str | None) -> dict[str, Any]:
        return self.engine.lookup(name, key, select)

    def count(self, name: str) -> int:
        return self.engine.count(name)

    # -- indexers --

    def indexers(self) -> list[dict[str, Any]]:
        self.store.discover()
        return [indexer_definition(i, self.config.index.poll_seconds) for i in self.store.all()]

    def indexer(self, name: str) -> dict[str, Any]:
        return indexer_definition(self.store.by_indexer(name), self.config.index.poll_seconds)

    def indexer_status(self, name: str) -> dict[str, Any]:
        return indexer_status(self.store, self.store.by_indexer(name))

    def run_indexer(self, name: str) -> None:
        run_indexer(self.store, self.store.by_indexer(name))
