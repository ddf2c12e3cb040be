"""Export-shape documents rebuilt from a tantivy document's stored raw fields (no second stored copy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import tantivy

from huntvault.index.fields import EMPTY_FIELD, EXTRA_FIELD, IndexLayout

EPOCH = datetime(1970, 1, 1)  # naive UTC: isoformat() then prints no offset


def iso(micros: int) -> str:
    """An epoch-microseconds value as the export writes datetimes (always 6 fractional digits, `Z`)."""
    return (EPOCH + timedelta(microseconds=int(micros))).isoformat(timespec="microseconds") + "Z"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch as DuckDB's json_merge_patch orders it: the target's keys the patch does
    not name, then the patch's keys (null deletes). Used for `_Extra` over the known columns."""
    if not isinstance(patch, dict):
        return patch
    base = target if isinstance(target, dict) else {}
    out = {k: v for k, v in base.items() if k not in patch}
    for key, value in patch.items():
        if value is not None:
            out[key] = merge_patch(base.get(key), value)
    return out


@dataclass(frozen=True)
class _Plan:
    """Where each part of the export document comes from, computed once per layout (hot path of every page).

    Each entry is (output name, stored field, Azure path); `dates` names the entries stored as epoch
    microseconds (printed in ISO form)."""

    envelope: list[tuple[str, str, str]]  # key and envelope, before `properties`
    props: list[tuple[str, str, str]]
    metadata: list[tuple[str, str, str]]  # blob metadata, after `properties`
    dates: frozenset[str]


_PLANS: dict[int, tuple[IndexLayout, _Plan]] = {}


def _plan(layout: IndexLayout) -> _Plan:
    cached = _PLANS.get(id(layout))
    if cached is not None and cached[0] is layout:
        return cached[1]
    envelope: list[tuple[str, str, str]] = []
    props: list[tuple[str, str, str]] = []
    metadata: list[tuple[str, str, str]] = []
    dates: set[str] = set()
    for spec in layout.fields.values():
        if spec.path.startswith("properties/"):
            entry = (spec.path[len("properties/") :], spec.value_field, spec.path)
            props.append(entry)
        else:
            entry = (spec.path, spec.value_field, spec.path)
            (metadata if spec.path.startswith("metadata_") else envelope).append(entry)
        if spec.storage == "date":
            dates.add(entry[0])
    plan = _Plan(envelope, props, metadata, frozenset(dates))
    _PLANS[id(layout)] = (layout, plan)
    return plan


def _values(
    entries: list[tuple[str, str, str]], stored: dict[str, list[Any]], empty: set[str], dates: frozenset[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        name: (vals[0] if (vals := stored.get(field)) else ("" if path in empty else None))
        for name, field, path in entries
    }
    for name in dates.intersection(out):
        value = out[name]
        if isinstance(value, int):
            out[name] = iso(value)
    return out


def export_document(layout: IndexLayout, doc: tantivy.Document) -> dict[str, Any]:
    """The export-shape document: key, envelope, `properties`, blob metadata, in the index's field order.

    Values come from the stored raw twins; an absent string is `""` when the row held an empty string
    (listed in `_empty`), else null; datetimes are stored as epoch microseconds and printed in ISO form.
    """
    stored = doc.to_dict()
    empty_text = (stored.get(EMPTY_FIELD) or [""])[0]
    empty = set(empty_text.split("\n")) if empty_text else set()
    plan = _plan(layout)
    out = _values(plan.envelope, stored, empty, plan.dates)
    props = _values(plan.props, stored, empty, plan.dates)
    extra = (stored.get(EXTRA_FIELD) or [None])[0]
    if extra:
        try:
            props = merge_patch(props, orjson.loads(extra))
        except orjson.JSONDecodeError:
            pass  # the archive writes valid JSON; an unreadable _Extra leaves the known columns
    out["properties"] = props
    out.update(_values(plan.metadata, stored, empty, plan.dates))
    return out
