"""Ingest entry point used by the CLI: choose the source(s), open the archive, run the loop."""

from __future__ import annotations

import os
import threading

from huntvault.archive import Archive, archive_location
from huntvault.config import ArchiveConfig, SourceConfig
from huntvault.errors import ConfigError
from huntvault.sources.kinds import build_source
from huntvault.sources.run import Ingestor, IngestStats, Progress


def source_from_options(
    sources: list[SourceConfig],
    from_dir: str | None = None,
    from_azure: str | None = None,
    name: str | None = None,
    from_jsonl: str | None = None,
    table: str | None = None,
    from_replay: str | None = None,
) -> SourceConfig:
    """The source the command line names (`--from`, `--from-azure`, `--from-jsonl`, `--from-replay` or `--source`)."""
    given = [x for x in (from_dir, from_azure, name, from_jsonl, from_replay) if x]
    if len(given) != 1:
        raise ConfigError(
            "ingest", "give exactly one of --from, --from-azure, --from-jsonl, --from-replay, --source"
        )
    if from_dir:
        return SourceConfig(name="local:" + os.path.abspath(from_dir), kind="local", path=from_dir)
    if from_azure:
        cfg = SourceConfig(name="azure", kind="azure-blob")
        if from_azure.startswith(("http://", "https://")):
            url, _, sas = from_azure.partition("?")
            cfg.account_url, cfg.sas_token = url, sas
        else:
            cfg.connection_string = from_azure
        return cfg
    if from_jsonl:
        label = "stdin" if from_jsonl == "-" else os.path.abspath(from_jsonl)
        return SourceConfig(name="jsonl:" + label, kind="jsonl", path=from_jsonl, table=table or "")
    if from_replay:
        return SourceConfig(
            name="replay:" + os.path.abspath(from_replay), kind="eventhub-replay", path=from_replay
        )
    for s in sources:
        if s.name == name:
            if table and not s.table:
                s.table = table
            return s
    raise ConfigError(
        "ingest.--source",
        f"no [[sources]] entry named {name!r} (known: {', '.join(s.name for s in sources)})",
    )


def run_ingest(
    source_cfg: SourceConfig,
    archive_dir: str,
    archive_cfg: ArchiveConfig,
    follow: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    fast: bool = True,
) -> IngestStats:
    """Ingest one source into the archive at `archive_dir` (a folder or az:// URL; one pass, or `follow`
    until `stop` is set). Object-store credentials come from `archive_cfg`."""
    source = build_source(source_cfg)
    with Archive(archive_location(archive_cfg, archive_dir), compression=archive_cfg.compression) as arc:
        ing = Ingestor(source, arc, archive_cfg, fast=fast, progress=progress)
        try:
            return ing.run(stop, follow=follow, poll_seconds=source_cfg.poll_seconds)
        finally:
            ing.close()


__all__ = ["run_ingest", "source_from_options"]
