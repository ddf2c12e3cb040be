"""The search service: the index store, its background indexer and the engine, behind one object for web and CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huntvault.config import Config
from huntvault.errors import SearchError
from huntvault.index import (
    IndexPoller,
    IndexStore,
    indexer_definition,
    indexer_status,
    run_indexer,
)
from huntvault.search.engine import SearchEngine
from huntvault.search.request import SearchRequest


class SearchService:
    """Everything the REST API and `huntvault search` need, built from the configuration."""

    def __init__(self, config: Config, archive_dir: str | Path | None = None, sync_now: bool = True) -> None:
        self.config = config
        archive = Path(archive_dir) if archive_dir is not None else Path(config.archive.path)
        self.store = IndexStore(
            config.index.path,
            archive,
            tables=config.index.tables or None,
            heap_mb=config.index.writer_heap_mb,
        )
        self.engine = SearchEngine(self.store, config.search)
        self.poller: IndexPoller | None = None
        if sync_now:
            self.store.sync()

    def start(self) -> None:
        """Keep the indexes fresh in the background (every `index.poll_seconds`)."""
        if self.poller is None and self.config.index.enabled:
            self.poller = IndexPoller(self.store, self.config.index.poll_seconds)
            self.poller.start()

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()
            self.poller = None

    # -- indexes --

    def index_names(self) -> list[str]:
        self.store.discover()
        return self.store.names()

    def index_tables(self) -> dict[str, str]:
        """Each index's table name (the alias the API accepts for it, in any case)."""
        self.store.discover()
        return {idx.name: idx.layout.table.name for idx in self.store.all()}

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
        return self.store.get(name).layout.definition()

    def index_stats(self, name: str) -> dict[str, Any]:
        idx = self.store.get(name)
        tdir = idx.dir / "tantivy"
        size = sum(p.stat().st_size for p in tdir.glob("*") if p.is_file()) if tdir.is_dir() else 0
        return {"documentCount": self.engine.count(name), "storageSize": size, "vectorIndexSize": 0}

    # -- documents --

    def search(self, name: str, req: SearchRequest) -> dict[str, Any]:
        return self.engine.search(name, req)

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
