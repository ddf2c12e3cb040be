"""The ingestion watermark: up to when the archive holds everything the sources will deliver (windows wait for it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from huntvault.schema import parse_datetime

Watermark = Callable[[], "datetime | None"]


def archive_watermark(
    archive: str | os.PathLike[str],
    sources: list[str] | None = None,
    delay: timedelta = timedelta(minutes=10),
    now: Callable[[], datetime] | None = None,
) -> datetime | None:
    """The instant before which ingestion is considered complete, from the archive's per-source progress.

    Per source: the newest event Timestamp it committed; when the source has no unread bytes left
    (it is caught up), the time of its last commit counts too (a quiet tenant still moves forward).
    The watermark is the minimum over the sources (only those named in `sources` when given), minus
    `delay`: the export's own delay between an event and its arrival. Rows later than that are caught
    by the next windows as long as they fall inside a rule's lookback. None = nothing ingested yet.
    """
    from huntvault.archive import status
    from huntvault.errors import HuntvaultError

    clock = now or (lambda: datetime.now(UTC))
    try:
        info = status(archive)
    except (HuntvaultError, OSError):  # no archive yet: nothing is covered
        return None
    covered: list[datetime] = []
    for src in info.sources:
        if sources and src.source not in sources:
            continue
        marks: list[datetime] = []
        if src.newest_event:
            marks.append(parse_datetime(src.newest_event))
        if src.last_commit and not src.unread_bytes:
            marks.append(min(parse_datetime(src.last_commit), clock()))
        if marks:
            covered.append(max(marks))
    if not covered:
        return None
    return min(covered) - delay


def fixed_watermark(value: datetime | None) -> Watermark:
    """A watermark that never moves (backtests over history, tests)."""
    return lambda: value


__all__ = ["Watermark", "archive_watermark", "fixed_watermark"]
