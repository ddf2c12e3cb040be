"""The hunt API: `POST /api/hunt` runs KQL over the archive (optionally held to a time range); samples."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive

from huntvault.errors import KqlError
from huntvault.kql import HuntLimits, execute, shared_backend
from huntvault.web.deps import AppContext, get_caller, get_context
from huntvault.web.policy import Access, access
from huntvault.web.responses import JsonResponse, dumps_bounded

router = APIRouter()
log = logging.getLogger("huntvault.web.hunt")

SAMPLES_DIR = Path(__file__).parent / "static" / "samples"
#: rows sent to the browser unless the request asks for fewer (never more than [hunt].row_cap)
DEFAULT_MAX_ROWS = 10_000


class HuntBody(BaseModel):
    """A hunt: the KQL, the rows wanted, and the time range ([from, to), ISO 8601) every table read is held to."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    query: str = Field(min_length=1)
    max_rows: int = Field(default=DEFAULT_MAX_ROWS, ge=1, le=2**31 - 1)
    start: str | None = Field(default=None, alias="from", max_length=64)
    end: str | None = Field(default=None, alias="to", max_length=64)

    def window(self) -> tuple[datetime, datetime] | None:
        """[from, to) as UTC datetimes (a time without an offset is UTC); None when neither is given."""
        if self.start is None and self.end is None:
            return None
        if self.start is None or self.end is None:
            raise KqlError(
                f"a time range needs both 'from' and 'to' ('{'from' if self.end is None else 'to'}' alone was given)"
            )
        start, end = _instant("from", self.start), _instant("to", self.end)
        if not start < end:
            raise KqlError(
                f"the time range must start before it ends: 'from' {self.start} is not before 'to' {self.end}"
            )
        return start, end


def _instant(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise KqlError(
            f"{name!r} is not an ISO 8601 date-time: {text!r} (e.g. 2026-07-22T10:00:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _unexpected(exc: Exception) -> KqlError:
    """Defence in depth: an engine failure that is not a KqlError still answers 400, never 5xx."""
    if isinstance(exc, RecursionError):
        return KqlError("the query is too deeply nested to compile; simplify it")
    return KqlError(f"the query could not be compiled or run ({type(exc).__name__}); simplify it")


def _run(ctx: AppContext, body: HuntBody, cancel: Any) -> bytes:
    """The hunt itself, on a hunt worker: compile, run (cancellable), and the JSON answer."""
    cfg = ctx.config
    cap = min(body.max_rows, cfg.hunt.row_cap) if cfg.hunt.row_cap else body.max_rows
    window = body.window()
    started = time.perf_counter()
    try:
        result = execute(
            body.query,
            ctx.archive_dir,
            engine=cfg.hunt.engine,
            row_cap=cap,
            timeout=cfg.hunt.timeout_seconds or None,
            backend=shared_backend(ctx.archive_dir, cfg.hunt.engine, HuntLimits.from_config(cfg.hunt)),
            cancel=cancel,
            window=window,
        )
        rows = result.rows()
    except KqlError:
        raise
    except Exception as exc:
        log.exception("hunt failed outside the KQL error tree")
        raise _unexpected(exc) from None
    total = time.perf_counter() - started
    names = result.table.column_names
    payload = {
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
        "window": None if window is None else {"from": _iso(window[0]), "to": _iso(window[1])},
    }
    if result.tables:  # fork / facet: every result table by name (the first is columns/rows above)
        payload["tables"] = [
            {
                "name": name,
                "columns": [{"name": n, "type": t} for n, t in part.columns],
                "rows": [[r[n] for n in part.table.column_names] for r in part.rows()],
                "row_count": part.table.num_rows,
                "truncated": part.truncated,
            }
            for name, part in result.tables
        ]
    return dumps_bounded(payload, cfg.server.max_response_bytes, "hunt")


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def _disconnected(receive: Receive) -> None:
    """Returns once the client has gone away (the body is already read, so only a disconnect can come)."""
    while (await receive())["type"] != "http.disconnect":
        pass


@router.post("/api/hunt")
@access(Access.QUERY)
async def hunt(request: Request, body: HuntBody) -> Response:
    """Run a KQL query: columns with KQL types, rows (arrays), the `render` chart hint, timings, the SQL.

    The hunt runs on a hunt worker; it is cancelled when the client disconnects or the server stops."""
    ctx = get_context(request)
    cancel = ctx.running_hunts.start()
    runner = asyncio.ensure_future(ctx.hunts.run(get_caller(request).key_id, lambda: _run(ctx, body, cancel)))
    gone = asyncio.ensure_future(_disconnected(request.receive))
    try:
        await asyncio.wait({runner, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not runner.done():
            cancel.set()  # DuckDB is interrupted; the worker's slot frees when it stops
            runner.cancel()
            log.warning("hunt cancelled: the client disconnected")
            return Response(status_code=499)
        return JsonResponse(runner.result())
    finally:
        gone.cancel()
        ctx.running_hunts.finish(cancel)


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
@access(Access.QUERY)
def samples() -> Response:
    return JsonResponse({"value": load_samples()})
