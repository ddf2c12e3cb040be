"""Sigma rules as they are: pySigma and its Kusto backend (Microsoft XDR pipeline) turn them into Defender-table KQL."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from huntvault.detect.model import ENTITY_KINDS, EntityMapping, Position, Rule
from huntvault.detect.ruledoc import (
    ID_RE,
    Doc,
    Path_,
    check_keys,
    read_duration,
    read_enabled,
    read_entities,
    read_grouping,
    read_suppression,
    read_text,
    read_trigger_block,
    read_value,
)
from huntvault.errors import SigmaRuleError
from huntvault.schema import tables

if TYPE_CHECKING:
    from sigma.rule import SigmaDetectionItem

#: A YAML document with any of these top-level keys is a Sigma rule.
SIGMA_MARKERS = ("logsource", "detection", "correlation")

#: Sigma `level` -> huntvault severity (Defender has no "critical": it is High).
LEVELS: dict[str, str] = {
    "informational": "Informational",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
    "critical": "High",
}

#: Sigma `attack.<tactic>` tag -> the tactic as Defender and Sentinel spell it.
TACTICS: dict[str, str] = {
    "reconnaissance": "Reconnaissance",
    "resource-development": "ResourceDevelopment",
    "initial-access": "InitialAccess",
    "execution": "Execution",
    "persistence": "Persistence",
    "privilege-escalation": "PrivilegeEscalation",
    "defense-evasion": "DefenseEvasion",
    "defense-impairment": "DefenseEvasion",
    "stealth": "DefenseEvasion",
    "credential-access": "CredentialAccess",
    "discovery": "Discovery",
    "lateral-movement": "LateralMovement",
    "collection": "Collection",
    "command-and-control": "CommandAndControl",
    "exfiltration": "Exfiltration",
    "impact": "Impact",
}
_TECHNIQUE_TAG = re.compile(r"^t(\d{4})(?:\.(\d{3}))?$", re.IGNORECASE)

#: Sigma `status` values that load the rule disabled (the `huntvault:` block can still enable it).
DISABLED_STATUSES = ("deprecated", "unsupported")

#: The rule-file extension block: huntvault's own settings for a Sigma rule.
EXTENSION = "huntvault"
EXTENSION_KEYS = {"every", "lookback", "table", "entities", "grouping", "suppression", "trigger", "enabled"}

#: Entity kind -> the columns that hold it, first present in the rule's table wins (when the rule maps none).
DEFAULT_ENTITIES: dict[str, tuple[str, ...]] = {
    "device": ("DeviceName",),
    "user": ("AccountName", "InitiatingProcessAccountName", "AccountUpn"),
    "file_hash": ("SHA256", "InitiatingProcessSHA256"),
    "file": ("FileName",),
    "process": ("ProcessCommandLine", "InitiatingProcessCommandLine"),
    "ip": ("RemoteIP", "IPAddress"),
    "url": ("RemoteUrl", "Url"),
}


@dataclass(frozen=True)
class SigmaDefaults:
    """What a Sigma rule does not say: its schedule (`[detect] sigma_every` / `sigma_lookback`)."""

    every: timedelta = timedelta(hours=1)
    lookback: timedelta = timedelta(hours=2)


# -------------------------------------------------------------------------------------------------
# where a pySigma error points in the rule file

#: pySigma error class -> the rule key it is about (the nearest class of the error's MRO that is listed wins).
ERROR_FIELDS: dict[str, str] = {
    "SigmaConditionError": "detection.condition",
    "SigmaDetectionError": "detection",
    "SigmaModifierError": "detection",
    "SigmaValueError": "detection",
    "SigmaLogsourceError": "logsource",
    "SigmaLevelError": "level",
    "SigmaIdentifierError": "id",
    "SigmaStatusError": "status",
    "SigmaTitleError": "title",
    "SigmaDateError": "date",
    "SigmaModifiedError": "modified",
    "SigmaTagError": "tags",
    "SigmaFalsePositivesError": "falsepositives",
    "SigmaDescriptionError": "description",
    "SigmaAuthorError": "author",
    "SigmaReferencesError": "references",
    "SigmaRelatedError": "related",
    "SigmaFieldsError": "fields",
    "SigmaLicenseError": "license",
    "SigmaScopeError": "scope",
    "SigmaNameError": "name",
    "SigmaTaxonomyError": "taxonomy",
    "SigmaCorrelationRuleError": "correlation",
    "SigmaTransformationError": "detection",
    "SigmaFeatureNotSupportedByBackendError": "detection",
}


@dataclass(frozen=True)
class Diagnosis:
    """A pySigma error in huntvault's words: the reason and the offending field (a dotted rule path)."""

    reason: str
    field: str


def _field_error(m: re.Match[str], doc: Doc) -> Diagnosis:
    name, table = m.group("field"), m.group("table")
    where = detection_key(doc, name)
    return Diagnosis(
        f"{name} is not a column of {table} (nor a Sigma field the Microsoft XDR pipeline maps to one)",
        ".".join(str(p) for p in where) if where else "detection",
    )


def _table_error(m: re.Match[str], doc: Doc) -> Diagnosis:
    src = read_value(doc, ("logsource",))
    said = ", ".join(f"{k}: {v}" for k, v in src.items()) if isinstance(src, dict) else "none"
    return Diagnosis(
        f"the Microsoft XDR pipeline maps this logsource ({said}) to no Defender table; "
        f"set `{EXTENSION}: {{table: ...}}` in the rule to name one",
        "logsource",
    )


def _condition_error(m: re.Match[str], doc: Doc) -> Diagnosis:
    return Diagnosis(
        f"the condition names {m.group('name')!r}, which the detection does not define", "detection.condition"
    )


def _modifier_error(m: re.Match[str], doc: Doc) -> Diagnosis:
    modifier = m.group("modifier")
    where = next((w for w, key in detection_keys(doc) if modifier in key.split("|")[1:]), None)
    return Diagnosis(
        f"unknown value modifier {modifier!r}",
        ".".join(str(p) for p in where) if where else "detection",
    )


#: Message pattern of a pySigma error -> its diagnosis (first match wins; others keep pySigma's first line).
MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str], Doc], Diagnosis]]] = [
    (
        re.compile(
            r"field name encountered: (?P<field>[^\s]+?)\.? Please use valid fields for the (?P<table>\w+) table"
        ),
        _field_error,
    ),
    (re.compile(r"Unable to determine table name|Rule category not yet supported"), _table_error),
    (re.compile(r"Detection '(?P<name>[^']+)' not defined"), _condition_error),
    (
        re.compile(r"[Mm]odifier '?(?P<modifier>[A-Za-z0-9_]+)'? (?:not (?:known|supported)|unknown)"),
        _modifier_error,
    ),
]


def diagnose(exc: Exception, doc: Doc) -> Diagnosis:
    """A pySigma (or conversion) error -> reason and offending field."""
    message = str(exc.args[0]) if exc.args else str(exc)
    for pattern, build in MESSAGES:
        m = pattern.search(message)
        if m:
            return build(m, doc)
    field = next((ERROR_FIELDS[c.__name__] for c in type(exc).__mro__ if c.__name__ in ERROR_FIELDS), "")
    reason = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return Diagnosis(reason[:400], field or "detection")


def detection_keys(doc: Doc) -> Iterator[tuple[Path_, str]]:
    """Every field key (`Image|endswith`) under `detection`, with its path, in file order."""

    def walk(value: Any, where: Path_) -> Iterator[tuple[Path_, str]]:
        if isinstance(value, dict):
            for key, sub in value.items():
                if len(where) == 1 and key in ("condition", "timeframe"):
                    continue
                if len(where) > 1:
                    yield (*where, key), str(key)
                yield from walk(sub, (*where, key))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                yield from walk(sub, (*where, i))

    yield from walk(read_value(doc, ("detection",)), ("detection",))


def detection_key(doc: Doc, field: str) -> Path_ | None:
    """The path of the first detection key whose field (before any `|modifier`) is `field`."""
    return next((w for w, key in detection_keys(doc) if key.split("|")[0] == field), None)


def position_of(doc: Doc, field: str) -> Position:
    """A dotted rule path (`detection.selection.Image|endswith`, `logsource`) -> its key's position."""
    where: list[Any] = []
    data = doc.data
    for part in field.split(".") if field else []:
        if isinstance(data, list) and part.isdigit():
            where.append(int(part))
            data = data[int(part)] if int(part) < len(data) else None
        elif isinstance(data, dict) and part in data:
            where.append(part)
            data = data[part]
        elif isinstance(data, dict):  # a dotted key (`a.b|contains`): take the rest as one key
            rest = field.split(".")[len(where) :]
            where.append(".".join(rest))
            break
    return doc.at(tuple(where), key=True) if where else Position(1, 1)


# -------------------------------------------------------------------------------------------------
# conversion


def _extension(doc: Doc, defaults: SigmaDefaults) -> tuple[timedelta, timedelta, str | None]:
    ext = read_value(doc, (EXTENSION,))
    if ext is not None and not isinstance(ext, dict):
        raise doc.error(f"{EXTENSION} must be a mapping ({', '.join(sorted(EXTENSION_KEYS))})", (EXTENSION,))
    check_keys(doc, (EXTENSION,), EXTENSION_KEYS, f"the {EXTENSION} block")
    every = (
        read_duration(doc, (EXTENSION, "every")) if read_value(doc, (EXTENSION, "every")) else defaults.every
    )
    lookback = (
        read_duration(doc, (EXTENSION, "lookback"))
        if read_value(doc, (EXTENSION, "lookback"))
        else (defaults.lookback if read_value(doc, (EXTENSION, "every")) is None else every)
    )
    table = read_text(doc, (EXTENSION, "table"), required=False) or None
    if table is not None and table not in tables():
        raise doc.error(f"no archive table {table!r}", (EXTENSION, "table"))
    return every, lookback, table


def _detection_fields(rule: Any) -> list[SigmaDetectionItem]:
    """Every field detection item of a parsed SigmaRule (keyword items have no field)."""
    from sigma.rule import SigmaDetectionItem

    out: list[SigmaDetectionItem] = []

    def walk(det: Any) -> None:
        if isinstance(det, SigmaDetectionItem):
            if det.field:
                out.append(det)
            return
        for item in det.detection_items:
            walk(item)

    for det in rule.detection.detections.values():
        walk(det)
    return out


def to_kql(doc: Doc, table: str | None) -> tuple[str, dict[str, str]]:
    """The Sigma document -> (KQL, {KQL column: the Sigma field it came from}). Raises SigmaRuleError."""
    from sigma.backends.kusto.kusto import KustoBackend
    from sigma.pipelines.microsoftxdr.microsoftxdr import microsoft_xdr_pipeline
    from sigma.rule import SigmaRule

    if read_value(doc, ("correlation",)) is not None:
        raise _error(doc, Diagnosis("Sigma correlation rules are not supported", "correlation"))
    try:
        rule = SigmaRule.from_dict(doc.data)
        before = [(item, str(item.field)) for item in _detection_fields(rule)]
        pipeline: Any = microsoft_xdr_pipeline(query_table=table)
        backend = KustoBackend(processing_pipeline=pipeline)
        queries = backend.convert_rule(rule)
    except Exception as exc:  # pySigma raises SigmaError subclasses, and plain errors from pipelines
        raise _error(doc, diagnose(exc, doc)) from None
    if len(queries) != 1 or not isinstance(queries[0], str):
        raise _error(
            doc,
            Diagnosis(
                f"the rule converts to {len(queries)} queries; use one condition", "detection.condition"
            ),
        )
    origin = {str(item.field): sigma_field for item, sigma_field in before if item.field}
    return queries[0], origin


def _error(doc: Doc, diag: Diagnosis) -> SigmaRuleError:
    pos = position_of(doc, diag.field)
    return SigmaRuleError(diag.reason, doc.path, pos.line, pos.column, diag.field)


def _tags(doc: Doc) -> tuple[tuple[str, ...], tuple[str, ...]]:
    tactics: list[str] = []
    techniques: list[str] = []
    raw = read_value(doc, ("tags",))
    for tag in raw if isinstance(raw, list) else []:
        namespace, _, name = str(tag).partition(".")
        if namespace.lower() != "attack":
            continue
        name = name.lower().replace("_", "-")
        m = _TECHNIQUE_TAG.match(name)
        if m:
            t = f"T{m.group(1)}" + (f".{m.group(2)}" if m.group(2) else "")
            if t not in techniques:
                techniques.append(t)
        elif name in TACTICS and TACTICS[name] not in tactics:
            tactics.append(TACTICS[name])
    return tuple(tactics), tuple(techniques)


def default_entities(table: str) -> tuple[EntityMapping, ...]:
    """The entities a Sigma rule on `table` maps when it says nothing (columns the table has)."""
    have = {c.name for c in tables()[table].columns} if table in tables() else set()
    out = []
    for kind, columns in DEFAULT_ENTITIES.items():
        present = tuple(c for c in columns if c in have)
        if present:
            out.append(EntityMapping(kind, present, ENTITY_KINDS[kind][0]))
    return tuple(out)


def _rule_id(doc: Doc) -> str:
    raw = read_value(doc, ("id",))
    if raw is None:
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", doc.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("-.")
        return f"sigma-{stem or 'rule'}"[:128]
    rid = str(raw)
    if not ID_RE.match(rid):
        raise doc.error(f"id {rid!r} must be letters, digits, '.', '_' or '-' (up to 128)", ("id",))
    return rid


def _text_list(doc: Doc, key: str) -> tuple[str, ...]:
    raw = read_value(doc, (key,))
    if isinstance(raw, str):
        return (raw,)
    return tuple(str(x) for x in raw) if isinstance(raw, list) else ()


def sigma(doc: Doc, defaults: SigmaDefaults | None = None) -> Rule:
    """A Sigma rule document -> Rule (SigmaRuleError naming the offending field when it cannot be converted)."""
    key = (doc.path, hashlib.sha256("\n".join(doc.lines).encode()).hexdigest(), defaults or SigmaDefaults())
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        if isinstance(hit, SigmaRuleError):
            raise hit
        return hit
    try:
        rule = _convert(doc, defaults or SigmaDefaults())
    except SigmaRuleError as exc:
        _remember(key, exc)
        raise
    _remember(key, rule)
    return rule


def _convert(doc: Doc, defaults: SigmaDefaults) -> Rule:
    every, lookback, table = _extension(doc, defaults)
    query, origin = to_kql(doc, table)
    table = table or query.split("\n", 1)[0].strip()
    entities = read_entities(doc, (EXTENSION, "entities")) or default_entities(table)
    grouping = read_grouping(doc, entities, (EXTENSION, "grouping"))
    level = str(read_value(doc, ("level",)) or "medium").lower()
    status = str(read_value(doc, ("status",)) or "").lower()
    enabled = (
        read_enabled(doc, (EXTENSION, "enabled"))
        if read_value(doc, (EXTENSION, "enabled")) is not None
        else (status not in DISABLED_STATUSES)
    )
    tactics, techniques = _tags(doc)
    detection = doc.at(("detection",), key=True)
    positions = dict(doc.rule_positions)
    fields: dict[str, str] = {}
    for kql_field, sigma_field in origin.items():
        where = detection_key(doc, sigma_field)
        if where is not None:
            positions[f"field.{kql_field}"] = doc.at(where, key=True)
            fields[kql_field] = ".".join(str(p) for p in where)
    return Rule(
        id=_rule_id(doc),
        name=read_text(doc, ("title",), required=False) or _rule_id(doc),
        severity=LEVELS.get(level, "Medium"),
        query=query,
        every=every,
        lookback=lookback,
        description=str(read_value(doc, ("description",)) or "").strip(),
        tactics=tactics,
        techniques=techniques,
        entities=entities,
        grouping=grouping,
        suppress_for=read_suppression(doc, (EXTENSION, "suppression")),
        trigger=read_trigger_block(doc, (EXTENSION, "trigger")),
        enabled=enabled,
        shape="sigma",
        path=doc.path,
        query_position=replace(detection),
        false_positives=_text_list(doc, "falsepositives"),
        references=_text_list(doc, "references"),
        positions=positions,
        sigma_fields=fields,
    )


# Converted rules by (path, text digest, defaults): the scheduler re-reads the rules folder every cycle, and a
# SigmaHQ checkout holds thousands of files.
_CACHE: dict[tuple[str, str, SigmaDefaults], Rule | SigmaRuleError] = {}
_CACHE_MAX = 20_000
_LOCK = threading.Lock()


def _remember(key: tuple[str, str, SigmaDefaults], value: Rule | SigmaRuleError) -> None:
    with _LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = value


def is_sigma(data: dict[str, Any]) -> bool:
    return any(k in data for k in SIGMA_MARKERS)


__all__ = [
    "DEFAULT_ENTITIES",
    "DISABLED_STATUSES",
    "ERROR_FIELDS",
    "EXTENSION",
    "EXTENSION_KEYS",
    "LEVELS",
    "MESSAGES",
    "SIGMA_MARKERS",
    "TACTICS",
    "Diagnosis",
    "SigmaDefaults",
    "default_entities",
    "detection_key",
    "detection_keys",
    "diagnose",
    "is_sigma",
    "position_of",
    "sigma",
    "to_kql",
]
