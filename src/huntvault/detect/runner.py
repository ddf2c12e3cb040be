"""Wiring from configuration: the live scheduler (real engine, archive store, ingestion watermark) and its status."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from huntvault.config import Config
from huntvault.detect.backtesting import parse_when
from huntvault.detect.engine import ArchiveRunner
from huntvault.detect.loader import blocking, load_rules
from huntvault.detect.model import Rule, format_duration, parse_duration
from huntvault.detect.scheduler import CycleReport, Scheduler
from huntvault.detect.sigma import SigmaDefaults
from huntvault.detect.state import DetectState
from huntvault.detect.store import ArchiveAlertStore
from huntvault.detect.watermark import archive_watermark
from huntvault.errors import ConfigError, DetectError
from huntvault.kql import HuntLimits

log = logging.getLogger("huntvault.detect")


def _setting(cfg: Config, key: str) -> timedelta:
    """A `[detect]` duration setting, or ConfigError naming it."""
    try:
        return parse_duration(getattr(cfg.detect, key))
    except DetectError as exc:
        raise ConfigError(f"detect.{key}", str(exc)) from None


def sigma_defaults(cfg: Config) -> SigmaDefaults:
    """The schedule of Sigma rules that set none (`[detect] sigma_every`, `sigma_lookback`)."""
    every, lookback = _setting(cfg, "sigma_every"), _setting(cfg, "sigma_lookback")
    for key, value in (("sigma_every", every), ("sigma_lookback", lookback)):
        if value <= timedelta(0):
            raise ConfigError(f"detect.{key}", "must be positive")
    return SigmaDefaults(every, lookback)


def open_scheduler(
    cfg: Config,
    rules_dir: str | None = None,
    on_cycle: Callable[[CycleReport], None] | None = None,
) -> Scheduler:
    """The scheduler for `cfg` over the rules of `rules_dir` (default `detect.rules_dir`). Errors in rule files stop
    it (run `detect check` to see them all), except Sigma rules the backend cannot convert: those are skipped."""
    folder = rules_dir or cfg.detect.rules_dir
    defaults = sigma_defaults(cfg)

    def load() -> list[Rule]:
        rules, errors = load_rules(folder, defaults)
        stopping = blocking(errors)
        if stopping:
            raise stopping[0]
        return rules

    rules, errors = load_rules(folder, defaults)
    if blocking(errors):
        raise blocking(errors)[0]
    if errors:
        log.warning(
            "%d Sigma rules cannot be converted and are skipped (`huntvault detect check` names them)",
            len(errors),
        )
    if (
        "://" not in cfg.archive.path and not Path(cfg.archive.path).is_dir()
    ):  # an object store is asked directly
        raise DetectError(f"archive folder {cfg.archive.path} does not exist (ingest something first)")
    start = None
    if cfg.detect.start_from:
        try:
            start = parse_when(cfg.detect.start_from)
        except DetectError:
            raise ConfigError("detect.start_from", "must be an ISO 8601 date or date-time") from None
    delay = _setting(cfg, "ingest_delay")
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
        poll_seconds=cfg.detect.poll_seconds,
        on_cycle=on_cycle,
    )


@dataclass(frozen=True)
class RuleStatus:
    """One rule's progress in the live scheduler's state."""

    enabled: bool
    every: str
    lookback: str
    last_window_end: datetime | None
    windows: int
    alerts: int
    undelivered_windows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "every": self.every,
            "lookback": self.lookback,
            "last_window_end": self.last_window_end.isoformat() if self.last_window_end else None,
            "windows": self.windows,
            "alerts": self.alerts,
            "undelivered_windows": self.undelivered_windows,
        }


@dataclass(frozen=True)
class DetectStatus:
    """`detect status`: the ingestion watermark, each rule's progress, and the rule files that do not load."""

    watermark: datetime | None
    rules: dict[str, RuleStatus] = field(default_factory=dict)
    rule_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "rules": {rid: r.to_json() for rid, r in self.rules.items()},
            "rule_errors": list(self.rule_errors),
        }


def detect_status(cfg: Config, rules_dir: str | None = None) -> DetectStatus:
    """Per rule: last completed window, windows run, alerts raised, undelivered windows; plus the watermark."""
    rules, errors = load_rules(rules_dir or cfg.detect.rules_dir, sigma_defaults(cfg))
    state = DetectState(cfg.detect.state_dir)
    try:
        mark = archive_watermark(
            cfg.archive.path, list(cfg.detect.watermark_sources) or None, _setting(cfg, "ingest_delay")
        )
        return DetectStatus(
            mark,
            {
                rule.id: RuleStatus(
                    rule.enabled,
                    format_duration(rule.every),
                    format_duration(rule.lookback),
                    state.last_end(rule.id),
                    len(state.windows(rule.id)),
                    state.raised_count(rule.id),
                    len(state.pending(rule.id)),
                )
                for rule in rules
            },
            [str(e) for e in errors],
        )
    finally:
        state.close()


__all__ = ["DetectStatus", "RuleStatus", "detect_status", "open_scheduler", "sigma_defaults"]
