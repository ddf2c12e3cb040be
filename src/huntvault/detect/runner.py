"""Wiring from configuration: the live scheduler (real engine, archive store, ingestion watermark) and its status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from huntvault.config import Config
from huntvault.detect.backtest import parse_when
from huntvault.detect.engine import ArchiveRunner
from huntvault.detect.loader import load_rules
from huntvault.detect.model import Rule, parse_duration
from huntvault.detect.scheduler import Scheduler
from huntvault.detect.state import DetectState
from huntvault.detect.store import ArchiveAlertStore
from huntvault.detect.watermark import archive_watermark
from huntvault.errors import ConfigError, DetectError
from huntvault.kql import HuntLimits


def _delay(cfg: Config) -> Any:
    try:
        return parse_duration(cfg.detect.ingest_delay)
    except DetectError as exc:
        raise ConfigError("detect.ingest_delay", str(exc)) from None


def open_scheduler(cfg: Config, rules_dir: str | None = None) -> Scheduler:
    """The scheduler for `cfg` over the rules of `rules_dir` (default `detect.rules_dir`); errors in rule files
    stop it (run `detect check` to see them all)."""
    folder = rules_dir or cfg.detect.rules_dir

    def load() -> list[Rule]:
        rules, errors = load_rules(folder)
        if errors:
            raise errors[0]
        return rules

    rules = load()
    if not Path(cfg.archive.path).is_dir():
        raise DetectError(f"archive folder {cfg.archive.path} does not exist (ingest something first)")
    start = None
    if cfg.detect.start_from:
        try:
            start = parse_when(cfg.detect.start_from)
        except DetectError:
            raise ConfigError("detect.start_from", "must be an ISO 8601 date or date-time") from None
    delay = _delay(cfg)
    sources = list(cfg.detect.watermark_sources) or None
    archive = cfg.archive.path
    state = DetectState(cfg.detect.state_dir)
    store = ArchiveAlertStore(archive, cfg.detect.state_dir, cfg.detect.sinks, cfg.archive.compression)
    return Scheduler(
        rules,
        state,
        ArchiveRunner(archive, cfg.hunt.engine, HuntLimits.from_config(cfg.hunt)),
        store,
        watermark=lambda: archive_watermark(archive, sources, delay),
        clock=lambda: datetime.now(UTC),
        start=start,
        max_windows=cfg.detect.max_windows_per_cycle,
        reload=load,
    )


def detect_status(cfg: Config, rules_dir: str | None = None) -> dict[str, Any]:
    """Per rule: last completed window, windows run, alerts raised, undelivered windows; plus the watermark."""
    rules, errors = load_rules(rules_dir or cfg.detect.rules_dir)
    state = DetectState(cfg.detect.state_dir)
    try:
        mark = archive_watermark(cfg.archive.path, list(cfg.detect.watermark_sources) or None, _delay(cfg))
        out: dict[str, Any] = {
            "watermark": mark.isoformat() if mark else None,
            "rules": {},
            "rule_errors": [str(e) for e in errors],
        }
        for rule in rules:
            last = state.last_end(rule.id)
            out["rules"][rule.id] = {
                "enabled": rule.enabled,
                "every": str(rule.every),
                "lookback": str(rule.lookback),
                "last_window_end": last.isoformat() if last else None,
                "windows": len(state.windows(rule.id)),
                "alerts": state.raised_count(rule.id),
                "undelivered_windows": len(state.pending(rule.id)),
            }
        return out
    finally:
        state.close()


__all__ = ["detect_status", "open_scheduler"]
