"""Datetime functions in Python: datetime_diff/part by calendar boundaries, time zones (IANA, zoneinfo),
unixtime in nanoseconds, around."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_seconds(dt: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS` in UTC with four year digits (strftime's %Y writes the year 900 as `900`)."""
    u = dt.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _week_start_days(dt: datetime) -> int:
    """Days from the epoch to the Sunday that starts dt's week."""
    days = (dt - _EPOCH).days
    return days - (days + 4) % 7  # 1970-01-01 was a Thursday


_DIFF: dict[str, Callable[[datetime, datetime], int]] = {
    "year": lambda a, b: a.year - b.year,
    "quarter": lambda a, b: (a.year * 4 + (a.month - 1) // 3) - (b.year * 4 + (b.month - 1) // 3),
    "month": lambda a, b: (a.year * 12 + a.month) - (b.year * 12 + b.month),
    "week": lambda a, b: (_week_start_days(a) - _week_start_days(b)) // 7,
    "day": lambda a, b: (a - _EPOCH).days - (b - _EPOCH).days,
    "hour": lambda a, b: _us(a) // 3_600_000_000 - _us(b) // 3_600_000_000,
    "minute": lambda a, b: _us(a) // 60_000_000 - _us(b) // 60_000_000,
    "second": lambda a, b: _us(a) // 1_000_000 - _us(b) // 1_000_000,
    "millisecond": lambda a, b: _us(a) // 1000 - _us(b) // 1000,
    "microsecond": lambda a, b: _us(a) - _us(b),
    "nanosecond": lambda a, b: (_us(a) - _us(b)) * 1000,
}


def datetime_diff(part: Any, a: Any, b: Any) -> Any:
    if not isinstance(a, datetime) or not isinstance(b, datetime):
        return None
    return _DIFF[str(part).lower()](a, b)


_PART: dict[str, Callable[[datetime], int]] = {
    "year": lambda d: d.year,
    "quarter": lambda d: (d.month - 1) // 3 + 1,
    "month": lambda d: d.month,
    "week_of_year": lambda d: d.isocalendar()[1],
    "weekofyear": lambda d: d.isocalendar()[1],
    "week": lambda d: d.isocalendar()[1],
    "day": lambda d: d.day,
    "dayofyear": lambda d: d.timetuple().tm_yday,
    "hour": lambda d: d.hour,
    "minute": lambda d: d.minute,
    "second": lambda d: d.second,
    "millisecond": lambda d: d.microsecond // 1000,
    "microsecond": lambda d: d.microsecond,
    "nanosecond": lambda d: d.microsecond * 1000,
}

#: the part names datetime_part accepts (checked at compile time)
DATETIME_PARTS = frozenset(_PART)


def datetime_part(part: Any, dt: Any) -> Any:
    if not isinstance(dt, datetime):
        return None
    return _PART[str(part).lower()](dt.astimezone(UTC))


def unixtime_nanoseconds_todatetime(ns: Any) -> Any:
    if ns is None:
        return None
    return _EPOCH + timedelta(microseconds=int(float(ns)) // 1000)


def datetime_utc_to_local(dt: Any, tz: Any) -> Any:
    if not isinstance(dt, datetime):
        return None
    local = dt.astimezone(ZoneInfo(str(tz)))
    return local.replace(tzinfo=UTC)


def datetime_local_to_utc(dt: Any, tz: Any) -> Any:
    if not isinstance(dt, datetime):
        return None
    naive = dt.astimezone(UTC).replace(tzinfo=None)
    # an ambiguous local time is read as standard time and a skipped one with the offset after the
    # change (fold=1), which reproduces the reference's DST examples
    return naive.replace(tzinfo=ZoneInfo(str(tz)), fold=1).astimezone(UTC)


def datetime_list_timezones() -> Any:
    return sorted(available_timezones())


def around(value: Any, center: Any, delta: Any) -> Any:
    if value is None or center is None or delta is None:
        return None
    return bool(center - delta <= value <= center + delta)


IMPLS: dict[str, Any] = {
    "datetime_diff": datetime_diff,
    "datetime_part": datetime_part,
    "unixtime_nanoseconds_todatetime": unixtime_nanoseconds_todatetime,
    "datetime_utc_to_local": datetime_utc_to_local,
    "datetime_local_to_utc": datetime_local_to_utc,
    "datetime_list_timezones": datetime_list_timezones,
    "around": around,
}


def _run_of(fmt: str, i: int) -> int:
    j = i
    while j < len(fmt) and fmt[j] == fmt[i]:
        j += 1
    return j - i


def format_datetime(dt: Any, fmt: Any) -> Any:
    """Kusto's format specifiers: y..yyyy, M/MM, d/dd, h/hh, H/HH, m/mm, s/ss, f..fffffff, F..FFFFFFF, tt."""
    if not isinstance(dt, datetime):
        return None
    d = dt.astimezone(UTC)
    f = str(fmt)
    ticks7 = f"{d.microsecond:06d}0"
    out: list[str] = []
    i = 0
    while i < len(f):
        ch = f[i]
        n = _run_of(f, i)
        if ch == "y":
            out.append(str(d.year % 100).zfill(n) if n <= 2 else str(d.year).zfill(n))
        elif ch == "M":
            out.append(str(d.month).zfill(min(n, 2)))
        elif ch == "d":
            out.append(str(d.day).zfill(min(n, 2)))
        elif ch == "h":
            out.append(str(d.hour % 12 or 12).zfill(min(n, 2)))
        elif ch == "H":
            out.append(str(d.hour).zfill(min(n, 2)))
        elif ch == "m":
            out.append(str(d.minute).zfill(min(n, 2)))
        elif ch == "s":
            out.append(str(d.second).zfill(min(n, 2)))
        elif ch == "f":
            out.append(ticks7[: min(n, 7)])
        elif ch == "F":
            digits = ticks7[: min(n, 7)].rstrip("0")
            if not digits and out and out[-1].endswith("."):
                out[-1] = out[-1][:-1]
            out.append(digits)
        elif ch == "t":
            out.append(("AM" if d.hour < 12 else "PM")[: min(n, 2)])
        else:
            out.append(f[i : i + n])
        i += n
    return "".join(out)


IMPLS["format_datetime"] = format_datetime


def row_window_session(values: Any, max_from_first: Any, max_between: Any) -> Any:
    """The session start of the last value of `values` (epoch microseconds in serialized order): a new
    session starts when a value is farther than max_from_first from the session's first value or
    farther than max_between from the previous one."""
    if not isinstance(values, list) or not values or values[-1] is None:
        return None
    first_limit = max_from_first // timedelta(microseconds=1)
    step_limit = max_between // timedelta(microseconds=1)
    start = prev = None
    for v in values:
        if v is None:
            continue
        if start is None or prev is None or v - start > first_limit or v - prev > step_limit:
            start = v
        prev = v
    return None if start is None else _EPOCH + timedelta(microseconds=int(start))


IMPLS["row_window_session"] = row_window_session
