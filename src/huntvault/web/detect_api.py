"""The detection API: the rules of `[detect].rules_dir` (and the files that do not load), each rule's last run in
the live scheduler, and backtests of one rule."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from huntvault.detect import (
    MODES,
    ArchiveRunner,
    backtest,
    detect_status,
    load_rules,
    parse_when,
    rule_summary,
    sigma_defaults,
)
from huntvault.errors import DetectError
from huntvault.kql import HuntLimits
from huntvault.web.deps import AppContext, ConfigDep, get_caller, get_context
from huntvault.web.policy import Access, access
from huntvault.web.responses import JsonResponse, dumps_bounded

router = APIRouter()

#: alerts listed in a backtest answer (the counts, days and entities always cover them all)
MAX_ALERTS = 500


class BacktestBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    rule: str = Field(min_length=1, max_length=300)
    start: str = Field(min_length=1, max_length=40, alias="from")
    end: str = Field(min_length=1, max_length=40, alias="to")
    mode: str = Field(default="auto", pattern="^(" + "|".join(MODES) + ")$")


@router.get("/api/detect/rules")
@access(Access.QUERY)
def rules(config: ConfigDep) -> Response:
    """Every rule of the rules folder as huntvault reads it, and each file that does not load (with its field)."""
    loaded, errors = load_rules(config.detect.rules_dir, sigma_defaults(config))
    problems = [
        {"path": e.path, "line": e.line, "column": e.column, "field": e.field, "message": e.message}
        for e in errors
    ]
    return JsonResponse(
        {
            "rules_dir": config.detect.rules_dir,
            "rules": [rule_summary(r) for r in loaded],
            "problems": problems,
        }
    )


#: the file the scheduler keeps its state in (`[detect].state_dir`); the server never creates it
STATE_FILE = "detect.sqlite"


@router.get("/api/detect/status")
@access(Access.QUERY)
def status(config: ConfigDep) -> Response:
    """Each rule's progress in the live scheduler (last window run, windows, alerts raised, undelivered) and
    the ingestion watermark; `"state": false` until `huntvault detect` has run once (nothing is created)."""
    if not (Path(config.detect.state_dir) / STATE_FILE).is_file():
        return JsonResponse({"state": False, "watermark": None, "rules": {}, "rule_errors": []})
    return JsonResponse({"state": True, **detect_status(config).to_json()})


def _backtest(ctx: AppContext, body: BacktestBody) -> bytes:
    """The backtest itself, on a hunt worker (it runs the engine like a hunt)."""
    cfg = ctx.config
    loaded, _ = load_rules(
        cfg.detect.rules_dir, sigma_defaults(cfg)
    )  # by id only: never a path on the server
    rule = next((r for r in loaded if r.id == body.rule), None)
    if rule is None:
        raise DetectError(f"rule: no rule with id {body.rule!r} in {cfg.detect.rules_dir}")
    start, end = parse_when(body.start), parse_when(body.end, end_of_day=True)
    runner = ArchiveRunner(ctx.archive_dir, cfg.hunt.engine, HuntLimits.from_config(cfg.hunt))
    report = backtest(rule, runner, start, end, mode=body.mode)
    report.alert_list = report.alert_list[:MAX_ALERTS]
    return dumps_bounded(report.to_json(), cfg.server.max_response_bytes, "backtest")


@router.post("/api/detect/backtest")
@access(Access.QUERY)
async def run_backtest(request: Request, body: BacktestBody) -> Response:
    """Backtest one rule (by id in the rules folder) over [from, to]: the report with alerts per day, top
    entities, busiest windows, the estimate per day, and which path ran (runs in the hunt lane)."""
    ctx = get_context(request)
    result = await ctx.hunts.run(get_caller(request).key_id, lambda: _backtest(ctx, body))
    return JsonResponse(result)
