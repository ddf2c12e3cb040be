"""Export-shape documents rebuilt from a tantivy document's stored `_doc` value (one stored value per row)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import tantivy

from huntvault.index.fields import COMPLEX, DOC_FIELD, EXTRA_KEY, KEY_FIELD, IndexLayout, source_codes
from huntvault.index.rowcodec import row_decoder, stored_plan
from huntvault.index.sql import BLOB_ACCOUNT_URL
from huntvault.schema import CATEGORY_PREFIX, EXPORT_TIME_COLUMN, TENANT_COLUMN, Table

EPOCH = datetime(1970, 1, 1)  # naive UTC: isoformat() then prints no offset

Stored = dict[str, Any]


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


def _blob_path(table: Table, export_key: str, tenant_key: str) -> Callable[[Stored], Any]:
    prefix = f"{BLOB_ACCOUNT_URL}/{table.container}/tenantId="

    def path(stored: Stored) -> Any:
        when = stored.get(export_key)
        if when is None:
            return None
        t = EPOCH + timedelta(microseconds=int(when))
        return f"{prefix}{stored.get(tenant_key) or ''}/y={t:%Y}/m={t:%m}/d={t:%d}/h={t:%H}/m=00/PT1H.json"

    return path


def _computed(table: Table) -> dict[str, Callable[[Stored], Any]]:
    """Fields computed from the stored columns (the Python twin of `index.sql.COMPUTED`)."""
    codes = source_codes(table)
    export_key, tenant_key = str(codes[EXPORT_TIME_COLUMN]), str(codes[TENANT_COLUMN])
    category = CATEGORY_PREFIX + table.name
    return {
        "category": lambda s: category,
        "operationName": lambda s: "Publish",
        "metadata_storage_name": lambda s: "PT1H.json",
        "metadata_storage_content_type": lambda s: "application/json",
        "metadata_storage_path": _blob_path(table, export_key, tenant_key),
        "metadata_storage_last_modified": lambda s: None if s.get(export_key) is None else iso(s[export_key]),
        "metadata_storage_size": lambda s: None,
        "metadata_storage_content_md5": lambda s: None,
    }


Getter = Callable[[Stored], Any]


@dataclass(frozen=True)
class _Plan:
    """How each retrievable field of the export document is read from the stored object, computed once per
    layout (the hot path of every page): (output name, getter) in the index's field order."""

    envelope: list[tuple[str, Getter]]  # key and envelope, before `properties`
    props: list[tuple[str, Getter]] | None  # None: no retrievable property (no `properties` object)
    metadata: list[tuple[str, Getter]]  # blob metadata, after `properties`
    decode: Callable[[bytes], Stored]  # the stored `_doc` value -> {key: value}


_PLANS: dict[int, tuple[IndexLayout, _Plan]] = {}


def _getter(key: str, date: bool) -> Getter:
    if date:
        return lambda s: None if (v := s.get(key)) is None else iso(v)
    return lambda s: s.get(key)


def _plan(layout: IndexLayout) -> _Plan:
    cached = _PLANS.get(id(layout))
    if cached is not None and cached[0] is layout:
        return cached[1]
    computed = _computed(layout.table)
    codes = source_codes(layout.table)
    envelope: list[tuple[str, Getter]] = []
    props: list[tuple[str, Getter]] = []
    metadata: list[tuple[str, Getter]] = []
    for spec in layout.fields.values():
        if not spec.retrievable:
            continue
        if spec.key:
            envelope.append((KEY_FIELD, lambda s: s.get(KEY_FIELD)))
            continue
        get = computed.get(spec.path) or _getter(str(codes[spec.source]), spec.storage == "date")
        if spec.path.startswith(COMPLEX + "/"):
            props.append((spec.name, get))
        elif spec.path.startswith("metadata_"):
            metadata.append((spec.path, get))
        else:
            envelope.append((spec.path, get))
    has_props = any(f.retrievable for f in layout.fields.values() if f.path.startswith(COMPLEX + "/"))
    plan = _Plan(envelope, props if has_props else None, metadata, row_decoder(stored_plan(layout)))
    if len(_PLANS) > 256:
        _PLANS.clear()
    _PLANS[id(layout)] = (layout, plan)
    return plan


def export_document(layout: IndexLayout, doc: tantivy.Document) -> dict[str, Any]:
    """The export-shape document of the retrievable fields: key, envelope, `properties`, blob metadata.

    Values come from the stored `_doc` value (index/rowcodec.py: strings as the archive holds them, ''
    included; datetimes stored as epoch microseconds, printed in ISO form); unknown properties (`_Extra`) are merge-patched
    into `properties`, as the archive's catalog does.
    """
    plan = _plan(layout)
    raw = doc.get_first(DOC_FIELD)
    stored: Stored = plan.decode(raw) if raw else {}
    stored[KEY_FIELD] = doc.get_first(KEY_FIELD)
    out = {name: get(stored) for name, get in plan.envelope}
    if plan.props is not None:
        props: Any = {name: get(stored) for name, get in plan.props}
        extra = stored.get(EXTRA_KEY)
        if extra is not None:
            props = merge_patch(props, extra)
        out[COMPLEX] = props
    for name, get in plan.metadata:
        out[name] = get(stored)
    return out
