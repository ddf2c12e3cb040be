"""Plain-text rendering of search responses for `huntvault search`."""

from __future__ import annotations

from typing import Any

import orjson

SKIP_KEYS = ("@search.score", "@search.highlights")


def _flatten(doc: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if key in SKIP_KEYS:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, path + "/")
        else:
            out.append((path, value))
    return out


def render_results(results: dict[str, dict[str, Any]]) -> str:
    """One block per index: the count line, then one line per hit with score and field=value pairs."""
    lines: list[str] = []
    for name, res in results.items():
        hits = res.get("value", [])
        head = f"== {name}: {len(hits)} hit(s)"
        if "@odata.count" in res:
            head += f" of {res['@odata.count']}"
        if "@search.nextPageParameters" in res:
            head += " (more: add $skip)"
        lines.append(head)
        for facet, buckets in res.get("@search.facets", {}).items():
            shown = ", ".join(
                f"{b.get('value', str(b.get('from', '')) + '..' + str(b.get('to', '')))}={b['count']}"
                for b in buckets
            )
            lines.append(f"   facet {facet}: {shown}")
        for hit in hits:
            pairs = " ".join(
                f"{k}={orjson.dumps(v).decode() if not isinstance(v, str) else v}"
                for k, v in _flatten(hit)
                if v not in ("", None)
            )
            lines.append(f"  [{hit.get('@search.score', 0):.3f}] {pairs}")
            for field, frags in (hit.get("@search.highlights") or {}).items():
                lines.append(f"      {field}: {' … '.join(frags)}")
    return "\n".join(lines)
