"""Quarantined lines: the record type, and the `_quarantine` Delta table they are committed to."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

#: the `_quarantine` table: one row per line that could not be archived, partitioned by ingestion day
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("Timestamp", pa.timestamp("us", tz="UTC")),  # when it was quarantined
        pa.field("source", pa.string()),
        pa.field("stream", pa.string()),
        pa.field("offset", pa.int64()),
        pa.field("reason", pa.string()),
        pa.field("table_hint", pa.string()),
        pa.field("line", pa.string()),
        pa.field("line_base64", pa.string()),  # the raw bytes when the line is not UTF-8
    ]
)
#: a line quarantined twice (a re-read after a crash) is the same record: same source, stream, offset, bytes
QUARANTINE_KEY = ("source", "stream", "offset", "line", "line_base64")


@dataclass(frozen=True)
class QuarantineRecord:
    """One line that could not be archived, with where it came from and why."""

    source: str
    stream: str  # blob path, file, partition...
    offset: int  # byte offset of the line in the stream (record index for Event Hub messages)
    reason: str
    line: bytes
    table_hint: str | None = None

    def text(self) -> tuple[str, str | None]:
        """The line as text, and its base64 when the bytes are not UTF-8."""
        text = self.line.decode("utf-8", errors="replace")
        raw = None if text.encode("utf-8") == self.line else base64.b64encode(self.line).decode()
        return text, raw

    def to_json(self) -> bytes:
        text, raw = self.text()
        obj: dict[str, Any] = {
            "source": self.source,
            "stream": self.stream,
            "offset": self.offset,
            "reason": self.reason,
            "table_hint": self.table_hint,
            "line": text,
        }
        if raw is not None:
            obj["line_base64"] = raw
        return orjson.dumps(obj)


def quarantine_table(records: list[QuarantineRecord], now: datetime | None = None) -> pa.Table:
    """Records as rows of the `_quarantine` table."""
    when = now or datetime.now(UTC)
    texts = [r.text() for r in records]
    return pa.table(
        {
            "Timestamp": pa.array([when] * len(records), pa.timestamp("us", tz="UTC")),
            "source": [r.source for r in records],
            "stream": [r.stream for r in records],
            "offset": pa.array([r.offset for r in records], pa.int64()),
            "reason": [r.reason for r in records],
            "table_hint": [r.table_hint for r in records],
            "line": [t for t, _ in texts],
            "line_base64": [b for _, b in texts],
        },
        schema=QUARANTINE_SCHEMA,
    )


@dataclass(frozen=True)
class QuarantinedLine:
    """A quarantined line as stored: which part and row hold it, where it came from, and why."""

    part: str  # stable part id (relative to the archive root)
    row: int  # 1-based row in the part
    source: str
    stream: str
    offset: int
    reason: str
    table_hint: str | None
    line: str
    line_base64: str | None
    quarantined: str  # ISO time

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "stream": self.stream,
            "offset": self.offset,
            "reason": self.reason,
            "table_hint": self.table_hint,
            "line": self.line,
        }
        if self.line_base64 is not None:
            out["line_base64"] = self.line_base64
        return out


__all__ = ["QUARANTINE_KEY", "QUARANTINE_SCHEMA", "QuarantineRecord", "QuarantinedLine", "quarantine_table"]
