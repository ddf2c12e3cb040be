"""Locks that hold across threads and processes (a server and `huntvault index` on the same index folder)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class _FileLock:
    """A re-entrant lock over one lock file: a thread lock inside the process, flock across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.depth = 0
        self.fd = -1

    def acquire(self) -> None:
        self.lock.acquire()
        if self.depth == 0:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self.fd = fd
            except BaseException:
                self.lock.release()
                raise
        self.depth += 1

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            fd, self.fd = self.fd, -1
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self.lock.release()


_LOCKS: dict[str, _FileLock] = {}
_GUARD = threading.Lock()


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Hold the lock file `path` (re-entrant in a thread; exclusive across threads and processes).

    The lock file is never removed: removing it would let a second process lock a new inode while the first
    still holds the old one.
    """
    key = os.path.abspath(path)
    with _GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = _FileLock(Path(key))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()
