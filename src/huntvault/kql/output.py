"""Hunt results as text: table, csv, json and jsonl (`huntvault hunt --format`)."""

from __future__ import annotations

import csv
import io
import json

from huntvault.kql.result import HuntResult


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(result: HuntResult, fmt: str) -> str:
    """The result as text. fork / facet results: `table` prints every table under its name, `json` adds
    `tables` (name, columns, rows, truncated each); `csv` and `jsonl` carry the first table only."""
    if result.tables and fmt == "table":
        return "\n".join(f"[{name}]\n" + _one(part, fmt) for name, part in result.tables) + "\n"
    if result.tables and fmt == "json":
        body = json.loads(_one(result, fmt))
        body["tables"] = [
            {
                "name": name,
                "columns": [{"name": n, "type": t} for n, t in part.columns],
                "rows": part.rows(),
                "truncated": part.truncated,
            }
            for name, part in result.tables
        ]
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    return _one(result, fmt)


def _one(result: HuntResult, fmt: str) -> str:
    rows = result.rows()
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
