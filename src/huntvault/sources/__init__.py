"""Streaming-export sources (local folder, Azure Blob, Event Hub, Event Hub replay, jsonl) and their run loop."""

from __future__ import annotations

from huntvault.sources.appendblob import AppendBlobSource, AzureBlobClient, BlobInfo, LocalFolderClient
from huntvault.sources.decode import Decoded, Decoder, split_lines
from huntvault.sources.ingest import run_ingest, source_from_options
from huntvault.sources.kinds import SOURCE_KINDS, build_source
from huntvault.sources.messages import EventHubReplaySource, EventHubSource, JsonlSource, StdinSource
from huntvault.sources.run import Chunk, Ingestor, IngestStats, Source

__all__ = [
    "SOURCE_KINDS",
    "AppendBlobSource",
    "AzureBlobClient",
    "BlobInfo",
    "Chunk",
    "Decoded",
    "Decoder",
    "EventHubReplaySource",
    "EventHubSource",
    "IngestStats",
    "Ingestor",
    "JsonlSource",
    "LocalFolderClient",
    "Source",
    "StdinSource",
    "build_source",
    "run_ingest",
    "source_from_options",
    "split_lines",
]
