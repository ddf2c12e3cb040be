"""The local sinks (JSON lines file, stdout, archive), plus the sink registry."""

from __future__ import annotations

import dataclasses
import errno
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from huntvault.config import SinkConfig
from huntvault.durable import append_durably, truncate_durably
from huntvault.errors import ConfigError, RemoteConfigError, SinkRejected, SinkUnavailable
from huntvault.forward.anatomy import Rewindable, Sink, units_by_bytes
from huntvault.forward.loganalytics import SINKS as LOG_ANALYTICS_SINKS
from huntvault.forward.merge import MERGE_MODES
from huntvault.forward.shape import ALERT_TABLE, MACHINE_TABLE

if TYPE_CHECKING:
    from huntvault.archive import Archive

#: an OSError that a fix of the configuration cures (the path), not a passing fault (disk full...)
_PATH_ERRORS = {errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.ENOENT, errno.EROFS}


class StdoutSink:
    """Writes one JSON object per line to standard output (no acknowledgement beyond the flush)."""

    def __init__(self, cfg: SinkConfig, archive_path: str = "") -> None:
        self.name = cfg.name
        self.cfg = cfg

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        return units_by_bytes(records, 64 * 1024 * 1024, self.cfg.batch_size)

    def send(self, records: list[dict[str, Any]]) -> None:
        sys.stdout.buffer.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
        sys.stdout.flush()

    def close(self) -> None:
        pass


class JsonlSink:
    """Appends one JSON object per line to a file, fsynced per unit (huntvault.durable).

    Exactly once: the forwarder commits the file size with each unit's ledger entry (Rewindable) and,
    after a crash between an append and its commit, cuts the file back to it before sending again.
    One file per sink: another writer appending to it would be cut too.
    """

    def __init__(self, cfg: SinkConfig, archive_path: str = "") -> None:
        self.name = cfg.name
        self.cfg = cfg
        if cfg.path in ("", "-"):
            raise ConfigError(
                f"forward.sinks.{cfg.name}.path", 'a jsonl sink needs a file path (or kind = "stdout")'
            )
        self.path = Path(cfg.path)

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        return units_by_bytes(records, 64 * 1024 * 1024, self.cfg.batch_size)

    def _fail(self, exc: OSError) -> Exception:
        if exc.errno in _PATH_ERRORS:
            return RemoteConfigError(
                f"forward.sinks.{self.name}.path", f"cannot write {self.path}: {exc.strerror}"
            )
        return SinkUnavailable(f"sink {self.name}: cannot write {self.path}: {exc}")

    def position(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise self._fail(exc) from None

    def rewind(self, position: int) -> None:
        try:
            if self.path.stat().st_size > position:
                truncate_durably(self.path, position)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._fail(exc) from None

    def send(self, records: list[dict[str, Any]]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            append_durably(self.path, b"".join(orjson.dumps(r) + b"\n" for r in records))
        except OSError as exc:
            raise self._fail(exc) from None

    def close(self) -> None:
        pass


class ArchiveSink:
    """Writes forwarded alerts, and the machines they carry, into the archive through its writer API.

    Takes `prefixed` records (its table layout): one row per alert version in `DefenderApiAlerts`
    (`Timestamp` = lastUpdateTime, `AlertId`, `DeviceId` = machineId, then every alert field) and one
    per machine state in `DefenderApiMachines` (`Timestamp`, `DeviceId`, the machine's fields).
    `Archive.append_rows` commits exactly once and drops rows already archived, so a unit re-sent
    after a crash adds nothing.
    """

    def __init__(self, cfg: SinkConfig, archive_path: str = "") -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.root = cfg.path or archive_path
        if not self.root:
            raise ConfigError(f"forward.sinks.{cfg.name}.path", "an archive sink needs a folder")
        if cfg.merge not in ("", "prefixed"):
            raise ConfigError(f"forward.sinks.{cfg.name}.merge", "an archive sink takes prefixed records")
        self._archive: Archive | None = None

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        step = max(1, self.cfg.batch_size)
        return [list(range(i, min(i + step, len(records)))) for i in range(0, len(records), step)]

    def send(self, records: list[dict[str, Any]]) -> None:
        from huntvault.archive import Archive
        from huntvault.errors import ArchiveError, NormaliseError

        split = MERGE_MODES["prefixed"].machine
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
            machine = split(r)
            if machine.get("id") and len(machine) > 1:
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
            raise SinkUnavailable(f"sink {self.name}: archive write failed: {exc}") from None

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None


SinkFactory = Callable[[SinkConfig, str], Sink]


def _log_analytics(kind: str) -> SinkFactory:
    def build(cfg: SinkConfig, archive_path: str) -> Sink:
        return LOG_ANALYTICS_SINKS[kind](cfg)

    return build


#: sink kind -> factory(config, default archive path)
SINK_KINDS: dict[str, SinkFactory] = {
    "jsonl": JsonlSink,
    "stdout": StdoutSink,
    "archive": ArchiveSink,
    "logs-ingestion": _log_analytics("logs-ingestion"),
    "data-collector": _log_analytics("data-collector"),
}
#: sink kind -> the record shape it needs whatever [forward].merge says ("" = the configured one)
FIXED_MERGE: dict[str, str] = {"archive": "prefixed"}


def effective(cfg: SinkConfig, merge: str) -> SinkConfig:
    """The sink's settings with its record shape resolved (its own `merge`, its kind's, or `merge`)."""
    return dataclasses.replace(cfg, merge=cfg.merge or FIXED_MERGE.get(cfg.kind, "") or merge)


def build_sink(cfg: SinkConfig, archive_path: str = "") -> Sink:
    factory = SINK_KINDS.get(cfg.kind)
    if factory is None:
        raise ConfigError(f"forward.sinks.{cfg.name}.kind", f"unknown sink kind {cfg.kind!r}")
    return factory(cfg, archive_path)


__all__ = [
    "SINK_KINDS",
    "ArchiveSink",
    "JsonlSink",
    "Rewindable",
    "Sink",
    "SinkRejected",
    "StdoutSink",
    "build_sink",
    "effective",
    "units_by_bytes",
]
