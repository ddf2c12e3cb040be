"""Scheduled KQL detection rules over the archive: rule files, validation, scheduler, alerts and backtesting."""

from __future__ import annotations

from huntvault.detect.alerts import Alert, Decision, Hit, decide, hits_of
from huntvault.detect.backtesting import (
    MODES,
    AlertSummary,
    BacktestReport,
    FolderReport,
    WindowCount,
    backtest,
    backtest_all,
    parse_when,
)
from huntvault.detect.check import CheckReport, Problem, check_rule, check_rules
from huntvault.detect.engine import ArchiveRunner, QueryRunner, result_columns, tables_read, window_query
from huntvault.detect.loader import blocking, find_rule, load_rule, load_rule_text, load_rules, rule_files
from huntvault.detect.model import (
    EntityMapping,
    Grouping,
    Rule,
    Trigger,
    format_duration,
    parse_duration,
    rule_summary,
)
from huntvault.detect.report import render, render_folder, sparkline
from huntvault.detect.runner import DetectStatus, RuleStatus, detect_status, open_scheduler, sigma_defaults
from huntvault.detect.scheduler import CRASH_POINTS, CycleReport, Scheduler, WindowResult, align_down
from huntvault.detect.sigma import SigmaDefaults
from huntvault.detect.state import DetectState
from huntvault.detect.store import (
    ALERTS_TABLE,
    EVIDENCE_TABLE,
    AlertStore,
    ArchiveAlertStore,
    MemoryAlertStore,
    SinkDelivery,
)
from huntvault.detect.watermark import archive_watermark, fixed_watermark

__all__ = [
    "ALERTS_TABLE",
    "CRASH_POINTS",
    "EVIDENCE_TABLE",
    "MODES",
    "Alert",
    "AlertStore",
    "AlertSummary",
    "ArchiveAlertStore",
    "ArchiveRunner",
    "BacktestReport",
    "CheckReport",
    "CycleReport",
    "Decision",
    "DetectState",
    "DetectStatus",
    "EntityMapping",
    "FolderReport",
    "Grouping",
    "Hit",
    "MemoryAlertStore",
    "Problem",
    "QueryRunner",
    "Rule",
    "RuleStatus",
    "Scheduler",
    "SigmaDefaults",
    "SinkDelivery",
    "Trigger",
    "WindowCount",
    "WindowResult",
    "align_down",
    "archive_watermark",
    "backtest",
    "backtest_all",
    "blocking",
    "check_rule",
    "check_rules",
    "decide",
    "detect_status",
    "find_rule",
    "fixed_watermark",
    "format_duration",
    "hits_of",
    "load_rule",
    "load_rule_text",
    "load_rules",
    "open_scheduler",
    "parse_duration",
    "parse_when",
    "render",
    "render_folder",
    "result_columns",
    "rule_files",
    "rule_summary",
    "sigma_defaults",
    "sparkline",
    "tables_read",
    "window_query",
]
