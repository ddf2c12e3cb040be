"""What the hunting editor knows: the tables a hunt can read (columns with KQL types, time column, rows) and the
engine's words (operators, functions, aggregates), both read from the engine so autocomplete never drifts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from huntvault import schema
from huntvault.archive import TableStatus
from huntvault.archive import status as archive_status
from huntvault.errors import HuntvaultError
from huntvault.kql import HuntLimits, shared_backend, vocabulary
from huntvault.web.deps import AppContext, get_caller, get_context
from huntvault.web.policy import Access, access
from huntvault.web.responses import JsonResponse

router = APIRouter()

#: the engine whose catalog lists the tables (the same archive views every engine reads)
CATALOG_ENGINE = "duckdb"


@dataclass(frozen=True)
class TableInfo:
    """One table a hunt can read: its columns (name, KQL type), the column a time range filters, its rows."""

    name: str
    columns: list[tuple[str, str]]
    time_column: str | None
    rows: int
    oldest: str | None
    newest: str | None


def _time_column(name: str, columns: list[tuple[str, str]]) -> str | None:
    table = schema.get_table(name)
    if table is not None:
        return table.time_column
    return "Timestamp" if ("Timestamp", "datetime") in columns else None


def _archived(archive: Path) -> dict[str, TableStatus]:
    if not archive.exists():
        return {}
    try:
        return {t.table: t for t in archive_status(archive).tables}
    except HuntvaultError:
        return {}


def catalog(ctx: AppContext) -> list[TableInfo]:
    """Every table of the hunt catalog with its columns, time column and the archive's row count and range."""
    backend = shared_backend(ctx.archive_dir, CATALOG_ENGINE, HuntLimits.from_config(ctx.config.hunt))
    archived = _archived(ctx.archive_dir)
    out: list[TableInfo] = []
    for name in backend.table_names():
        columns = [(str(c), str(t)) for c, t in backend.columns(name) or []]
        facts = archived.get(name)
        out.append(
            TableInfo(
                name=name,
                columns=columns,
                time_column=_time_column(name, columns),
                rows=facts.rows if facts else 0,
                oldest=facts.min_timestamp if facts else None,
                newest=facts.max_timestamp if facts else None,
            )
        )
    return out


class Language(BaseModel):
    operators: list[str]
    sources: list[str]
    functions: list[str]
    aggregates: list[str]
    plugins: list[str]
    word_operators: list[str]
    offline: list[str]


@router.get("/api/hunt/schema")
@access(Access.QUERY)
async def hunt_schema(request: Request) -> Response:
    """The tables a hunt can read: columns with KQL types, the time column a time range filters, rows and
    the oldest/newest event (empty tables too, so the editor knows every name the engine accepts)."""
    ctx = get_context(request)
    tables = await ctx.hunts.run(get_caller(request).key_id, lambda: catalog(ctx))
    return JsonResponse(
        {"tables": [{**asdict(t), "columns": [{"name": c, "type": k} for c, k in t.columns]} for t in tables]}
    )


@router.get("/api/hunt/language")
@access(Access.QUERY)
def hunt_language() -> Language:
    """The engine's words by role: tabular operators, sources, scalar functions, aggregates, plugins, word
    operators, and the Defender built-ins that need Microsoft's back end."""
    v = vocabulary()
    return Language(**{k: list(words) for k, words in asdict(v).items()})
