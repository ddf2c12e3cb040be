"""Durable writes: a file replaced whole (temp name, fsync, rename, fsync the folder) or appended and synced."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = [
    "append_durably",
    "fsync_dir",
    "replace_durably",
    "truncate_durably",
    "write_durably",
    "writing_durably",
]


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a folder's entries (a rename, a new file) survive a crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Move a fully written `tmp` over `final`: fsync the file, rename, fsync the folder."""
    tmp, final = Path(tmp), Path(final)
    _fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def _tmp_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


@contextmanager
def writing_durably(final: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[bytes]]:
    """`with writing_durably(path) as fh:` writes a temp file that replaces `path` only when the block ends
    without an error; a crash or an exception leaves the old file whole (and no temp file behind)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(final)
    try:
        with open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        fsync_dir(final.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_durably(final: str | os.PathLike[str], data: bytes | str) -> None:
    """Replace `final` with `data` (text is UTF-8) so that a crash leaves either the old or the new file."""
    with writing_durably(final) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def append_durably(
    path: str | os.PathLike[str], data: bytes, write: Callable[[IO[bytes]], object] | None = None
) -> int:
    """Append `data` (or what `write` writes) to `path` and fsync it (and the folder when the file is new);
    returns the file's size after the append."""
    path = Path(path)
    new = not path.exists()
    with open(path, "ab") as fh:
        if write is None:
            fh.write(data)
        else:
            write(fh)
        fh.flush()
        os.fsync(fh.fileno())
        size = fh.tell()
    if new:
        fsync_dir(path.parent)
    return size


def truncate_durably(path: str | os.PathLike[str], size: int) -> None:
    """Cut `path` back to `size` bytes (an append that must not count) and fsync it."""
    with open(path, "r+b") as fh:
        fh.truncate(size)
        fh.flush()
        os.fsync(fh.fileno())
