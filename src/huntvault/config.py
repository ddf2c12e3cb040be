"""huntvault.toml: every setting with its default, secrets from HUNTVAULT_* variables, validation and redaction."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huntvault.errors import ConfigError

DEFAULT_FILE = "huntvault.toml"
ENV_FILE = "HUNTVAULT_CONFIG"
#: The CLI's last resort (after --config, $HUNTVAULT_CONFIG and ./huntvault.toml): the config `make demo`
#: writes, so `huntvault` run from the repository finds the demo's data.
DEMO_FILE = ".demo/huntvault.toml"


def secret(env: str) -> Any:
    """A field whose value comes only from the environment variable `env`, never from the file."""
    return field(default="", metadata={"secret": True, "env": env})


@dataclass
class ArchiveConfig:
    path: str = "huntvault-data/archive"
    flush_rows: int = 200_000  # rows buffered per table before a part is written
    flush_seconds: float = 5.0  # a buffered row waits at most this long (freshness)
    flush_bytes: int = 256 * 1024 * 1024  # total buffered JSON bytes before everything is flushed
    compression: str = "zstd"
    target_part_rows: int = 1_000_000  # what `compact` aims for
    # where the dedupe-key index and locks live (a rebuildable cache); "" = <path>/_huntvault for a local
    # archive, $XDG_CACHE_HOME/huntvault/archives/<hash> for an object-store archive
    state_dir: str = ""
    account_name: str = ""  # az:// archives: the storage account (abfss:// and https:// URLs carry it)
    endpoint: str = ""  # az:// archives: blob endpoint override (Azurite, sovereign clouds)
    vacuum_grace_hours: float = (
        24.0  # files a compaction/retention removed stay this long for running readers
    )
    account_key: str = secret("HUNTVAULT_ARCHIVE_ACCOUNT_KEY")
    sas_token: str = secret("HUNTVAULT_ARCHIVE_SAS_TOKEN")
    connection_string: str = secret("HUNTVAULT_ARCHIVE_CONNECTION_STRING")


@dataclass
class RetentionConfig:
    default_days: int = 0  # 0 keeps forever
    tables: dict[str, int] = field(default_factory=dict)  # per-table days, e.g. DeviceNetworkEvents = 365


@dataclass
class SourceConfig:
    name: str = "local"
    kind: str = "local"  # local | azure-blob | eventhub | eventhub-replay | jsonl
    path: str = ""  # local folder, jsonl file or Event Hub replay folder
    account_url: str = ""  # azure-blob with azure-identity (DefaultAzureCredential)
    containers: list[str] = field(
        default_factory=list
    )  # subset of insights-logs-advancedhunting-*; empty = all
    eventhub_name: str = ""  # empty = one hub per table
    consumer_group: str = "$Default"
    checkpoint_container: str = "huntvault-checkpoints"
    poll_seconds: float = 2.0
    table: str = ""  # jsonl: the table of bare rows (envelopes name their own)
    connection_string: str = secret("HUNTVAULT_AZURE_CONNECTION_STRING")
    sas_token: str = secret("HUNTVAULT_AZURE_SAS_TOKEN")
    eventhub_connection_string: str = secret("HUNTVAULT_EVENTHUB_CONNECTION_STRING")


@dataclass
class IndexConfig:
    enabled: bool = True
    path: str = "huntvault-data/index"
    tables: list[str] = field(default_factory=list)  # empty = every archived table
    writer_heap_mb: int = 256
    writer_threads: int = 0  # tantivy indexing threads; 0 = one per core (at most 8)
    poll_seconds: float = 2.0  # the server re-syncs the indexes with the archive this often
    # a filter, sort or facet on a field its definition does not make filterable/sortable/facetable:
    # false = answered from the archive (same results, slower); true = Azure's 400 (per index:
    # "@huntvault.strictAttributes" in its definition)
    strict_attributes: bool = False


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    no_auth: bool = False  # loopback hosts only: `serve` refuses to start with it on any other address
    max_request_bytes: int = 1_048_576  # request bodies, counted while they stream in (chunked too)
    max_response_bytes: int = 32 * 1024 * 1024  # a larger search or hunt answer is a 400 naming this bound
    max_concurrent_searches_per_key: int = 8  # past it: 429 with Retry-After
    max_concurrent_hunts_per_key: int = 2
    search_workers: int = 4  # threads that run searches (off the event loop)
    hunt_workers: int = 2  # threads that run hunts
    search_timeout_seconds: float = 30.0  # a search still running then answers 400
    shutdown_grace_seconds: float = 5.0  # SIGTERM: running hunts are cancelled, connections closed after this
    admin_key: str = secret("HUNTVAULT_ADMIN_KEY")
    query_key: str = secret("HUNTVAULT_QUERY_KEY")


@dataclass
class SearchConfig:
    """Bounds on one search query, as Azure AI Search and Elasticsearch have them (docs/security.md)."""

    max_clauses: int = 1024  # Azure's maximum clause count; a fuzzy term counts as its expansions
    fuzzy_expansions: int = 50  # Azure expands a fuzzy term to at most 50 terms
    max_pattern_terms: int = 10  # regex and wildcard terms in one query
    max_regex_chars: int = 1000  # Elasticsearch's index.max_regex_length
    max_regex_unbounded: int = 4  # *, + and {n,} in one regex after counted repetitions are expanded
    max_regex_size: int = 1000  # atoms in one regex after counted repetitions are expanded
    max_highlight_tag_chars: int = 1000  # highlightPreTag / highlightPostTag
    max_archive_matches: int = 1_000_000  # documents the archive path may join (filter/sort/facet on a field
    # the index does not hold); past it a 400 asks to make the field filterable/sortable/facetable
    archive_threads: int = 2  # DuckDB threads of the archive path
    archive_memory_mb: int = 1024  # DuckDB memory of the archive path (it spills to disk past it)


@dataclass
class HuntConfig:
    engine: str = "duckdb"  # duckdb | spark
    spark_master: str = "local[1]"  # Spark master URL: local[*], spark://host:7077, yarn
    spark_conf: dict[str, str] = field(default_factory=dict)  # extra Spark settings (spark.jars.packages ...)
    timeout_seconds: float = 300.0
    compile_seconds: float = 10.0  # parsing and planning one query; past it the hunt fails naming this key
    row_cap: int = 100_000
    memory_limit: str = "4GB"  # DuckDB's memory limit per hunt engine (server, CLI and detect alike)
    threads: int = 0  # 0 = all cores
    externaldata_dirs: list[str] = field(
        default_factory=list
    )  # folders externaldata may read; none by default


@dataclass
class DefenderApiConfig:
    source: str = "defender"  # defender (/api/alerts + /api/machines) | graph (Graph security/alerts_v2)
    base_url: str = "https://api.securitycenter.microsoft.com"
    authority: str = "https://login.microsoftonline.com"
    tenant_id: str = ""
    client_id: str = ""
    scope: str = "https://api.securitycenter.microsoft.com/.default"
    certificate_path: str = ""  # PEM with private key, instead of a secret
    certificate_thumbprint: str = ""
    ca_bundle: str = ""  # trust this CA for the API and token endpoint (emulators)
    token_url: str = (
        ""  # OAuth2 token endpoint; "" = <authority>/<tenant_id>/oauth2/v2.0/token (no discovery)
    )
    proxy: str = (
        ""  # http://host:port for the API and token calls; "" = HTTPS_PROXY/NO_PROXY; "none" = direct
    )
    secret_env: str = ""  # a HUNTVAULT_* variable holding the client secret instead of the default one
    calls_per_minute: int = 100
    calls_per_hour: int = 1500
    page_size: int = 10000  # $top; the API maximum
    expand_evidence: bool = True
    machine_cache_seconds: float = 3600.0
    machine_batch_size: int = 100  # ids per `$filter=id in (...)` call
    machine_full_refresh_pages: int = 3  # refresh the whole machine list once per TTL if <= N pages (0 = off)
    timeout_seconds: float = 60.0
    max_retries: int = 5  # 5xx answers and timeouts, with exponential backoff (then the next cycle retries)
    max_throttle_retries: int = 20  # 429 answers, each waiting Retry-After
    retry_backoff_seconds: float = 2.0
    client_secret: str = secret("HUNTVAULT_DEFENDER_CLIENT_SECRET")


@dataclass
class SinkConfig:
    name: str = "stdout"
    kind: str = "stdout"  # logs-ingestion | data-collector | archive | jsonl | stdout
    endpoint: str = ""  # DCE / Logs Ingestion endpoint, or Data Collector base URL
    dcr_immutable_id: str = ""
    stream: str = "Custom-MDATPAlerts_CL"
    workspace_id: str = ""
    log_type: str = "MDATPAlerts"
    time_generated_field: str = "lastUpdateTime"
    merge: str = ""  # this sink's record shape: prefixed | logicapp | classic; "" = [forward].merge
    path: str = ""  # jsonl file, or archive folder (default: [archive].path)
    authority: str = "https://login.microsoftonline.com"
    tenant_id: str = ""
    client_id: str = ""
    ca_bundle: str = ""  # trust this CA for the sink and its token endpoint (emulators, TLS inspection)
    token_url: str = ""  # logs-ingestion: "" = <authority>/<tenant_id>/oauth2/v2.0/token (no discovery)
    proxy: str = ""  # http://host:port; "" = HTTPS_PROXY/NO_PROXY from the environment; "none" = direct
    secret_env: str = ""  # a HUNTVAULT_* variable with this sink's client secret / shared key (one per sink)
    scope: str = "https://monitor.azure.com/.default"  # logs-ingestion token scope
    certificate_path: str = ""  # logs-ingestion: PEM with private key, instead of a client secret
    certificate_thumbprint: str = ""
    batch_size: int = 500  # records per delivery unit (ledger commit after each)
    max_request_bytes: int = 1_000_000  # logs-ingestion: per call, under the 1 MB limit
    retry_seconds: float = 5.0  # first wait before retrying a sink that is down or paused (doubles each time)
    max_retry_seconds: float = 300.0  # the longest wait between two tries of a down or paused sink
    timeout_seconds: float = 60.0  # per request
    max_retries: int = 5  # per request: 429 (after Retry-After), 5xx and network errors
    retry_backoff_seconds: float = 0.5
    shared_key: str = secret("HUNTVAULT_LA_SHARED_KEY")
    client_secret: str = secret("HUNTVAULT_LA_CLIENT_SECRET")


@dataclass
class ForwardConfig:
    state_dir: str = "huntvault-data/forward"
    merge: str = "prefixed"  # prefixed | logicapp | classic (the Logic App's MDATPAlerts_CL columns)
    poll_seconds: float = 10.0  # 360 calls/h of the 1,500/h budget; median delivery about poll/2
    max_retry_seconds: float = (
        300.0  # the longest wait between two polls while the API or token endpoint fails
    )
    overlap_seconds: float = 300.0
    start_lookback_hours: float = 24.0
    start_from: str = ""  # ISO 8601 first cursor; empty = now - start_lookback_hours
    defender: DefenderApiConfig = field(default_factory=DefenderApiConfig)
    sinks: list[SinkConfig] = field(default_factory=list)


@dataclass
class DetectConfig:
    rules_dir: str = "rules"
    state_dir: str = "huntvault-data/detect"
    poll_seconds: float = 30.0  # --follow: pause between cycles
    ingest_delay: str = "10m"  # the watermark trails the newest ingested event by this much
    watermark_sources: list[str] = field(
        default_factory=list
    )  # ingestion sources that gate windows; empty = all
    start_from: str = ""  # ISO 8601: first window of a new rule starts here; "" = the latest whole window
    max_windows_per_cycle: int = 48  # catch-up windows per rule before other rules get their turn
    sigma_every: str = "1h"  # schedule of a Sigma rule that sets none (`huntvault: {every: ...}` in the rule)
    sigma_lookback: str = "2h"  # its lookback (late rows inside it are still caught by the next window)
    sinks: list[SinkConfig] = field(
        default_factory=list
    )  # forwarder sinks for detection alerts; none = archive only


@dataclass
class Config:
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    sources: list[SourceConfig] = field(default_factory=list)
    index: IndexConfig = field(default_factory=IndexConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    hunt: HuntConfig = field(default_factory=HuntConfig)
    forward: ForwardConfig = field(default_factory=ForwardConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    source_file: str = ""  # where it was read from ("" = built-in defaults)


_SCALARS = (str, int, float, bool)


def _check_scalar(kind: type, value: Any, key: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(key, f"expected a whole number, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(key, f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _convert(tp: Any, value: Any, key: str, env: typing.Mapping[str, str]) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a table, got {type(value).__name__}")
        return _build(tp, value, key, env)
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {type(value).__name__}")
        return [_convert(item, v, f"{key}[{i}]", env) for i, v in enumerate(value)]
    if origin is dict:
        _, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a table, got {type(value).__name__}")
        return {k: _convert(val_tp, v, f"{key}.{k}", env) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(key, "unsupported union type")
    if tp in _SCALARS:
        return _check_scalar(tp, value, key)
    raise ConfigError(key, f"unsupported type {tp!r}")


def _build(cls: type, data: dict[str, Any], prefix: str, env: typing.Mapping[str, str]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else key
        f = fields.get(key)
        if f is None or key == "source_file":
            known = ", ".join(sorted(n for n in fields if n != "source_file"))
            raise ConfigError(full, f"unknown setting (known here: {known})")
        if f.metadata.get("secret"):
            raise ConfigError(
                full, f"secrets are read only from the environment variable {f.metadata['env']}"
            )
        kwargs[key] = _convert(hints[key], value, full, env)
    for f in dataclasses.fields(cls):
        sub = hints[f.name]
        if f.name not in kwargs and dataclasses.is_dataclass(sub) and isinstance(sub, type):
            # a section absent from the file still reads its secrets from the environment
            kwargs[f.name] = _build(sub, {}, f"{prefix}.{f.name}" if prefix else f.name, env)
    obj = cls(**kwargs)
    for f in dataclasses.fields(cls):
        if f.metadata.get("secret"):
            setattr(obj, f.name, env.get(f.metadata["env"], ""))
    return obj


def choose_file(
    path: str | os.PathLike[str] | None = None,
    env: typing.Mapping[str, str] | None = None,
    demo_fallback: bool = False,
) -> Path | None:
    """The file `load` reads: `path`, else $HUNTVAULT_CONFIG, else ./huntvault.toml if present, else (with
    `demo_fallback`, the CLI) ./.demo/huntvault.toml if present, else None (built-in defaults)."""
    env = os.environ if env is None else env
    if path:
        return Path(path)
    if env.get(ENV_FILE):
        return Path(env[ENV_FILE])
    if Path(DEFAULT_FILE).is_file():
        return Path(DEFAULT_FILE)
    if demo_fallback and Path(DEMO_FILE).is_file():
        return Path(DEMO_FILE)
    return None


def load(path: str | os.PathLike[str] | None = None, env: typing.Mapping[str, str] | None = None) -> Config:
    """Load `path`, else $HUNTVAULT_CONFIG, else ./huntvault.toml if present, else the built-in defaults."""
    env = os.environ if env is None else env
    chosen = choose_file(path, env)
    data: dict[str, Any] = {}
    if chosen is not None:
        try:
            data = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("(file)", f"{chosen} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("(file)", f"{chosen} is not valid TOML: {exc}") from None
    cfg = typing.cast(Config, _build(Config, data, "", env))
    cfg.source_file = str(chosen) if chosen else ""
    _resolve_secret_envs(cfg, env)
    validate(cfg)
    return cfg


_CHOICES: dict[str, tuple[str, ...]] = {
    "kind@source": ("local", "azure-blob", "eventhub", "eventhub-replay", "jsonl"),
    "kind@sink": ("logs-ingestion", "data-collector", "archive", "jsonl", "stdout"),
    "merge": ("prefixed", "logicapp", "classic"),
    "source@defender": ("defender", "graph"),
    "engine": ("duckdb", "spark"),
}


#: numeric [server] / [search] settings that may be 0 or less (every other one must be > 0)
_POSITIVE_EXEMPT = {"port"}


def validate(cfg: Config) -> None:
    """Cross-field checks the type conversion cannot make; each names its key."""
    for i, src in enumerate(cfg.sources):
        if src.kind not in _CHOICES["kind@source"]:
            raise ConfigError(f"sources[{i}].kind", f"must be one of {', '.join(_CHOICES['kind@source'])}")
    names = [s.name for s in cfg.sources]
    if len(set(names)) != len(names):
        raise ConfigError("sources", "source names must be unique")
    for i, sink in enumerate(cfg.forward.sinks):
        if sink.kind not in _CHOICES["kind@sink"]:
            raise ConfigError(
                f"forward.sinks[{i}].kind", f"must be one of {', '.join(_CHOICES['kind@sink'])}"
            )
    if cfg.forward.merge not in _CHOICES["merge"]:
        raise ConfigError("forward.merge", f"must be one of {', '.join(_CHOICES['merge'])}")
    _validate_forward(cfg.forward)
    if cfg.hunt.engine not in _CHOICES["engine"]:
        raise ConfigError("hunt.engine", f"must be one of {', '.join(_CHOICES['engine'])}")
    if not cfg.hunt.compile_seconds >= 0:
        raise ConfigError("hunt.compile_seconds", "must be >= 0 (0 means no compile deadline)")
    for table, days in cfg.retention.tables.items():
        if days < 0:
            raise ConfigError(f"retention.tables.{table}", "days must be >= 0 (0 keeps forever)")
    if cfg.retention.default_days < 0:
        raise ConfigError("retention.default_days", "days must be >= 0 (0 keeps forever)")
    if cfg.archive.vacuum_grace_hours < 0:
        raise ConfigError("archive.vacuum_grace_hours", "must be >= 0")
    if not cfg.hunt.spark_master.strip():
        raise ConfigError("hunt.spark_master", "give a Spark master URL (local[*], spark://host:7077, yarn)")
    if not 1 <= cfg.server.port <= 65535:
        raise ConfigError("server.port", "must be between 1 and 65535")
    if cfg.archive.flush_rows <= 0:
        raise ConfigError("archive.flush_rows", "must be > 0")
    if not 0 <= cfg.index.writer_threads <= 64:
        raise ConfigError("index.writer_threads", "must be between 0 (one per core) and 64")
    if cfg.index.writer_heap_mb < 16:
        raise ConfigError(
            "index.writer_heap_mb", "must be at least 16 (tantivy's minimum per indexing thread)"
        )
    if not cfg.index.poll_seconds > 0:
        raise ConfigError("index.poll_seconds", "must be > 0")
    for section, obj in (("server", cfg.server), ("search", cfg.search)):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name in _POSITIVE_EXEMPT or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not value > 0:
                raise ConfigError(f"{section}.{f.name}", "must be > 0")


_SECRET_ENV_NAME = re.compile(r"^HUNTVAULT_[A-Z0-9_]+$")


def _validate_forward(fwd: ForwardConfig) -> None:
    if fwd.defender.source not in _CHOICES["source@defender"]:
        raise ConfigError(
            "forward.defender.source", f"must be one of {', '.join(_CHOICES['source@defender'])}"
        )
    for key in ("poll_seconds", "max_retry_seconds"):
        if getattr(fwd, key) <= 0:
            raise ConfigError(f"forward.{key}", "must be > 0")
    if fwd.overlap_seconds < 0:
        raise ConfigError("forward.overlap_seconds", "must be >= 0")
    for i, sink in enumerate(fwd.sinks):
        if sink.merge and sink.merge not in _CHOICES["merge"]:
            raise ConfigError(f"forward.sinks[{i}].merge", f"must be one of {', '.join(_CHOICES['merge'])}")
        for key in ("max_retry_seconds", "timeout_seconds"):
            if getattr(sink, key) <= 0:
                raise ConfigError(f"forward.sinks[{i}].{key}", "must be > 0")
        if sink.retry_seconds < 0:
            raise ConfigError(f"forward.sinks[{i}].retry_seconds", "must be >= 0")
        if sink.batch_size <= 0:
            raise ConfigError(f"forward.sinks[{i}].batch_size", "must be > 0")


def _resolve_secret_envs(cfg: Config, env: typing.Mapping[str, str]) -> None:
    """`secret_env = "HUNTVAULT_X"` on a sink (or [forward.defender]): that variable holds its secret."""
    sections: list[tuple[str, Any]] = [("forward.defender", cfg.forward.defender)]
    sections += [(f"forward.sinks[{i}]", s) for i, s in enumerate(cfg.forward.sinks)]
    sections += [(f"detect.sinks[{i}]", s) for i, s in enumerate(cfg.detect.sinks)]
    for key, section in sections:
        name = section.secret_env
        if not name:
            continue
        if not _SECRET_ENV_NAME.match(name):
            raise ConfigError(
                f"{key}.secret_env", f"{name!r} must be a HUNTVAULT_* environment variable name"
            )
        value = env.get(name, "")
        if getattr(section, "kind", "") == "data-collector":
            section.shared_key = value
        else:
            section.client_secret = value


def as_dict(cfg: Config, redact: bool = True) -> dict[str, Any]:
    """The effective configuration as plain data, secrets shown as `***` (set) or `""` (unset)."""

    def walk(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            out: dict[str, Any] = {}
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                if f.metadata.get("secret") and redact:
                    env = getattr(obj, "secret_env", "") or f.metadata["env"]
                    out[f.name] = f"*** (from {env})" if value else f"(unset: {env})"
                else:
                    out[f.name] = walk(value)
            return out
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        if isinstance(obj, dict):
            return {k: walk(v) for k, v in obj.items()}
        return obj

    return typing.cast(dict[str, Any], walk(cfg))


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Render `as_dict` output as TOML (for `config show`)."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    out = "\n".join(lines)
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, list):
            for item in value:
                out += f"\n\n[[{name}]]\n" + to_toml(item, name)
        else:
            body = to_toml(value, name)
            out += f"\n\n[{name}]\n" + body
    return out.strip("\n")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
