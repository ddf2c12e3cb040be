"""The detection rule model: rules, schedules, entity mappings, grouping, suppression and durations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from huntvault.errors import DetectError

SEVERITIES: dict[str, str] = {
    "informational": "Informational",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
}

#: Entity kinds a rule can map, each with the Sentinel entity type and identifier it corresponds to.
ENTITY_KINDS: dict[str, tuple[str, str]] = {
    "device": ("Host", "HostName"),
    "user": ("Account", "Name"),
    "file_hash": ("FileHash", "Value"),
    "ip": ("IP", "Address"),
    "url": ("URL", "Url"),
    "file": ("File", "Name"),
    "process": ("Process", "CommandLine"),
}

#: Sentinel entityType (lower-cased) -> our entity kind.
SENTINEL_ENTITY_TYPES: dict[str, str] = {
    "host": "device",
    "account": "user",
    "filehash": "file_hash",
    "ip": "ip",
    "url": "url",
    "file": "file",
    "process": "process",
}

#: Grouping modes: one alert per result row, per distinct entity key, or one per window.
GROUPING_MODES: tuple[str, ...] = ("row", "entity", "window")

#: triggerOperator -> comparison of the result row count with triggerThreshold.
TRIGGER_OPERATORS: dict[str, str] = {
    "gt": ">",
    "greaterthan": ">",
    "lt": "<",
    "lessthan": "<",
    "eq": "==",
    "equal": "==",
    "ne": "!=",
    "notequal": "!=",
}

_COMPARE = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}

_UNITS: dict[str, float] = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SHORT = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", re.IGNORECASE)
_ISO = re.compile(
    r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.I
)


def parse_duration(text: object) -> timedelta:
    """`1h`, `30m`, `2h30m`, `1d`, `90s`, or ISO 8601 `PT1H` / `P1D` into a timedelta (DetectError if not)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        raise DetectError(f"duration {text!r} needs a unit (e.g. 1h, 30m, 1d)")
    raw = str(text).strip()
    if not raw:
        raise DetectError("empty duration")
    iso = _ISO.match(raw)
    if iso and raw.upper() not in ("P", "PT"):
        d, h, m, s = (float(g) if g else 0.0 for g in iso.groups())
        return timedelta(days=d, hours=h, minutes=m, seconds=s)
    pos = 0
    total = 0.0
    for mt in _SHORT.finditer(raw):
        if mt.start() != pos:
            break
        total += float(mt.group(1)) * _UNITS[mt.group(2).lower()]
        pos = mt.end()
    if pos != len(raw) or pos == 0:
        raise DetectError(f"not a duration: {raw!r} (use e.g. 1h, 30m, 2h30m, 1d or PT1H)")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """The shortest `1d`/`2h`/`30m`/`45s` spelling of `value`."""
    secs = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs and secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


@dataclass(frozen=True)
class Position:
    """Where something is in a rule file (1-based)."""

    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class EntityMapping:
    """One entity of a rule: its kind and the result columns that hold it (first non-empty wins)."""

    kind: str
    columns: tuple[str, ...]
    sentinel_type: str = ""  # the entityType as written in a Sentinel rule


@dataclass(frozen=True)
class Grouping:
    """How result rows become alerts: `row`, `entity` (by the listed entity kinds) or `window`."""

    mode: str = "row"
    by: tuple[str, ...] = ()  # entity kinds forming the group key (empty = every mapped entity)


@dataclass(frozen=True)
class Trigger:
    """Raise alerts only when `row count <operator> threshold` (Sentinel's triggerOperator/Threshold)."""

    operator: str = ">"
    threshold: int = 0

    def fires(self, rows: int) -> bool:
        return bool(_COMPARE[self.operator](rows, self.threshold))


@dataclass(frozen=True)
class Rule:
    """One detection rule, whichever YAML shape it was written in."""

    id: str
    name: str
    severity: str
    query: str
    every: timedelta
    lookback: timedelta
    description: str = ""
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    entities: tuple[EntityMapping, ...] = ()
    grouping: Grouping = field(default_factory=Grouping)
    suppress_for: timedelta = timedelta(0)  # no re-alert of the same group key for this long
    suppress_by_rule: bool = False  # Sentinel suppression: the whole rule is quiet after an alert
    trigger: Trigger = field(default_factory=Trigger)
    enabled: bool = True
    shape: str = "native"  # native | sentinel | sigma
    path: str = ""
    query_position: Position = field(default_factory=Position)
    query_block: bool = False  # the query is a `|`/`>` block scalar (KQL line n is file line start + n - 1)
    query_indent: int = 0
    false_positives: tuple[str, ...] = ()  # Sigma `falsepositives`
    references: tuple[str, ...] = ()  # Sigma `references`
    positions: dict[str, Position] = field(
        default_factory=dict, compare=False, hash=False
    )  # "entities.ip" -> where; Sigma rules also "field.<KQL column>" -> the detection key it came from
    sigma_fields: dict[str, str] = field(
        default_factory=dict, compare=False, hash=False
    )  # Sigma rules: KQL column -> the detection key it came from ("detection.selection.Image|endswith")

    def entity(self, kind: str) -> EntityMapping | None:
        return next((e for e in self.entities if e.kind == kind), None)

    def group_kinds(self) -> tuple[str, ...]:
        return self.grouping.by or tuple(e.kind for e in self.entities)

    def kql_to_file(self, line: int, column: int) -> Position:
        """A KQL (line, column) inside the query text -> the position in the rule file (for a Sigma rule, whose
        KQL is generated, the detection key of the column named there, else the `detection` key)."""
        if self.shape == "sigma":
            return self.positions.get(f"field.{kql_word_at(self.query, line, column)}", self.query_position)
        if not line or not self.query_position.line:
            return Position(self.query_position.line, self.query_position.column)
        if self.query_block:
            return Position(self.query_position.line + line - 1, self.query_indent + column)
        if line == 1:
            return Position(self.query_position.line, self.query_position.column + column - 1)
        return Position(self.query_position.line + line - 1, column)


def rule_summary(rule: Rule) -> dict[str, Any]:
    """A rule as huntvault reads it, as JSON-ready data (`detect convert --json`, the rules API)."""
    return {
        "id": rule.id,
        "name": rule.name,
        "shape": rule.shape,
        "path": rule.path,
        "severity": rule.severity,
        "description": rule.description,
        "tactics": list(rule.tactics),
        "techniques": list(rule.techniques),
        "every": format_duration(rule.every),
        "lookback": format_duration(rule.lookback),
        "enabled": rule.enabled,
        "entities": {e.kind: list(e.columns) for e in rule.entities},
        "grouping": {"per": rule.grouping.mode, "by": list(rule.group_kinds())},
        "suppression": format_duration(rule.suppress_for) if rule.suppress_for else None,
        "trigger": {"operator": rule.trigger.operator, "threshold": rule.trigger.threshold},
        "false_positives": list(rule.false_positives),
        "references": list(rule.references),
        "query": rule.query,
    }


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def kql_word_at(query: str, line: int, column: int) -> str:
    """The identifier at (or right after) a 1-based KQL position ("" when there is none)."""
    lines = query.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    m = _WORD.search(lines[line - 1], max(column - 1, 0))
    return m.group(0) if m else ""


__all__ = [
    "ENTITY_KINDS",
    "GROUPING_MODES",
    "SENTINEL_ENTITY_TYPES",
    "SEVERITIES",
    "TRIGGER_OPERATORS",
    "EntityMapping",
    "Grouping",
    "Position",
    "Rule",
    "Trigger",
    "format_duration",
    "kql_word_at",
    "parse_duration",
    "rule_summary",
]
