"""CPU-heavy work off the event loop: bounded worker pools, a per-key concurrency cap (429), hunt cancellation."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from huntvault.errors import SearchError

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1


class WorkerPool:
    """A fixed number of daemon threads running submitted calls in order.

    Daemon threads: a search or a hunt compiling when the server stops does not hold the process up
    (DuckDB work is interrupted through the hunt's cancel event; the rest is dropped with the process).
    """

    def __init__(self, name: str, workers: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, fut = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the awaiting request, which answers for it
                fut.set_exception(exc)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        return fut

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


class KeyLimiter:
    """At most `limit` calls of one kind in flight per key; the next one gets 429 with Retry-After."""

    def __init__(self, kind: str, limit: int, setting: str) -> None:
        self.kind = kind
        self.limit = limit
        self.setting = setting
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}

    def acquire(self, key_id: str) -> None:
        with self._lock:
            n = self._busy.get(key_id, 0)
            if n >= self.limit:
                raise SearchError(
                    f"Too many concurrent {self.kind} for this api-key (at most {self.limit}, setting "
                    f"{self.setting}); retry after {RETRY_AFTER_SECONDS} s.",
                    429,
                    "TooManyRequests",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._busy[key_id] = n + 1

    def release(self, key_id: str) -> None:
        with self._lock:
            n = self._busy.get(key_id, 0) - 1
            if n > 0:
                self._busy[key_id] = n
            else:
                self._busy.pop(key_id, None)


class Lane:
    """One kind of work (searches, hunts): its pool and its per-key cap. A slot is held until the work
    itself ends, not merely until its request gives up waiting, so the cap bounds real CPU use."""

    def __init__(self, pool: WorkerPool, limiter: KeyLimiter) -> None:
        self.pool = pool
        self.limiter = limiter

    async def run(self, key_id: str, fn: Callable[[], T], timeout: float | None = None) -> T:
        self.limiter.acquire(key_id)
        try:
            fut = self.pool.submit(fn)
        except BaseException:
            self.limiter.release(key_id)
            raise
        fut.add_done_callback(lambda _: self.limiter.release(key_id))
        return await asyncio.wait_for(asyncio.wrap_future(fut), timeout)


class HuntRegistry:
    """The cancel event of every running hunt, so a server shutdown can stop them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[threading.Event] = set()
        self.closing = threading.Event()

    def start(self) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._running.add(event)
        if self.closing.is_set():
            event.set()
        return event

    def finish(self, event: threading.Event) -> None:
        with self._lock:
            self._running.discard(event)

    def cancel_all(self) -> None:
        self.closing.set()
        with self._lock:
            for event in self._running:
                event.set()

    def running(self) -> int:
        with self._lock:
            return len(self._running)
