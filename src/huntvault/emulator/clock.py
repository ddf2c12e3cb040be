"""Emulator time: 100-ns ticks since the Unix epoch, and fast ISO formatting with Defender's 1-7 digit fractions."""

from __future__ import annotations

import time
from datetime import UTC, datetime

TICKS_PER_SECOND = 10_000_000
TICKS_PER_HOUR = 3600 * TICKS_PER_SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: 100-ns ticks between 0001-01-01 and 1970-01-01 (Windows FILETIME-style ids are built on these).
WINDOWS_EPOCH_TICKS = 621_355_968_000_000_000


def to_ticks(t: datetime) -> int:
    """A timezone-aware datetime as 100-ns ticks since the Unix epoch (exact to the microsecond)."""
    delta = t - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10


def from_ticks(ticks: int) -> datetime:
    from datetime import timedelta

    return _EPOCH + timedelta(microseconds=ticks // 10)


class Formatter:
    """Ticks -> `2026-07-22T10:44:33.4250955Z`. Trailing zeros of the fraction are dropped, as Defender does
    (`...59.29Z`, `...05Z`), so rows rounded to the millisecond carry 1-3 digits and the rest 7."""

    def __init__(self) -> None:
        self.hours: dict[int, str] = {}
        self.minsec = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))

    def prefix(self, sec: int) -> str:
        """`YYYY-MM-DDTHH:MM:SS` of a Unix second (the hour part is cached)."""
        hour, rem = divmod(sec, 3600)
        p = self.hours.get(hour)
        if p is None:
            if len(self.hours) > 10_000:
                self.hours.clear()
            p = self.hours[hour] = time.strftime("%Y-%m-%dT%H:", time.gmtime(hour * 3600))
        return p + self.minsec[rem]

    def __call__(self, ticks: int) -> str:
        sec, frac = divmod(ticks, TICKS_PER_SECOND)
        if frac:
            return f"{self.prefix(sec)}.{frac:07d}".rstrip("0") + "Z"
        return self.prefix(sec) + "Z"

    def seven(self, ticks: int, zulu: bool = True) -> str:
        """Always 7 fractional digits (the envelope's `time` / `_TimeReceivedBySvc` style)."""
        sec, frac = divmod(ticks, TICKS_PER_SECOND)
        return f"{self.prefix(sec)}.{frac:07d}{'Z' if zulu else ''}"


__all__ = ["TICKS_PER_HOUR", "TICKS_PER_SECOND", "WINDOWS_EPOCH_TICKS", "Formatter", "from_ticks", "to_ticks"]
