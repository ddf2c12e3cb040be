"""Enrichment merges of an alert with its machine: `prefixed` (default) and `logicapp` (exact union())."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MACHINE_PREFIX = "Machine"

Merge = Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]


def merge_logicapp(alert: dict[str, Any], machine: dict[str, Any] | None) -> dict[str, Any]:
    """Logic Apps `union(alert, machine)`: a top-level, last-wins merge.

    Pitfall reproduced on purpose: the machine's `id`, `computerDnsName` and `rbacGroupName`
    overwrite the alert's, so the record's `id` is the MACHINE id, not the alert id.
    """
    out = dict(alert)
    out.update(machine or {})
    return out


def merge_prefixed(alert: dict[str, Any], machine: dict[str, Any] | None) -> dict[str, Any]:
    """Every alert field as is, then each machine field as `Machine<Field>` (`id` -> `MachineId`)."""
    out = dict(alert)
    for key, value in (machine or {}).items():
        out[MACHINE_PREFIX + key[:1].upper() + key[1:]] = value
    return out


MERGES: dict[str, Merge] = {"prefixed": merge_prefixed, "logicapp": merge_logicapp}


def alert_key(alert: dict[str, Any]) -> tuple[str, str]:
    """What one delivery is counted by: the alert id and its lastUpdateTime."""
    return str(alert.get("id", "")), str(alert.get("lastUpdateTime", ""))
