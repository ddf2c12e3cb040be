"""Rule files as YAML documents: every key's and value's position, and typed field readers that raise RuleError there."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml

from huntvault.detect.model import (
    ENTITY_KINDS,
    GROUPING_MODES,
    SEVERITIES,
    TRIGGER_OPERATORS,
    EntityMapping,
    Grouping,
    Position,
    Trigger,
    parse_duration,
)
from huntvault.errors import DetectError, RuleError

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TECHNIQUE_RE = re.compile(r"^T\d{4}(\.\d{3})?$")

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


def node_position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(node: yaml.Node, where: Path_, doc: Doc, loader: yaml.SafeLoader) -> Any:
    doc.values[where] = node_position(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            key = str(knode.value)
            doc.keys[(*where, key)] = node_position(knode)
            if key in out:
                raise RuleError(f"duplicate key {key!r}", doc.path, *_astuple(node_position(knode)))
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


def read_text(doc: Doc, where: Path_, required: bool = True, default: str = "") -> str:
    value = read_value(doc, where)
    if value is None:
        if required:
            raise doc.error(f"missing required key {where[-1]!r}", where[:-1] or (where[-1],))
        return default
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise doc.error(f"{where[-1]} must be text", where)
    return str(value)


def read_value(doc: Doc, where: Path_) -> Any:
    cur = doc.data
    for part in where:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            cur = cur[part]
        else:
            return None
    return cur


def read_duration(doc: Doc, where: Path_) -> timedelta:
    try:
        value = parse_duration(read_value(doc, where))
    except DetectError as exc:
        raise doc.error(f"{where[-1]}: {exc}", where) from None
    if value <= timedelta(0):
        raise doc.error(f"{where[-1]} must be positive", where)
    return value


def read_names(doc: Doc, where: Path_) -> tuple[str, ...]:
    value = read_value(doc, where)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise doc.error(f"{where[-1]} must be a list of names", where)
    return tuple(value)


def read_severity(doc: Doc, where: Path_) -> str:
    raw = read_text(doc, where)
    sev = SEVERITIES.get(raw.lower())
    if sev is None:
        raise doc.error(f"severity must be one of {', '.join(SEVERITIES.values())}, not {raw!r}", where)
    return sev


def read_techniques(doc: Doc, where: Path_) -> tuple[str, ...]:
    out = read_names(doc, where)
    for i, t in enumerate(out):
        if not TECHNIQUE_RE.match(t):
            raise doc.error(f"{t!r} is not a MITRE technique id (T1234 or T1234.001)", (*where, i))
    return out


def read_query(doc: Doc, where: Path_) -> tuple[str, Position, bool, int]:
    text = read_text(doc, where)
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


def check_keys(doc: Doc, where: Path_, allowed: set[str], what: str) -> None:
    value = read_value(doc, where)
    if not isinstance(value, dict):
        return
    for key in value:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise doc.error(f"unknown key {key!r} in {what} (known: {known})", (*where, key), key=True)


def read_rule_id(doc: Doc, where: Path_) -> str:
    rid = read_text(doc, where)
    if not ID_RE.match(rid):
        raise doc.error(f"id {rid!r} must be letters, digits, '.', '_' or '-' (up to 128)", where)
    return rid


def read_entities(doc: Doc, where: Path_ = ("entities",)) -> tuple[EntityMapping, ...]:
    """`kind: column` (or `kind: [columns]`) at `where`; each kind's position is kept as `entities.<kind>`."""
    raw = read_value(doc, where)
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise doc.error("entities must map an entity kind to a column (or list of columns)", where)
    out: list[EntityMapping] = []
    for kind in raw:
        if kind not in ENTITY_KINDS:
            raise doc.error(
                f"unknown entity kind {kind!r} (known: {', '.join(ENTITY_KINDS)})",
                (*where, kind),
                key=True,
            )
        cols = read_names(doc, (*where, kind))
        if not cols:
            raise doc.error(f"entity {kind!r} needs at least one column", (*where, kind))
        out.append(EntityMapping(kind, cols, ENTITY_KINDS[kind][0]))
        doc_positions(doc)[f"entities.{kind}"] = doc.at((*where, kind))
    return tuple(out)


def read_grouping(doc: Doc, entities: tuple[EntityMapping, ...], at: Path_ = ("grouping",)) -> Grouping:
    """`row | entity | window`, or `{per: ..., by: [kinds]}` at `at`."""
    raw = read_value(doc, at)
    if raw is None:
        return Grouping()
    by: tuple[str, ...] = ()
    if isinstance(raw, str):
        mode = raw
        where: Path_ = at
    else:
        check_keys(doc, at, {"per", "by"}, "grouping")
        mode = read_text(doc, (*at, "per"), required=False, default="row")
        by = read_names(doc, (*at, "by"))
        where = (*at, "per")
    if mode not in GROUPING_MODES:
        raise doc.error(f"grouping must be one of {', '.join(GROUPING_MODES)}, not {mode!r}", where)
    kinds = {e.kind for e in entities}
    for i, kind in enumerate(by):
        if kind not in kinds:
            raise doc.error(f"grouping by {kind!r}, which the rule's entities do not map", (*at, "by", i))
    if mode == "entity" and not entities:
        raise doc.error("grouping per entity needs entity mappings", where)
    return Grouping(mode, by)


def read_suppression(doc: Doc, where: Path_ = ("suppression",)) -> timedelta:
    """`24h` or `{for: 24h}` at `where` (none = no suppression)."""
    raw = read_value(doc, where)
    if raw is None:
        return timedelta(0)
    if isinstance(raw, dict):
        check_keys(doc, where, {"for"}, "suppression")
        return read_duration(doc, (*where, "for"))
    return read_duration(doc, where)


def read_trigger(doc: Doc, op_where: Path_, th_where: Path_) -> Trigger:
    op_raw = read_value(doc, op_where)
    th_raw = read_value(doc, th_where)
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


def read_trigger_block(doc: Doc, where: Path_) -> Trigger:
    """`{operator: gt, threshold: 0}` at `where` (none = more than 0 rows)."""
    if read_value(doc, where) is None:
        return Trigger()
    check_keys(doc, where, {"operator", "threshold"}, "trigger")
    return read_trigger(doc, (*where, "operator"), (*where, "threshold"))


def read_enabled(doc: Doc, where: Path_) -> bool:
    """`true`/`false` at `where` (none = enabled)."""
    value = read_value(doc, where)
    if value is not None and not isinstance(value, bool):
        raise doc.error("enabled must be true or false", where)
    return value is not False


__all__ = [
    "ID_RE",
    "TECHNIQUE_RE",
    "Doc",
    "Path_",
    "check_keys",
    "doc_positions",
    "node_position",
    "parse_yaml",
    "read_duration",
    "read_enabled",
    "read_entities",
    "read_grouping",
    "read_names",
    "read_query",
    "read_rule_id",
    "read_severity",
    "read_suppression",
    "read_techniques",
    "read_text",
    "read_trigger",
    "read_trigger_block",
    "read_value",
]
