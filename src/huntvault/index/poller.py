"""The background indexer: one loop that keeps every index in step with the archive (the server's freshness)."""

from __future__ import annotations

import logging
import threading

from huntvault.errors import HuntvaultError
from huntvault.index.store import IndexStore

log = logging.getLogger("huntvault.index")


class IndexPoller:
    """Syncs every `interval` seconds until stopped; rebuilds of changed definitions run beside it."""

    def __init__(self, store: IndexStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name="huntvault-indexer", daemon=True
        )

    def start(self) -> None:
        self.store.start_rebuilds()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.store.close()
        self._thread.join(timeout=30)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.store.sync()
            except (HuntvaultError, OSError) as exc:  # each table's failure is in its history already
                log.warning("index sync failed: %s", exc)
            stop.wait(self.interval)
