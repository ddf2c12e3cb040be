"""Scheduled KQL detection rules over the archive: rule files, validation, scheduler, alerts and backtesting."""

from __future__ import annotations

from huntvault.detect.alerts import Alert, Decision, Hit, decide, hits_of
from huntvault.detect.backtest import BacktestReport, backtest, parse_when
from huntvault.detect.check import CheckReport, Problem, check_rule, check_rules
from huntvault.detect.engine import ArchiveRunner, QueryRunner, result_columns, tables_read, window_query
from huntvault.detect.loader import find_rule, load_rule, load_rule_text, load_rules, rule_files
from huntvault.detect.model import EntityMapping, Grouping, Rule, Trigger, format_duration, parse_duration
from huntvault.detect.runner import detect_status, open_scheduler
from huntvault.detect.scheduler import CRASH_POINTS, CycleReport, Scheduler, WindowResult, align_down
from huntvault.detect.state import DetectState
from huntvault.detect.store import (
    ALERTS_TABLE,
    EVIDENCE_TABLE,
    AlertStore,
    ArchiveAlertStore,
    MemoryAlertStore,
)
from huntvault.detect.watermark import archive_watermark, fixed_watermark

__all__ = [
    "ALERTS_TABLE",
    "CRASH_POINTS",
    "EVIDENCE_TABLE",
    "Alert",
    "AlertStore",
    "ArchiveAlertStore",
    "ArchiveRunner",
    "BacktestReport",
    "CheckReport",
    "CycleReport",
    "Decision",
    "DetectState",
    "EntityMapping",
    "Grouping",
    "Hit",
    "MemoryAlertStore",
    "Problem",
    "QueryRunner",
    "Rule",
    "Scheduler",
    "Trigger",
    "WindowResult",
    "align_down",
    "archive_watermark",
    "backtest",
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
    "result_columns",
    "rule_files",
    "tables_read",
    "window_query",
]
