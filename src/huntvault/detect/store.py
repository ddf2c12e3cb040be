"""Where alerts go: the archive (HuntvaultAlerts / HuntvaultAlertEvidence, through the archive writer) and the
forwarder's sinks (through the forwarder's outbox and ledger), both idempotent so a re-delivery duplicates nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from huntvault.config import ForwardConfig, SinkConfig

if TYPE_CHECKING:
    from huntvault.forward import Forwarder

ALERTS_TABLE = "HuntvaultAlerts"
EVIDENCE_TABLE = "HuntvaultAlertEvidence"

AlertItem = tuple[str, dict[str, Any], list[dict[str, Any]]]  # (alert id, record, evidence rows)


@dataclass(frozen=True)
class SinkDelivery:
    """One sink's delivery pass after a cycle: records sent, dead-lettered, still queued, and why it stopped."""

    sent: int = 0
    dead: int = 0
    pending: int = 0
    down: str = ""


class AlertStore(Protocol):
    """Takes a window's alerts; `put` must be idempotent (it is repeated after a crash)."""

    def put(self, items: list[AlertItem]) -> None: ...

    def flush(self) -> dict[str, SinkDelivery]: ...

    def close(self) -> None: ...


def archive_row(record: dict[str, Any]) -> dict[str, Any]:
    """The HuntvaultAlerts row of an alert record: flat columns, lists and objects as JSON text."""
    j = orjson.dumps
    return {
        "Timestamp": record["windowEnd"],
        "AlertId": record["id"],
        "RuleId": record["ruleId"],
        "Title": record["title"],
        "Severity": record["severity"],
        "Category": record["category"],
        "Tactics": j(record["tactics"]).decode(),
        "Techniques": j(record["mitreTechniques"]).decode(),
        "Grouping": record["grouping"],
        "GroupKey": record["groupKey"],
        "WindowStart": record["windowStart"],
        "WindowEnd": record["windowEnd"],
        "FirstEventTime": record["firstEventTime"],
        "LastEventTime": record["lastEventTime"],
        "DeviceName": record["computerDnsName"],
        "Entities": j(record["entities"]).decode(),
        "RowCount": record["rowCount"],
        "DetectionSource": record["detectionSource"],
    }


class ArchiveAlertStore:
    """Alerts into the archive and into the forwarder outbox of `state_dir/forward` for the given sinks.

    The archive dedupes rows by content and the records are replayed from the detection outbox
    byte for byte, so repeating `put` adds nothing; the forwarder's outbox/ledger is keyed by
    (alert id, lastUpdateTime), so a repeated enqueue is skipped too.
    """

    def __init__(
        self,
        archive: str | os.PathLike[str],
        state_dir: str | os.PathLike[str],
        sinks: list[SinkConfig] | None = None,
        compression: str = "zstd",
    ) -> None:
        from huntvault.archive import Archive

        self.archive = Archive(archive, compression=compression)
        self.forwarder: Forwarder | None = None
        if sinks:
            from huntvault.forward import Forwarder

            fcfg = ForwardConfig(state_dir=str(Path(state_dir) / "forward"), sinks=list(sinks))
            self.forwarder = Forwarder(fcfg, str(archive))

    def put(self, items: list[AlertItem]) -> None:
        if not items:
            return
        from huntvault.archive import Batch, archive_schema, conform, rows_to_arrow

        batch = Batch()
        alerts = [archive_row(record) for _, record, _ in items]
        evidence = [row for _, _, rows in items for row in rows]
        batch.add(ALERTS_TABLE, conform(rows_to_arrow(ALERTS_TABLE, alerts), archive_schema(ALERTS_TABLE)))
        if evidence:
            batch.add(
                EVIDENCE_TABLE,
                conform(rows_to_arrow(EVIDENCE_TABLE, evidence), archive_schema(EVIDENCE_TABLE)),
            )
        self.archive.commit(batch)
        if self.forwarder is not None:
            from datetime import UTC, datetime

            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            records = [(alert_id, record["lastUpdateTime"], record) for alert_id, record, _ in items]
            self.forwarder.state.enqueue([s.name for s in self.forwarder.sinks], records, None, now)

    def flush(self) -> dict[str, SinkDelivery]:
        """Deliver what is queued for the sinks (the forwarder's delivery pass, ledger and dead letters)."""
        if self.forwarder is None:
            return {}
        return {
            name: SinkDelivery(res.sent, res.dead, res.pending, res.down)
            for name, res in self.forwarder.deliver().items()
        }

    def close(self) -> None:
        self.archive.close()
        if self.forwarder is not None:
            self.forwarder.close()


class MemoryAlertStore:
    """Keeps alerts in memory by id (backtests and tests); `put` twice keeps one copy, `puts` counts calls."""

    def __init__(self) -> None:
        self.alerts: dict[str, dict[str, Any]] = {}
        self.evidence: dict[str, list[dict[str, Any]]] = {}
        self.puts = 0

    def put(self, items: list[AlertItem]) -> None:
        self.puts += 1
        for alert_id, record, evidence in items:
            self.alerts[alert_id] = record
            self.evidence[alert_id] = evidence

    def flush(self) -> dict[str, SinkDelivery]:
        return {}

    def close(self) -> None:
        pass


__all__ = [
    "ALERTS_TABLE",
    "EVIDENCE_TABLE",
    "AlertItem",
    "AlertStore",
    "ArchiveAlertStore",
    "MemoryAlertStore",
    "SinkDelivery",
    "archive_row",
]
