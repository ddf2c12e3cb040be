"""The hunt API: `POST /api/hunt` runs KQL over the archive; `GET /api/hunt/samples` lists the packaged sample hunts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from huntvault.errors import KqlError
from huntvault.kql import HuntLimits, execute, shared_backend
from huntvault.web.app import require

router = APIRouter()

SAMPLES_DIR = Path(__file__).parent / "static" / "samples"
#: rows sent to the browser unless the request asks for fewer (never more than [hunt].row_cap)
DEFAULT_MAX_ROWS = 10_000


class HuntBody(BaseModel):
    query: str = Field(min_length=1)
    max_rows: int = Field(default=DEFAULT_MAX_ROWS, ge=1)


class _Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def kql_error_response(exc: KqlError) -> Response:
    """Azure's error shape plus where the culprit is (`line`/`column`, 1-based; 0 when unknown)."""
    return _Json(
        {
            "error": {
                "code": type(exc).__name__,
                "message": exc.message,
                "line": exc.line,
                "column": exc.column,
                "details": [],
            }
        },
        status_code=400,
    )


@router.post("/api/hunt")
def hunt(request: Request, body: HuntBody) -> Response:
    """Run a KQL query: columns with KQL types, rows (arrays), the `render` chart hint, timings, the SQL."""
    require(request)
    cfg = request.app.state.config
    archive: Path = request.app.state.archive_dir
    cap = min(body.max_rows, cfg.hunt.row_cap) if cfg.hunt.row_cap else body.max_rows
    started = time.perf_counter()
    try:
        result = execute(
            body.query,
            archive,
            engine=cfg.hunt.engine,
            row_cap=cap,
            timeout=cfg.hunt.timeout_seconds or None,
            backend=shared_backend(archive, cfg.hunt.engine, HuntLimits.from_config(cfg.hunt)),
        )
        rows = result.rows()
    except KqlError as exc:
        return kql_error_response(exc)
    total = time.perf_counter() - started
    names = result.table.column_names
    return _Json(
        {
            "columns": [{"name": n, "type": t} for n, t in result.columns],
            "rows": [[r[n] for n in names] for r in rows],
            "row_count": len(rows),
            "truncated": result.truncated,
            "chart": result.chart,
            "timing": {
                "compile_ms": round(result.timings.get("compile_s", 0.0) * 1000, 1),
                "execute_ms": round(result.timings.get("execute_s", 0.0) * 1000, 1),
                "total_ms": round(total * 1000, 1),
            },
            "engine": cfg.hunt.engine,
            "sql": result.sql,
        }
    )


def load_samples(folder: Path = SAMPLES_DIR) -> list[dict[str, str]]:
    """`*.kql` files: the first line is `// Title`, following `// ` lines the description, then the query."""
    out: list[dict[str, str]] = []
    for path in sorted(folder.glob("*.kql")):
        lines = path.read_text(encoding="utf-8").splitlines()
        title = lines[0].removeprefix("//").strip() if lines and lines[0].startswith("//") else path.stem
        rest = lines[1:] if lines and lines[0].startswith("//") else lines
        desc: list[str] = []
        while rest and rest[0].startswith("//"):
            desc.append(rest.pop(0).removeprefix("//").strip())
        out.append(
            {
                "name": path.stem,
                "title": title,
                "description": " ".join(desc),
                "query": "\n".join(rest).strip() + "\n",
            }
        )
    return out


@router.get("/api/hunt/samples")
def samples(request: Request) -> Response:
    require(request)
    return _Json({"value": load_samples()})
