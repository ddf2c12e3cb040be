"""The native and Sentinel analytics-rule shapes of a rule file into Rule objects."""

from __future__ import annotations

from datetime import timedelta

from huntvault.detect.model import SENTINEL_ENTITY_TYPES, EntityMapping, Grouping, Rule
from huntvault.detect.ruledoc import (
    Doc,
    Path_,
    check_keys,
    doc_positions,
    read_duration,
    read_enabled,
    read_entities,
    read_grouping,
    read_names,
    read_query,
    read_rule_id,
    read_severity,
    read_suppression,
    read_techniques,
    read_text,
    read_trigger,
    read_trigger_block,
    read_value,
)

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


def native(doc: Doc) -> Rule:
    """huntvault's own rule shape."""
    check_keys(doc, (), NATIVE_KEYS, "a rule")
    rid = read_rule_id(doc, ("id",))
    check_keys(doc, ("schedule",), {"every", "lookback"}, "schedule")
    if not isinstance(read_value(doc, ("schedule",)), dict):
        raise doc.error("missing required key 'schedule' (with every and lookback)", ("schedule",))
    every = read_duration(doc, ("schedule", "every"))
    lookback = (
        read_duration(doc, ("schedule", "lookback"))
        if read_value(doc, ("schedule", "lookback")) is not None
        else every
    )
    text, qpos, block, indent = read_query(doc, ("query",))
    entities = read_entities(doc)
    grouping = read_grouping(doc, entities)
    suppress = read_suppression(doc)
    trigger = read_trigger_block(doc, ("trigger",))
    enabled = read_enabled(doc, ("enabled",))
    return Rule(
        id=rid,
        name=read_text(doc, ("name",)),
        severity=read_severity(doc, ("severity",)),
        query=text,
        every=every,
        lookback=lookback,
        description=read_text(doc, ("description",), required=False),
        tactics=read_names(doc, ("tactics",)),
        techniques=read_techniques(doc, ("techniques",)),
        entities=entities,
        grouping=grouping,
        suppress_for=suppress,
        trigger=trigger,
        enabled=enabled,
        shape="native",
        path=doc.path,
        query_position=qpos,
        query_block=block,
        query_indent=indent,
        positions=dict(doc.rule_positions),
    )


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


def sentinel(doc: Doc) -> Rule:
    """A Microsoft Sentinel scheduled analytics rule, as exported."""
    check_keys(doc, (), SENTINEL_KEYS, "a Sentinel analytics rule")
    rid = read_rule_id(doc, ("id",))
    kind = str(read_value(doc, ("kind",)) or "Scheduled")
    if kind.lower() not in ("scheduled", "nrt"):
        raise doc.error(f"kind {kind!r} is not a scheduled query rule (Scheduled or NRT)", ("kind",))
    if kind.lower() == "nrt":  # near-real-time rules run every few minutes over what arrived since
        every = lookback = timedelta(minutes=5)
    else:
        every = read_duration(doc, ("queryFrequency",))
        lookback = (
            read_duration(doc, ("queryPeriod",)) if read_value(doc, ("queryPeriod",)) is not None else every
        )
    text, qpos, block, indent = read_query(doc, ("query",))
    entities = _sentinel_entities(doc)
    grouping = Grouping("window")
    agg = read_value(doc, ("eventGroupingSettings", "aggregationKind"))
    if agg is not None:
        mode = _AGGREGATION.get(str(agg).lower())
        if mode is None:
            raise doc.error(
                f"aggregationKind must be SingleAlert or AlertPerResult, not {agg!r}",
                ("eventGroupingSettings", "aggregationKind"),
            )
        grouping = Grouping(mode)
    suppress = timedelta(0)
    if (
        read_value(doc, ("suppressionEnabled",)) is True
        and read_value(doc, ("suppressionDuration",)) is not None
    ):
        suppress = read_duration(doc, ("suppressionDuration",))
    techniques = read_techniques(doc, ("relevantTechniques",)) or read_techniques(doc, ("techniques",))
    return Rule(
        id=rid,
        name=read_text(doc, ("name",)),
        severity=read_severity(doc, ("severity",)),
        query=text,
        every=every,
        lookback=lookback,
        description=read_text(doc, ("description",), required=False).strip(),
        tactics=read_names(doc, ("tactics",)),
        techniques=techniques,
        entities=entities,
        grouping=grouping,
        suppress_for=suppress,
        suppress_by_rule=suppress > timedelta(0),
        trigger=read_trigger(doc, ("triggerOperator",), ("triggerThreshold",)),
        enabled=read_value(doc, ("enabled",)) is not False,
        shape="sentinel",
        path=doc.path,
        query_position=qpos,
        query_block=block,
        query_indent=indent,
        positions=dict(doc.rule_positions),
    )


def _sentinel_entities(doc: Doc) -> tuple[EntityMapping, ...]:
    raw = read_value(doc, ("entityMappings",))
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise doc.error("entityMappings must be a list", ("entityMappings",))
    merged: dict[str, tuple[list[str], str]] = {}
    for i, item in enumerate(raw):
        where: Path_ = ("entityMappings", i)
        if not isinstance(item, dict):
            raise doc.error("each entity mapping needs entityType and fieldMappings", where)
        etype = read_text(doc, (*where, "entityType"))
        fields = item.get("fieldMappings")
        if not isinstance(fields, list) or not fields:
            raise doc.error("fieldMappings must be a non-empty list", (*where, "fieldMappings"))
        kind = SENTINEL_ENTITY_TYPES.get(etype.lower(), etype.lower())
        cols, _ = merged.setdefault(kind, ([], etype))
        for j, fm in enumerate(fields):
            fw: Path_ = (*where, "fieldMappings", j)
            if not isinstance(fm, dict):
                raise doc.error("a field mapping needs identifier and columnName", fw)
            read_text(doc, (*fw, "identifier"))
            if fm.get("identifier") == "Algorithm":  # FileHash: the algorithm name, not a value column
                continue
            col = read_text(doc, (*fw, "columnName"))
            doc_positions(doc).setdefault(f"entities.{kind}", doc.at((*fw, "columnName")))
            if col not in cols:
                cols.append(col)
    return tuple(EntityMapping(k, tuple(c), t) for k, (c, t) in merged.items() if c)


__all__ = ["NATIVE_KEYS", "SENTINEL_KEYS", "SENTINEL_MARKERS", "native", "sentinel"]
