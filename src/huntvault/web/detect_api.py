"""The detection API: the rules of `[detect].rules_dir` (and the files that do not load), and backtests of one rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from huntvault.detect import (
    MODES,
    ArchiveRunner,
    backtest,
    load_rules,
    parse_when,
    rule_summary,
    sigma_defaults,
)
from huntvault.errors import DetectError
from huntvault.kql import HuntLimits
from huntvault.web.app import require

router = APIRouter()

#: alerts listed in a backtest answer (the counts, days and entities always cover them all)
MAX_ALERTS = 500


class _Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class BacktestBody(BaseModel):
    rule: str = Field(min_length=1, max_length=300)
    start: str = Field(min_length=1, max_length=40, alias="from")
    end: str = Field(min_length=1, max_length=40, alias="to")
    mode: str = Field(default="auto", pattern="^(" + "|".join(MODES) + ")$")


@router.get("/api/detect/rules")
def rules(request: Request) -> Response:
    """Every rule of the rules folder as huntvault reads it, and each file that does not load (with its field)."""
    require(request)
    cfg = request.app.state.config
    loaded, errors = load_rules(cfg.detect.rules_dir, sigma_defaults(cfg))
    out = [rule_summary(r) for r in loaded]
    problems = [
        {"path": e.path, "line": e.line, "column": e.column, "field": e.field, "message": e.message}
        for e in errors
    ]
    return _Json({"rules_dir": cfg.detect.rules_dir, "rules": out, "problems": problems})


@router.post("/api/detect/backtest")
def run_backtest(request: Request, body: BacktestBody) -> Response:
    """Backtest one rule (by id in the rules folder) over [from, to]: the report with alerts per day, top
    entities, busiest windows, the estimate per day, and which path ran."""
    require(request)
    cfg = request.app.state.config
    archive: Path = request.app.state.archive_dir
    loaded, _ = load_rules(
        cfg.detect.rules_dir, sigma_defaults(cfg)
    )  # by id only: never a path on the server
    rule = next((r for r in loaded if r.id == body.rule), None)
    if rule is None:
        raise DetectError(f"rule: no rule with id {body.rule!r} in {cfg.detect.rules_dir}")
    runner = ArchiveRunner(archive, cfg.hunt.engine, HuntLimits.from_config(cfg.hunt))
    report = backtest(
        rule, runner, parse_when(body.start), parse_when(body.end, end_of_day=True), mode=body.mode
    )
    data = report.to_dict()
    data["alert_list"] = data["alert_list"][:MAX_ALERTS]
    return _Json(data)
