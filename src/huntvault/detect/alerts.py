"""Result rows -> alerts: entity extraction, grouping, deterministic alert ids, suppression and evidence."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from huntvault.detect.model import Rule

#: Columns tried, in order, for the time of a result row (else any datetime column).
TIME_COLUMNS = ("Timestamp", "TimeGenerated", "EventTime")
#: Evidence rows kept per alert (the alert still counts every row).
MAX_EVIDENCE = 50


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _canonical(value: Any) -> Any:
    """A value as it counts for row identity: sets and lists (also JSON-array text, the archive's `dynamic`)
    sorted, because make_set()/make_list() return their elements in no stable order."""
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Hit:
    """One result row: its values (JSON-safe), time, entities (kind -> value) and identity hash."""

    values: dict[str, Any]
    time: datetime | None
    entities: dict[str, str]
    key: str  # sha256 of the row's canonical JSON


@dataclass(frozen=True)
class Alert:
    """One detection alert; `record()` is what the archive stores and the sinks receive."""

    id: str
    rule: Rule
    window_start: datetime
    window_end: datetime
    group_key: str  # canonical JSON of the grouping entities ("" = none)
    entities: dict[str, list[str]]  # kind -> distinct values, in row order
    hits: tuple[Hit, ...]
    first_seen: datetime
    last_seen: datetime

    def record(self) -> dict[str, Any]:
        r = self.rule
        device = self.entities.get("device", [""])[0] if self.entities.get("device") else ""
        return {
            "id": self.id,
            "ruleId": r.id,
            "title": r.name,
            "description": r.description,
            "severity": r.severity,
            "category": r.tactics[0] if r.tactics else "",
            "tactics": list(r.tactics),
            "mitreTechniques": list(r.techniques),
            "detectionSource": "huntvault",
            "grouping": r.grouping.mode,
            "groupKey": self.group_key,
            "windowStart": iso(self.window_start),
            "windowEnd": iso(self.window_end),
            "alertCreationTime": iso(self.window_end),
            "lastUpdateTime": iso(self.window_end),
            "firstEventTime": iso(self.first_seen),
            "lastEventTime": iso(self.last_seen),
            "computerDnsName": device,
            "entities": [{"kind": k, "value": v} for k, vals in self.entities.items() for v in vals],
            "rowCount": len(self.hits),
            "evidence": [
                {"time": iso(h.time) if h.time else None, "entities": h.entities, "row": h.values}
                for h in self.hits[:MAX_EVIDENCE]
            ],
        }

    def evidence_rows(self) -> list[dict[str, Any]]:
        """One row per (hit, entity) for the evidence table, like Defender's AlertEvidence."""
        out: list[dict[str, Any]] = []
        for n, h in enumerate(self.hits[:MAX_EVIDENCE]):
            t = iso(h.time or self.window_end)
            items = list(h.entities.items()) or [("row", "")]
            for kind, value in items:
                out.append(
                    {
                        "Timestamp": t,
                        "AlertId": self.id,
                        "RuleId": self.rule.id,
                        "EvidenceIndex": n,
                        "EntityType": kind,
                        "EntityValue": value,
                        "RowKey": h.key,
                        "Row": orjson.dumps(h.values, option=orjson.OPT_SORT_KEYS).decode(),
                    }
                )
        return out


def _time_column(table: pa.Table) -> str | None:
    for name in TIME_COLUMNS:
        if name in table.column_names and pa.types.is_timestamp(table.schema.field(name).type):
            return name
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            return str(f.name)
    return None


def hits_of(rule: Rule, table: pa.Table) -> list[Hit]:
    """Every result row as a Hit, in result order; entity values are the first non-empty mapped column."""
    tcol = _time_column(table)
    out: list[Hit] = []
    for raw in table.to_pylist():
        values = {k: _plain(v) for k, v in raw.items()}
        t = raw.get(tcol) if tcol else None
        if isinstance(t, datetime) and t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        ents: dict[str, str] = {}
        for m in rule.entities:
            for c in m.columns:
                v = raw.get(c)
                if v is not None and str(v) != "":
                    ents[m.kind] = str(_plain(v))
                    break
        identity = {k: _canonical(v) for k, v in values.items()}
        key = _digest(rule.id, orjson.dumps(identity, option=orjson.OPT_SORT_KEYS).decode())
        out.append(Hit(values, t if isinstance(t, datetime) else None, ents, key))
    return out


def group_key(rule: Rule, hit: Hit) -> str:
    kinds = rule.group_kinds()
    return orjson.dumps({k: hit.entities.get(k, "") for k in kinds}, option=orjson.OPT_SORT_KEYS).decode()


def _alert_id(rule: Rule, end: datetime, gkey: str, hits: list[Hit]) -> str:
    if rule.grouping.mode == "row":  # independent of the window: overlapping lookbacks find the same id
        return "hv-" + _digest(rule.id, "row", hits[0].key)[:32]
    return "hv-" + _digest(rule.id, rule.grouping.mode, iso(end), gkey)[:32]


@dataclass
class Decision:
    """What one window produced: the alerts, plus what the state must remember."""

    alerts: list[Alert] = field(default_factory=list)
    rows: int = 0
    new_rows: list[str] = field(default_factory=list)  # row keys seen for the first time
    suppressed: int = 0  # groups not alerted because of suppression
    already: int = 0  # groups whose rows were all reported by an earlier window
    triggered: bool = False
    suppress_until: dict[str, datetime] = field(default_factory=dict)  # suppression key -> until


def decide(
    rule: Rule,
    start: datetime,
    end: datetime,
    table: pa.Table,
    known_rows: Callable[[Iterable[str]], set[str]],
    suppressed_until: Callable[[str], datetime | None],
) -> Decision:
    """Turn one window's result into alerts.

    - The trigger (row count vs threshold) is tested on the whole result.
    - Rows already reported by an earlier window (lookbacks overlap) never make a new alert; a group
      is alerted only if it holds at least one new row.
    - Groups: `row` = each row, `entity` = rows with the same grouping entities, `window` = all rows.
    - Suppression key = the group's entities (or the whole rule for Sentinel-style suppression); a key
      alerted at window end E is quiet until E + suppress_for, including later groups of this window.
    """
    hits = hits_of(rule, table)
    dec = Decision(rows=len(hits))
    if not hits or not rule.trigger.fires(len(hits)):
        return dec
    dec.triggered = True
    known = known_rows(h.key for h in hits)
    fresh = {h.key for h in hits} - known
    dec.new_rows = [k for k in dict.fromkeys(h.key for h in hits) if k in fresh]
    groups: dict[tuple[str, str], list[Hit]] = {}  # (entity key, row key for per-row grouping) -> rows
    for h in hits:
        if rule.grouping.mode == "row":
            gk = (group_key(rule, h), h.key)
        elif rule.grouping.mode == "entity":
            gk = (group_key(rule, h), "")
        else:
            gk = ("", "")
        groups.setdefault(gk, []).append(h)
    ordered = sorted(groups.items(), key=lambda kv: (min(_t(h, end) for h in kv[1]), kv[0]))
    for (ekey, _row_key), members in ordered:
        if not any(h.key in fresh for h in members):
            dec.already += 1
            continue
        skey = "" if rule.suppress_by_rule else ekey
        if rule.suppress_for > timedelta(0):
            until = dec.suppress_until.get(skey) or suppressed_until(skey)
            if until is not None and end < until:
                dec.suppressed += 1
                continue
            dec.suppress_until[skey] = end + rule.suppress_for
        times = [_t(h, end) for h in members]
        ents: dict[str, list[str]] = {}
        for h in members:
            for k, v in h.entities.items():
                vals = ents.setdefault(k, [])
                if v not in vals:
                    vals.append(v)
        dec.alerts.append(
            Alert(
                _alert_id(rule, end, ekey, members),
                rule,
                start,
                end,
                ekey,
                ents,
                tuple(members),
                min(times),
                max(times),
            )
        )
    return dec


def _t(h: Hit, default: datetime) -> datetime:
    return h.time or default


__all__ = [
    "MAX_EVIDENCE",
    "TIME_COLUMNS",
    "Alert",
    "Decision",
    "Hit",
    "decide",
    "group_key",
    "hits_of",
    "iso",
]
