"""Rule files: YAML (native or Sentinel analytics-rule shape) into Rule objects, with file positions in every error."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from huntvault.detect.model import (
    ENTITY_KINDS,
    GROUPING_MODES,
    SENTINEL_ENTITY_TYPES,
    SEVERITIES,
    TRIGGER_OPERATORS,
    EntityMapping,
    Grouping,
    Position,
    Rule,
    Trigger,
    parse_duration,
)
from huntvault.errors import DetectError, RuleError

RULE_SUFFIXES = (".yaml", ".yml")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TECHNIQUE_RE = re.compile(r"^T\d{4}(\.\d{3})?$")

Path_ = tuple[Any, ...]


@dataclass
class Doc:
    """A parsed YAML document with the position of every mapping key and value."""

    data: Any
    path: str
    keys: dict[Path_, Position] = field(default_factory=dict)
    values: dict[Path_, Position] = field(default_factory=dict)
    styles: dict[Path_, str | None] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    rule_positions: dict[str, Position] = field(default_factory=dict)

    def at(self, where: Path_, key: bool = False) -> Position:
        """The position of the value (or key) at `where`, else of the nearest enclosing node."""
        table = self.keys if key else self.values
        probe = where
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.keys:
                return self.keys[probe]
            probe = probe[:-1]
        return Position(1, 1)

    def error(self, message: str, where: Path_, key: bool = False) -> RuleError:
        pos = self.at(where, key)
        return RuleError(message, self.path, pos.line, pos.column)


def doc_positions(doc: Doc) -> dict[str, Position]:
    return doc.rule_positions


def _pos(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(node: yaml.Node, where: Path_, doc: Doc, loader: yaml.SafeLoader) -> Any:
    doc.values[where] = _pos(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            key = str(knode.value)
            doc.keys[(*where, key)] = _pos(knode)
            if key in out:
                raise RuleError(f"duplicate key {key!r}", doc.path, *_astuple(_pos(knode)))
            out[key] = _walk(vnode, (*where, key), doc, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*where, i), doc, loader) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    doc.styles[where] = node.style
    return loader.construct_object(node, deep=True)


def _astuple(p: Position) -> tuple[int, int]:
    return p.line, p.column


def parse_yaml(text: str, path: str = "") -> Doc:
    """YAML text -> Doc (RuleError with the position on a YAML syntax error)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        raise RuleError(f"invalid YAML: {exc.problem or exc}", path, line, col) from None
    except yaml.YAMLError as exc:
        raise RuleError(f"invalid YAML: {exc}", path) from None
    doc = Doc(None, path, lines=text.splitlines())
    if node is None:
        raise RuleError("the file is empty", path, 1, 1)
    doc.data = _walk(node, (), doc, yaml.SafeLoader(""))
    if not isinstance(doc.data, dict):
        raise doc.error("a rule file must be a mapping (key: value)", ())
    return doc


# -------------------------------------------------------------------------------------------------
# field helpers


def _text(doc: Doc, where: Path_, required: bool = True, default: str = "") -> str:
    value = _get(doc, where)
    if value is None:
        if required:
            raise doc.error(f"missing required key {where[-1]!r}", where[:-1] or (where[-1],))
        return default
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise doc.error(f"{where[-1]} must be text", where)
    return str(value)


def _get(doc: Doc, where: Path_) -> Any:
    cur = doc.data
    for part in where:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            cur = cur[part]
        else:
            return None
    return cur


def _duration(doc: Doc, where: Path_) -> timedelta:
    try:
        value = parse_duration(_get(doc, where))
    except DetectError as exc:
        raise doc.error(f"{where[-1]}: {exc}", where) from None
    if value <= timedelta(0):
        raise doc.error(f"{where[-1]} must be positive", where)
    return value


def _str_list(doc: Doc, where: Path_) -> tuple[str, ...]:
    value = _get(doc, where)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise doc.error(f"{where[-1]} must be a list of names", where)
    return tuple(value)


def _severity(doc: Doc, where: Path_) -> str:
    raw = _text(doc, where)
    sev = SEVERITIES.get(raw.lower())
    if sev is None:
        raise doc.error(f"severity must be one of {', '.join(SEVERITIES.values())}, not {raw!r}", where)
    return sev


def _techniques(doc: Doc, where: Path_) -> tuple[str, ...]:
    out = _str_list(doc, where)
    for i, t in enumerate(out):
        if not _TECHNIQUE_RE.match(t):
            raise doc.error(f"{t!r} is not a MITRE technique id (T1234 or T1234.001)", (*where, i))
    return out


def _query(doc: Doc, where: Path_) -> tuple[str, Position, bool, int]:
    text = _text(doc, where)
    if not text.strip():
        raise doc.error("the query is empty", where)
    pos = doc.at(where)
    style = doc.styles.get(where)
    block = style in ("|", ">")
    indent = 0
    if block:
        for raw in doc.lines[pos.line :]:  # the lines after the `|` indicator
            if raw.strip():
                indent = len(raw) - len(raw.lstrip(" "))
                break
        pos = Position(pos.line + 1, indent + 1)
    elif style in ("'", '"'):
        pos = Position(pos.line, pos.column + 1)
    return text, pos, block, indent


def _check_keys(doc: Doc, where: Path_, allowed: set[str], what: str) -> None:
    value = _get(doc, where)
    if not isinstance(value, dict):
        return
    for key in value:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise doc.error(f"unknown key {key!r} in {what} (known: {known})", (*where, key), key=True)


# -------------------------------------------------------------------------------------------------
# the native shape

NATIVE_KEYS = {
    "id",
    "name",
    "description",
    "severity",
    "tactics",
    "techniques",
    "schedule",
    "query",
    "entities",
    "grouping",
    "suppression",
    "enabled",
    "trigger",
}


def _native(doc: Doc) -> Rule:
    _check_keys(doc, (), NATIVE_KEYS, "a rule")
    rid = _rule_id(doc, ("id",))
    _check_keys(doc, ("schedule",), {"every", "lookback"}, "schedule")
    if not isinstance(_get(doc, ("schedule",)), dict):
        raise doc.error("missing required key 'schedule' (with every and lookback)", ("schedule",))
    every = _duration(doc, ("schedule", "every"))
    lookback = (
        _duration(doc, ("schedule", "lookback")) if _get(doc, ("schedule", "lookback")) is not None else every
    )
    text, qpos, block, indent = _query(doc, ("query",))
    entities = _native_entities(doc)
    grouping = _native_grouping(doc, entities)
    suppress = timedelta(0)
    if _get(doc, ("suppression",)) is not None:
        if isinstance(_get(doc, ("suppression",)), dict):
            _check_keys(doc, ("suppression",), {"for"}, "suppression")
            suppress = _duration(doc, ("suppression", "for"))
        else:
            suppress = _duration(doc, ("suppression",))
    trigger = Trigger()
    if _get(doc, ("trigger",)) is not None:
        _check_keys(doc, ("trigger",), {"operator", "threshold"}, "trigger")
        trigger = _trigger(doc, ("trigger", "operator"), ("trigger", "threshold"))
    enabled = _get(doc, ("enabled",))
    if enabled is not None and not isinstance(enabled, bool):
        raise doc.error("enabled must be true or false", ("enabled",))
    return Rule(
        id=rid,
        name=_text(doc, ("name",)),
        severity=_severity(doc, ("severity",)),
        query=text,
        every=every,
        lookback=lookback,
        description=_text(doc, ("description",), required=False),
        tactics=_str_list(doc, ("tactics",)),
        techniques=_techniques(doc, ("techniques",)),
        entities=entities,
        grouping=grouping,
        suppress_for=suppress,
        trigger=trigger,
        enabled=enabled is not False,
        shape="native",
        path=doc.path,
        query_position=qpos,
        query_block=block,
        query_indent=indent,
        positions=dict(doc.rule_positions),
    )


def _rule_id(doc: Doc, where: Path_) -> str:
    rid = _text(doc, where)
    if not _ID_RE.match(rid):
        raise doc.error(f"id {rid!r} must be letters, digits, '.', '_' or '-' (up to 128)", where)
    return rid


def _native_entities(doc: Doc) -> tuple[EntityMapping, ...]:
    raw = _get(doc, ("entities",))
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise doc.error("entities must map an entity kind to a column (or list of columns)", ("entities",))
    out: list[EntityMapping] = []
    for kind in raw:
        if kind not in ENTITY_KINDS:
            raise doc.error(
                f"unknown entity kind {kind!r} (known: {', '.join(ENTITY_KINDS)})",
                ("entities", kind),
                key=True,
            )
        cols = _str_list(doc, ("entities", kind))
        if not cols:
            raise doc.error(f"entity {kind!r} needs at least one column", ("entities", kind))
        out.append(EntityMapping(kind, cols, ENTITY_KINDS[kind][0]))
        doc_positions(doc)[f"entities.{kind}"] = doc.at(("entities", kind))
    return tuple(out)


def _native_grouping(doc: Doc, entities: tuple[EntityMapping, ...]) -> Grouping:
    raw = _get(doc, ("grouping",))
    if raw is None:
        return Grouping()
    by: tuple[str, ...] = ()
    if isinstance(raw, str):
        mode = raw
        where: Path_ = ("grouping",)
    else:
        _check_keys(doc, ("grouping",), {"per", "by"}, "grouping")
        mode = _text(doc, ("grouping", "per"), required=False, default="row")
        by = _str_list(doc, ("grouping", "by"))
        where = ("grouping", "per")
    if mode not in GROUPING_MODES:
        raise doc.error(f"grouping must be one of {', '.join(GROUPING_MODES)}, not {mode!r}", where)
    kinds = {e.kind for e in entities}
    for i, kind in enumerate(by):
        if kind not in kinds:
            raise doc.error(
                f"grouping by {kind!r}, which the rule's entities do not map", ("grouping", "by", i)
            )
    if mode == "entity" and not entities:
        raise doc.error("grouping per entity needs entity mappings", where)
    return Grouping(mode, by)


def _trigger(doc: Doc, op_where: Path_, th_where: Path_) -> Trigger:
    op_raw = _get(doc, op_where)
    th_raw = _get(doc, th_where)
    op = ">"
    if op_raw is not None:
        found = TRIGGER_OPERATORS.get(str(op_raw).lower().replace(" ", ""))
        if found is None:
            raise doc.error(f"triggerOperator must be one of gt, lt, eq, ne, not {op_raw!r}", op_where)
        op = found
    threshold = 0
    if th_raw is not None:
        if isinstance(th_raw, bool) or not isinstance(th_raw, int):
            raise doc.error("triggerThreshold must be a whole number", th_where)
        threshold = th_raw
    return Trigger(op, threshold)


# -------------------------------------------------------------------------------------------------
# the Sentinel analytics-rule shape

#: Keys of Sentinel analytics-rule YAML that carry no meaning here (kept for the as-is promise).
SENTINEL_IGNORED = {
    "requiredDataConnectors",
    "version",
    "status",
    "metadata",
    "tags",
    "customDetails",
    "alertDetailsOverride",
    "incidentConfiguration",
    "kind",
    "query_type",
    "displayName",
    "enabled",
    "templateVersion",
    "sentinelEntitiesMappings",
}
SENTINEL_KEYS = {
    "id",
    "name",
    "description",
    "severity",
    "queryFrequency",
    "queryPeriod",
    "triggerOperator",
    "triggerThreshold",
    "tactics",
    "relevantTechniques",
    "techniques",
    "query",
    "entityMappings",
    "eventGroupingSettings",
    "suppressionDuration",
    "suppressionEnabled",
} | SENTINEL_IGNORED
SENTINEL_MARKERS = (
    "queryFrequency",
    "queryPeriod",
    "entityMappings",
    "triggerOperator",
    "relevantTechniques",
)
_AGGREGATION = {"alertperresult": "row", "singlealert": "window"}


def _sentinel(doc: Doc) -> Rule:
    _check_keys(doc, (), SENTINEL_KEYS, "a Sentinel analytics rule")
    rid = _rule_id(doc, ("id",))
    kind = str(_get(doc, ("kind",)) or "Scheduled")
    if kind.lower() not in ("scheduled", "nrt"):
        raise doc.error(f"kind {kind!r} is not a scheduled query rule (Scheduled or NRT)", ("kind",))
    if kind.lower() == "nrt":  # near-real-time rules run every few minutes over what arrived since
        every = lookback = timedelta(minutes=5)
    else:
        every = _duration(doc, ("queryFrequency",))
        lookback = _duration(doc, ("queryPeriod",)) if _get(doc, ("queryPeriod",)) is not None else every
    text, qpos, block, indent = _query(doc, ("query",))
    entities = _sentinel_entities(doc)
    grouping = Grouping("window")
    agg = _get(doc, ("eventGroupingSettings", "aggregationKind"))
    if agg is not None:
        mode = _AGGREGATION.get(str(agg).lower())
        if mode is None:
            raise doc.error(
                f"aggregationKind must be SingleAlert or AlertPerResult, not {agg!r}",
                ("eventGroupingSettings", "aggregationKind"),
            )
        grouping = Grouping(mode)
    suppress = timedelta(0)
    if _get(doc, ("suppressionEnabled",)) is True and _get(doc, ("suppressionDuration",)) is not None:
        suppress = _duration(doc, ("suppressionDuration",))
    techniques = _techniques(doc, ("relevantTechniques",)) or _techniques(doc, ("techniques",))
    return Rule(
        id=rid,
        name=_text(doc, ("name",)),
        severity=_severity(doc, ("severity",)),
        query=text,
        every=every,
        lookback=lookback,
        description=_text(doc, ("description",), required=False).strip(),
        tactics=_str_list(doc, ("tactics",)),
        techniques=techniques,
        entities=entities,
        grouping=grouping,
        suppress_for=suppress,
        suppress_by_rule=suppress > timedelta(0),
        trigger=_trigger(doc, ("triggerOperator",), ("triggerThreshold",)),
        enabled=_get(doc, ("enabled",)) is not False,
        shape="sentinel",
        path=doc.path,
        query_position=qpos,
        query_block=block,
        query_indent=indent,
        positions=dict(doc.rule_positions),
    )


def _sentinel_entities(doc: Doc) -> tuple[EntityMapping, ...]:
    raw = _get(doc, ("entityMappings",))
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise doc.error("entityMappings must be a list", ("entityMappings",))
    merged: dict[str, tuple[list[str], str]] = {}
    for i, item in enumerate(raw):
        where: Path_ = ("entityMappings", i)
        if not isinstance(item, dict):
            raise doc.error("each entity mapping needs entityType and fieldMappings", where)
        etype = _text(doc, (*where, "entityType"))
        fields = item.get("fieldMappings")
        if not isinstance(fields, list) or not fields:
            raise doc.error("fieldMappings must be a non-empty list", (*where, "fieldMappings"))
        kind = SENTINEL_ENTITY_TYPES.get(etype.lower(), etype.lower())
        cols, _ = merged.setdefault(kind, ([], etype))
        for j, fm in enumerate(fields):
            fw: Path_ = (*where, "fieldMappings", j)
            if not isinstance(fm, dict):
                raise doc.error("a field mapping needs identifier and columnName", fw)
            _text(doc, (*fw, "identifier"))
            if fm.get("identifier") == "Algorithm":  # FileHash: the algorithm name, not a value column
                continue
            col = _text(doc, (*fw, "columnName"))
            doc_positions(doc).setdefault(f"entities.{kind}", doc.at((*fw, "columnName")))
            if col not in cols:
                cols.append(col)
    return tuple(EntityMapping(k, tuple(c), t) for k, (c, t) in merged.items() if c)


# -------------------------------------------------------------------------------------------------
# entry points

#: Rule shape name -> builder (chosen by `detect_shape`).
SHAPES: dict[str, Callable[[Doc], Rule]] = {"native": _native, "sentinel": _sentinel}


def detect_shape(data: dict[str, Any]) -> str:
    return "sentinel" if any(k in data for k in SENTINEL_MARKERS) else "native"


def load_rule_text(text: str, path: str = "<rule>") -> Rule:
    """Parse one rule from YAML text (either shape). RuleError carries the file position."""
    doc = parse_yaml(text, path)
    return SHAPES[detect_shape(doc.data)](doc)


def load_rule(path: str | os.PathLike[str]) -> Rule:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"cannot read the rule: {exc}", str(p)) from None
    return load_rule_text(text, str(p))


def rule_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every *.yaml / *.yml under `folder` (recursively), sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise DetectError(f"rules folder {root} does not exist")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in RULE_SUFFIXES)


def load_rules(folder: str | os.PathLike[str]) -> tuple[list[Rule], list[RuleError]]:
    """Load every rule of a folder: the good ones, and one error per bad file (duplicate ids are errors)."""
    rules: list[Rule] = []
    errors: list[RuleError] = []
    seen: dict[str, str] = {}
    for f in rule_files(folder):
        try:
            rule = load_rule(f)
        except RuleError as exc:
            errors.append(exc)
            continue
        if rule.id in seen:
            errors.append(RuleError(f"duplicate rule id {rule.id!r} (also in {seen[rule.id]})", str(f), 1, 1))
            continue
        seen[rule.id] = str(f)
        rules.append(rule)
    return rules, errors


def find_rule(folder: str | os.PathLike[str], name: str) -> Rule:
    """A rule given as a file path, or by id within `folder`."""
    p = Path(name)
    if p.is_file():
        return load_rule(p)
    rules, _ = load_rules(folder)
    for rule in rules:
        if rule.id == name:
            return rule
    raise DetectError(f"no rule {name!r}: not a file, and no rule with that id in {folder}")


__all__ = [
    "NATIVE_KEYS",
    "SENTINEL_KEYS",
    "SHAPES",
    "Doc",
    "detect_shape",
    "find_rule",
    "load_rule",
    "load_rule_text",
    "load_rules",
    "parse_yaml",
    "rule_files",
]
