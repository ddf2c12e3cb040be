"""Source kinds: the table from a [[sources]] entry's `kind` to the source it builds."""

from __future__ import annotations

import os
from collections.abc import Callable

from huntvault.config import SourceConfig
from huntvault.errors import ConfigError
from huntvault.sources.appendblob import AppendBlobSource, AzureBlobClient, LocalFolderClient
from huntvault.sources.messages import EventHubReplaySource, EventHubSource, JsonlSource, StdinSource
from huntvault.sources.run import Source


def _local(cfg: SourceConfig) -> Source:
    if not cfg.path:
        raise ConfigError(f"sources.{cfg.name}.path", "a local source needs the export folder")
    return AppendBlobSource(cfg.name, LocalFolderClient(cfg.path, cfg.containers))


def _azure(cfg: SourceConfig) -> Source:
    if not (cfg.connection_string or cfg.account_url):
        raise ConfigError(
            f"sources.{cfg.name}.account_url", "set account_url or HUNTVAULT_AZURE_CONNECTION_STRING"
        )
    client = AzureBlobClient(cfg.connection_string, cfg.account_url, cfg.sas_token, cfg.containers)
    return AppendBlobSource(cfg.name, client)


def _eventhub(cfg: SourceConfig) -> Source:
    return EventHubSource(
        cfg.name,
        cfg.eventhub_connection_string,
        [cfg.eventhub_name] if cfg.eventhub_name else list(cfg.containers),
        cfg.consumer_group,
        cfg.connection_string or os.environ.get("HUNTVAULT_AZURE_CONNECTION_STRING", ""),
        cfg.checkpoint_container,
    )


def _replay(cfg: SourceConfig) -> Source:
    return EventHubReplaySource(cfg.name, cfg.path)


def _jsonl(cfg: SourceConfig) -> Source:
    if cfg.path in ("", "-"):
        return StdinSource(cfg.name, cfg.table or None)
    return JsonlSource(cfg.name, cfg.path, cfg.table or None)


#: source kind -> factory (the `kind` of a [[sources]] entry)
SOURCE_KINDS: dict[str, Callable[[SourceConfig], Source]] = {
    "local": _local,
    "azure-blob": _azure,
    "eventhub": _eventhub,
    "eventhub-replay": _replay,
    "jsonl": _jsonl,
}


def build_source(cfg: SourceConfig) -> Source:
    """The source a [[sources]] entry describes."""
    factory = SOURCE_KINDS.get(cfg.kind)
    if factory is None:
        raise ConfigError(f"sources.{cfg.name}.kind", f"must be one of {', '.join(SOURCE_KINDS)}")
    return factory(cfg)
