"""externaldata: local files under [hunt].externaldata_dirs (CSV, TSV, text lines); URLs fail by name offline."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlglot import exp

from huntvault.kql import ast as A
from huntvault.kql.ir import Env, Planner, Rel, Scope, Source, source
from huntvault.kql.lowering.tables import union_all
from huntvault.kql.values import alias, convert, literal, null_of

#: one message whether the file exists or not: the error must not be a file-existence oracle
REFUSED = (
    "externaldata reads local files only under the folders listed in [hunt].externaldata_dirs "
    "(none by default), by absolute path"
)


def _rows(p: Planner, node: A.Externaldata, env: Env) -> list[list[str]]:
    scope = Scope({}, env, p)
    fmt = "csv"
    if "format" in node.options:
        f = p.compile(node.options["format"], scope)
        fmt = str(f.const).lower() if f.is_const else "csv"
    skip_header = False
    if "ignorefirstrecord" in node.options:
        skip_header = bool(p.compile(node.options["ignorefirstrecord"], scope).const)
    rows: list[list[str]] = []
    for u in node.uris:
        uri = p.compile(u, scope)
        text = str(uri.const)
        if "://" in text and not text.startswith("file://"):
            raise p.unsupported(
                f"externaldata from a URL ({text[:80]}) is not available offline; "
                "download the file and use its local path",
                u,
            )
        path = Path(text[7:] if text.startswith("file://") else text)
        if not path.is_absolute() or not p.catalog.may_read(path) or not path.is_file():
            raise p.unsupported(REFUSED, u)
        lines = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
        if skip_header and lines:
            lines = lines[1:]
        if fmt in ("txt", "raw"):
            rows += [[ln] for ln in lines]
        else:
            delim = "\t" if fmt in ("tsv", "tsve") else ("|" if fmt == "psv" else ",")
            rows += list(csv.reader(lines, delimiter=delim))
    return rows


def lower_externaldata(p: Planner, node: A.Externaldata, env: Env) -> Rel:
    cols = [(c.name, c.type) for c in node.columns]
    selects: list[exp.Select] = []
    for r in _rows(p, node, env):
        cells = []
        for i, (n, t) in enumerate(cols):
            raw = literal(r[i] if i < len(r) else "", "string")
            cells.append(alias(convert(raw, t).sql if t != "string" else raw.sql, n))
        selects.append(exp.select(*cells))
    if not selects:
        return Rel(
            exp.select(*[alias(null_of(t).sql, n) for n, t in cols]).where(exp.false(), copy=False), cols
        )
    return union_all(p, selects, cols)


SOURCES: list[Source] = [source(A.Externaldata, lower_externaldata)]
