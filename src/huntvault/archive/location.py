"""Where an archive lives: a local folder or an Azure Blob / ADLS URL, its delta-rs storage options and local state."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from huntvault.config import ArchiveConfig
from huntvault.errors import ArchiveError

STATE_DIR = "_huntvault"  # local archives keep their state here; object-store archives in the cache dir
QUARANTINE_TABLE = "_quarantine"
PROGRESS_DIR = f"{STATE_DIR}/progress"  # one small Delta table per source: checkpoints and counters

_REMOTE = ("az://", "abfs://", "abfss://", "https://", "http://")


@dataclass(frozen=True)
class ArchiveLocation:
    """An archive root: `url` (a local absolute path, or `az://container/prefix`), how delta-rs reaches it
    (`options`), and the local folder of its rebuildable state (dedupe-key index, writer locks)."""

    url: str
    local: Path | None
    state_dir: Path
    options: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def remote(self) -> bool:
        return self.local is None

    def uri(self, rel: str) -> str:
        """The URI (or local path) of `rel`, a path relative to the archive root."""
        rel = rel.strip("/")
        if self.local is not None:
            return str(self.local / rel) if rel else str(self.local)
        return f"{self.url}/{rel}" if rel else self.url

    def table_uri(self, table: str) -> str:
        return self.uri(table)

    def filesystem(self) -> pafs.FileSystem:
        """A pyarrow filesystem whose paths are relative to the archive root (local or object store)."""
        if self.local is not None:
            return pafs.SubTreeFileSystem(str(self.local), pafs.LocalFileSystem())
        from deltalake.fs import DeltaStorageHandler

        return pafs.PyFileSystem(DeltaStorageHandler(self.url, dict(self.options)))

    def __str__(self) -> str:
        return self.url


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "huntvault" / "archives"


def _connection_string(text: str) -> dict[str, str]:
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    out: dict[str, str] = {}
    if parts.get("AccountName"):
        out["account_name"] = parts["AccountName"]
    if parts.get("AccountKey"):
        out["account_key"] = parts["AccountKey"]
    if parts.get("SharedAccessSignature"):
        out["sas_token"] = parts["SharedAccessSignature"]
    if parts.get("BlobEndpoint"):
        out["endpoint"] = parts["BlobEndpoint"].rstrip("/")
    elif parts.get("AccountName"):
        suffix = parts.get("EndpointSuffix", "core.windows.net")
        proto = parts.get("DefaultEndpointsProtocol", "https")
        out["endpoint"] = f"{proto}://{parts['AccountName']}.blob.{suffix}"
    return out


def _parse_remote(path: str) -> tuple[str, str, str]:
    """(container, prefix, account or '') of an az://, abfs(s):// or https:// archive URL."""
    u = urlparse(path)
    if u.scheme in ("abfs", "abfss"):
        container, _, host = u.netloc.partition("@")
        account = host.split(".", 1)[0] if host else ""
        return container, u.path.strip("/"), account
    if u.scheme == "az":
        container, _, account = u.netloc.partition("@")
        return container, u.path.strip("/"), account.split(".", 1)[0]
    # https://account.blob.core.windows.net/container/prefix
    segments = u.path.strip("/").split("/", 1)
    return segments[0], segments[1] if len(segments) > 1 else "", u.netloc.split(".", 1)[0]


_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?$")


def _remote(path: str, cfg: ArchiveConfig) -> ArchiveLocation:
    container, prefix, account = _parse_remote(path)
    if not _CONTAINER.match(container or ""):
        raise ArchiveError(
            f"archive.path {path!r}: expected az://container/prefix, abfss://container@account.dfs.core."
            "windows.net/prefix or https://account.blob.core.windows.net/container/prefix"
        )
    opts: dict[str, str] = {}
    if cfg.connection_string:
        opts.update(_connection_string(cfg.connection_string))
    account = cfg.account_name or account or opts.get("account_name", "")
    if not account:
        raise ArchiveError(
            f"archive.account_name: the storage account of {path!r} is unknown "
            "(set it, use an abfss:// URL, or HUNTVAULT_ARCHIVE_CONNECTION_STRING)"
        )
    opts["account_name"] = account
    if cfg.account_key:
        opts["account_key"] = cfg.account_key
    if cfg.sas_token:
        opts["sas_token"] = cfg.sas_token.lstrip("?")
    if cfg.endpoint:
        opts["endpoint"] = cfg.endpoint.rstrip("/")
    if opts.get("endpoint", "").startswith("http://"):
        opts["allow_http"] = "true"
    if not any(k in opts for k in ("account_key", "sas_token")):
        opts.update(_identity_token())
    url = f"az://{container}/{prefix}" if prefix else f"az://{container}"
    digest = hashlib.sha256(f"{opts.get('endpoint', account)}|{url}".encode()).hexdigest()[:16]
    # one state folder per archive, even under a shared [archive].state_dir (keys never leak across archives)
    state = (Path(cfg.state_dir) if cfg.state_dir else _cache_dir()) / f"{account}-{container}-{digest}"
    return ArchiveLocation(url.rstrip("/"), None, state, opts)


def _identity_token() -> dict[str, str]:
    """A bearer token from azure-identity's DefaultAzureCredential (managed identity, CLI, environment...)."""
    try:
        from azure.identity import DefaultAzureCredential

        token = DefaultAzureCredential().get_token("https://storage.azure.com/.default")
    except Exception as exc:  # azure-identity raises its own tree; one line naming the settings
        raise ArchiveError(
            "archive: no HUNTVAULT_ARCHIVE_ACCOUNT_KEY, HUNTVAULT_ARCHIVE_SAS_TOKEN or "
            f"HUNTVAULT_ARCHIVE_CONNECTION_STRING, and DefaultAzureCredential failed: {str(exc).splitlines()[0]}"
        ) from None
    return {"bearer_token": token.token}


def locate(
    archive: str | os.PathLike[str] | ArchiveLocation, cfg: ArchiveConfig | None = None
) -> ArchiveLocation:
    """The location of an archive given as a folder, a URL or an `ArchiveLocation` (returned as is).

    Object-store credentials come from `cfg` (secrets from HUNTVAULT_ARCHIVE_* variables); without `cfg`
    they are read from those variables directly.
    """
    if isinstance(archive, ArchiveLocation):
        return archive
    text = os.fspath(archive)
    if cfg is None:
        cfg = ArchiveConfig(
            account_key=os.environ.get("HUNTVAULT_ARCHIVE_ACCOUNT_KEY", ""),
            sas_token=os.environ.get("HUNTVAULT_ARCHIVE_SAS_TOKEN", ""),
            connection_string=os.environ.get("HUNTVAULT_ARCHIVE_CONNECTION_STRING", ""),
        )
    if text.startswith(_REMOTE):
        key = (text, cfg.connection_string, cfg.account_key, cfg.sas_token, cfg.account_name, cfg.endpoint)
        hit = _REMOTES.get(key)
        if hit is None:
            hit = _REMOTES[key] = _remote(text, cfg)
        return hit
    root = Path(text).resolve()
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    state = Path(cfg.state_dir).resolve() / f"{root.name}-{digest}" if cfg.state_dir else root / STATE_DIR
    return ArchiveLocation(str(root), root, state)


_REMOTES: dict[tuple[str, ...], ArchiveLocation] = {}


def archive_location(cfg: ArchiveConfig, path: str | None = None) -> ArchiveLocation:
    """The archive the configuration names (`path` overrides `[archive].path`, keeping its credentials)."""
    return locate(path or cfg.path, cfg)


__all__ = [
    "PROGRESS_DIR",
    "QUARANTINE_TABLE",
    "STATE_DIR",
    "ArchiveLocation",
    "archive_location",
    "locate",
]
