"""Literal texts of the KQL syntax: type names, timespan text (`1.02:03:04`, `1.5h`) and datetime text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from huntvault.errors import KqlSyntaxError, NormaliseError
from huntvault.kql.syntax.tokens import TIMESPAN_UNITS
from huntvault.schema import parse_datetime

#: type names as written in KQL (legacy and .NET spellings included) -> the engine's type
TYPE_NAMES: dict[str, str] = {
    "string": "string",
    "long": "long",
    "int": "int",
    "int32": "int",
    "int64": "long",
    "real": "real",
    "double": "real",
    "float": "real",
    "bool": "bool",
    "boolean": "bool",
    "datetime": "datetime",
    "date": "datetime",
    "timespan": "timespan",
    "time": "timespan",
    "dynamic": "dynamic",
    "guid": "guid",
    "uniqueid": "guid",
    "uuid": "guid",
    "decimal": "decimal",
}

_TS_CLOCK = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$", re.ASCII)
_TS_UNIT = re.compile(r"(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)", re.ASCII)
_DATETIME_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m-%d-%Y %H:%M:%S",
    "%m-%d-%Y %H:%M",
    "%m-%d-%Y",  # `datetime('12-02-2022')` is 2 December (the todatetime and array_iff pages)
    "%d %b %Y %H:%M:%S",
    "%a, %d %b %Y %H:%M:%S GMT",
)


def parse_timespan_text(raw: str) -> float:
    """`1d`, `1.5h`, `10`, `1.02:03:04.5`, `02:03` -> microseconds (KqlSyntaxError without a position)."""
    text = raw.strip()
    m = _TS_CLOCK.match(text)
    if m:
        sign, days, hours, minutes, seconds, frac = m.groups()
        whole = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60_000_000 + int(
            seconds or 0
        ) * 1_000_000
        micros = whole + int((frac or "0").ljust(7, "0")) / 10
        if micros >= 2.0**63:
            raise KqlSyntaxError(f"timespan literal {raw!r} is out of range")
        return -micros if sign else float(micros)
    m2 = _TS_UNIT.fullmatch(text)
    if m2:
        unit = m2.group(2).lower() or "d"
        if unit in TIMESPAN_UNITS:
            value = float(m2.group(1)) * TIMESPAN_UNITS[unit]
            if not abs(value) < 2.0**63:
                raise KqlSyntaxError(f"timespan literal {raw!r} is out of range")
            return value
    raise KqlSyntaxError(f"invalid timespan literal {raw!r}")


#: `2017-5-12`, `2017 - 08 - 01 10:00`, `2025, 6, 14[, 10, 30[, 15]]` (Kusto accepts these loose forms)
_LOOSE_DATE = re.compile(
    r"^(\d{4})\s*[-,/]\s*(\d{1,2})\s*[-,/]\s*(\d{1,2})"
    r"(?:(?:\s*[T ,]\s*)(\d{1,2})\s*[:,]\s*(\d{1,2})(?:\s*[:,]\s*(\d{1,2})(?:\.(\d{1,7}))?)?)?\s*Z?$",
    re.ASCII,
)


def _loose_datetime(raw: str) -> datetime | None:
    m = _LOOSE_DATE.match(raw.strip())
    if not m:
        return None
    y, mo, d, h, mi, sec, frac = m.groups()
    try:
        return datetime(
            int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0),
            int((frac or "0").ljust(7, "0")[:6]), tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        return None


#: RFC 822 / RFC 850 texts: `Sat, 8 Nov 14 15:05:02 GMT`, `Saturday, 08-Nov-14 15:05 GMT`, `8 Nov 2014 15:05`
_RFC_DATE = re.compile(
    r"^(?:[A-Za-z]+,\s*)?(\d{1,2})[ -]([A-Za-z]{3})[ -](\d{2}|\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"(?:\s*(?:GMT|UTC|Z))?$",
    re.ASCII,
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
#: a trailing zone name on the ISO and sortable forms (`2014-11-08 15:05 GMT`): datetimes are UTC
_ZONE_SUFFIX = re.compile(r"\s+(?:GMT|UTC)$", re.ASCII)


def _rfc_datetime(raw: str) -> datetime | None:
    m = _RFC_DATE.match(raw.strip())
    if not m or m.group(2).lower() not in _MONTHS:
        return None
    d, mon, y, h, mi, sec = m.groups()
    year = int(y) + (2000 if len(y) == 2 and int(y) < 50 else 1900 if len(y) == 2 else 0)
    try:
        return datetime(
            year, _MONTHS.index(mon.lower()) + 1, int(d), int(h), int(mi), int(sec or 0), tzinfo=UTC
        )
    except ValueError:
        return None


def parse_datetime_text(raw: str) -> datetime:
    """A datetime literal's text (ISO 8601 and the common variants) as an aware UTC datetime."""
    try:
        return parse_datetime(raw)
    except (NormaliseError, ValueError, OverflowError):
        pass
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(raw.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    loose = _loose_datetime(raw) or _rfc_datetime(raw)
    if loose is not None:
        return loose
    bare = _ZONE_SUFFIX.sub("", raw.strip())
    if bare != raw.strip():
        return parse_datetime_text(bare)
    raise KqlSyntaxError(f"invalid datetime literal {raw!r}")
