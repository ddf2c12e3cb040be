"""Rendering hunt results: JSON-ready rows (datetimes ISO 8601 with Z, dynamic as JSON) and table/csv/json/jsonl text."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huntvault.kql import HuntResult


def timespan_text(value: timedelta) -> str:
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    days, rest = divmod(micros, 86_400_000_000)
    hours, rest = divmod(rest, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, frac = divmod(rest, 1_000_000)
    out = f"{sign}{str(days) + '.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return out + (f".{frac:06d}0" if frac else "")


def json_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "dynamic" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
        return text + "Z"
    if isinstance(value, timedelta):
        return timespan_text(value)
    if isinstance(value, float) and value != value:
        return "NaN"
    return value


def json_rows(result: HuntResult) -> list[dict[str, Any]]:
    kinds = result.kql_types
    names = result.table.column_names
    out = []
    for row in result.table.to_pylist():
        out.append({n: json_value(row[n], kinds.get(n, "string")) for n in names})
    return out


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(result: HuntResult, fmt: str) -> str:
    rows = json_rows(result)
    names = result.table.column_names
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if fmt == "json":
        return (
            json.dumps(
                {
                    "columns": [{"name": n, "type": t} for n, t in result.columns],
                    "rows": rows,
                    "chart": result.chart,
                    "truncated": result.truncated,
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(names)
        for r in rows:
            w.writerow([cell_text(r[n]) for n in names])
        return buf.getvalue()
    widths = {n: len(n) for n in names}
    texts = [[cell_text(r[n]) for n in names] for r in rows]
    for t in texts:
        for n, cell in zip(names, t, strict=True):
            widths[n] = min(max(widths[n], len(cell)), 60)
    line = "  ".join(n.ljust(widths[n]) for n in names)
    out = [line, "  ".join("-" * widths[n] for n in names)]
    for t in texts:
        out.append("  ".join(cell[: widths[n]].ljust(widths[n]) for n, cell in zip(names, t, strict=True)))
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''}{', truncated' if result.truncated else ''})")
    return "\n".join(out) + "\n"
