"""Sink anatomy and the local sinks (JSON lines file, stdout, archive), plus the sink registry."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson

from huntvault.config import SinkConfig
from huntvault.errors import ConfigError, ForwardError, SinkRejected


class Sink(Protocol):
    """One destination. `units` cuts a batch into delivery units (one request each); `send` delivers
    one unit and returns only once the destination acknowledged it, else raises SinkRejected
    (permanent, goes to the dead-letter folder) or SinkUnavailable (transient, stays queued)."""

    name: str

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]: ...

    def send(self, records: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def json_size(record: dict[str, Any]) -> int:
    return len(orjson.dumps(record))


def units_by_bytes(records: list[dict[str, Any]], limit: int, max_records: int) -> list[list[int]]:
    """Indexes of `records` grouped so that each JSON array body stays under `limit` bytes.

    A single record larger than the limit gets a unit of its own (the sink then rejects it, and it is
    dead-lettered with the reason rather than blocking the queue).
    """
    units: list[list[int]] = []
    current: list[int] = []
    size = 2  # the brackets
    for i, rec in enumerate(records):
        n = json_size(rec) + 1  # the comma
        if current and (size + n > limit or len(current) >= max_records):
            units.append(current)
            current, size = [], 2
        current.append(i)
        size += n
    if current:
        units.append(current)
    return units


class JsonlSink:
    """Appends one JSON object per line to a file (fsynced per unit), or writes to stdout."""

    def __init__(self, cfg: SinkConfig, archive_path: str = "") -> None:
        self.name = cfg.name
        self.cfg = cfg
        self._stdout = cfg.kind == "stdout" or cfg.path in ("", "-")
        if cfg.kind == "jsonl" and self._stdout:
            raise ConfigError(f"forward.sinks.{cfg.name}.path", "a jsonl sink needs a file path")
        if not self._stdout:
            Path(cfg.path).parent.mkdir(parents=True, exist_ok=True)

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        return units_by_bytes(records, 64 * 1024 * 1024, self.cfg.batch_size)

    def send(self, records: list[dict[str, Any]]) -> None:
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        if self._stdout:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        try:
            with open(self.cfg.path, "ab") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise ForwardError(f"sink {self.name}: cannot write {self.cfg.path}: {exc}") from None

    def close(self) -> None:
        pass


#: Archive tables the forwarder writes (joinable with DeviceEvents & co. on DeviceId).
ALERT_TABLE = "DefenderApiAlerts"
MACHINE_TABLE = "DefenderApiMachines"


class ArchiveSink:
    """Writes forwarded alerts, and the machines they carry, into the archive through its writer API.

    One row per alert version in `DefenderApiAlerts` (`Timestamp` = lastUpdateTime, `AlertId`,
    `DeviceId` = machineId, then every field of the merged record) and one per machine state in
    `DefenderApiMachines` (`Timestamp`, `DeviceId`, the machine's fields). `Archive.append_rows`
    commits exactly once and drops rows already archived, so a unit re-sent after a crash adds
    nothing. While these tables are not in the schema data file the archive keeps their fields in
    `_Extra` (JSON); with entries in tables.json the same rows become typed columns.
    """

    def __init__(self, cfg: SinkConfig, archive_path: str = "") -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.root = cfg.path or archive_path
        if not self.root:
            raise ConfigError(f"forward.sinks.{cfg.name}.path", "an archive sink needs a folder")
        self._archive: Any = None

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        step = max(1, self.cfg.batch_size)
        return [list(range(i, min(i + step, len(records)))) for i in range(0, len(records), step)]

    def send(self, records: list[dict[str, Any]]) -> None:
        from huntvault.archive import Archive
        from huntvault.errors import ArchiveError, NormaliseError

        alerts: list[dict[str, Any]] = []
        machines: list[dict[str, Any]] = []
        for r in records:
            when = r.get("lastUpdateTime") or r.get("alertCreationTime")
            alert = {k: v for k, v in r.items() if not (k.startswith("Machine") and k != "Machine")}
            alerts.append(
                {
                    "Timestamp": when,
                    "AlertId": str(r.get("id", "")),
                    "DeviceId": str(r.get("machineId") or ""),
                    **alert,
                }
            )
            machine = {
                k[7:8].lower() + k[8:]: v for k, v in r.items() if k.startswith("Machine") and len(k) > 7
            }
            if machine.get("id"):
                machines.append({"Timestamp": when, "DeviceId": str(machine["id"]), **machine})
        try:
            if self._archive is None:
                self._archive = Archive(self.root)
            self._archive.append_rows(ALERT_TABLE, alerts, source=f"forward:{self.name}")
            if machines:
                self._archive.append_rows(MACHINE_TABLE, machines, source=f"forward:{self.name}")
        except NormaliseError as exc:
            raise SinkRejected(f"archive refused a row: {exc}", 400) from None
        except (ArchiveError, OSError) as exc:
            raise ForwardError(f"sink {self.name}: archive write failed: {exc}") from None

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None


SinkFactory = Callable[[SinkConfig, str], Sink]


def _log_analytics(kind: str) -> SinkFactory:
    def build(cfg: SinkConfig, archive_path: str) -> Sink:
        from huntvault.forward import loganalytics

        return loganalytics.SINKS[kind](cfg)

    return build


#: sink kind -> factory(config, default archive path)
SINK_KINDS: dict[str, SinkFactory] = {
    "jsonl": JsonlSink,
    "stdout": JsonlSink,
    "archive": ArchiveSink,
    "logs-ingestion": _log_analytics("logs-ingestion"),
    "data-collector": _log_analytics("data-collector"),
}


def build_sink(cfg: SinkConfig, archive_path: str = "") -> Sink:
    factory = SINK_KINDS.get(cfg.kind)
    if factory is None:
        raise ConfigError(f"forward.sinks.{cfg.name}.kind", f"unknown sink kind {cfg.kind!r}")
    return factory(cfg, archive_path)


__all__ = ["SINK_KINDS", "ArchiveSink", "JsonlSink", "Sink", "SinkRejected", "build_sink", "units_by_bytes"]
