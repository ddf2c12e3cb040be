"""externaldata: local files under [hunt].externaldata_dirs (CSV, TSV, text lines); URLs fail by name offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.values import alias, col, convert, literal

if TYPE_CHECKING:
    from huntvault.kql.plan import Planner, Rel


def externaldata(p: Planner, node: A.Externaldata, env: dict[str, Any]) -> Rel:
    from huntvault.kql.plan import Rel
    from huntvault.kql.scalar import Scope

    scope = Scope({}, env, p)
    fmt = "csv"
    if "format" in node.options:
        f = p.compile(node.options["format"], scope)
        fmt = str(f.const).lower() if f.is_const else "csv"
    skip_header = False
    if "ignorefirstrecord" in node.options:
        v = p.compile(node.options["ignorefirstrecord"], scope)
        skip_header = bool(v.const)
    rows: list[list[str]] = []
    for u in node.uris:
        uri = p.compile(u, scope)
        text = str(uri.const)
        if "://" in text and not text.startswith("file://"):
            raise p.error_unsupported(
                f"externaldata from a URL ({text[:80]}) is not available offline; "
                "download the file and use its local path",
                u,
            )
        path = Path(text[7:] if text.startswith("file://") else text)
        limits = getattr(p.catalog, "limits", None)
        # One message whether the file exists or not: the error must not be a file-existence oracle.
        if limits is None or not path.is_absolute() or not limits.allows(path) or not path.is_file():
            raise p.error_unsupported(
                "externaldata reads local files only under the folders listed in "
                "[hunt].externaldata_dirs (none by default), by absolute path",
                u,
            )
        import csv

        lines = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
        if skip_header and lines:
            lines = lines[1:]
        if fmt in ("txt", "raw"):
            rows += [[ln] for ln in lines]
        else:
            delim = "\t" if fmt in ("tsv", "tsve") else ("|" if fmt == "psv" else ",")
            rows += list(csv.reader(lines, delimiter=delim))
    cols = [(c.name, c.type) for c in node.columns]
    selects: list[exp.Expression] = []
    for r in rows:
        cells = []
        for i, (n, t) in enumerate(cols):
            raw = literal(r[i] if i < len(r) else "", "string")
            cells.append(alias(convert(raw, t).sql if t != "string" else raw.sql, n))
        selects.append(exp.select(*cells))
    if not selects:
        from huntvault.kql.values import null_of

        return Rel(
            exp.select(*[alias(null_of(t).sql, n) for n, t in cols]).where(exp.false(), copy=False), cols
        )
    query: exp.Query = selects[0]  # type: ignore[assignment]
    for s in selects[1:]:
        query = exp.union(query, s, distinct=False)  # type: ignore[assignment]
    return Rel(exp.select(*[col(n) for n, _ in cols]).from_(query.subquery(p.fresh()), copy=False), cols)
