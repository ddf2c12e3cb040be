"""Log Analytics sinks: the Logs Ingestion API (azure-monitor-ingestion) and the legacy HTTP Data Collector API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import re
import time
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import orjson
import requests

from huntvault.config import SinkConfig
from huntvault.errors import ConfigError, SinkRejected, SinkUnavailable
from huntvault.forward.auth import AzureCoreCredential, ClientCredentials, TokenProvider, make_session
from huntvault.forward.sinks import Sink, units_by_bytes

log = logging.getLogger("huntvault.forward")

DATA_COLLECTOR_RETIREMENT = "2026-09-14"
DATA_COLLECTOR_API_VERSION = "2016-04-01"
DATA_COLLECTOR_MAX_BYTES = 25 * 1024 * 1024  # the API takes 30 MB per post; stay well under
_LOG_TYPE = re.compile(r"^[A-Za-z0-9_]{1,100}$")

#: Logs Ingestion reserved column names -> what the sink sends instead (`id` -> `id_`).
LOGS_INGESTION_RESERVED = ("_ResourceId", "id", "_SubscriptionId", "TenantId", "Type", "UniqueId", "Title")


def rfc1123_now() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


def shared_key_signature(
    shared_key: str,
    date: str,
    content_length: int,
    method: str = "POST",
    content_type: str = "application/json",
    resource: str = "/api/logs",
) -> str:
    """Base64(HMAC-SHA256(Base64Decode(key), UTF8(VERB\\nlength\\ntype\\nx-ms-date:DATE\\nresource))).

    `content_length` is the UTF-8 byte length of the body (not its character count).
    """
    string_to_sign = f"{method}\n{content_length}\n{content_type}\nx-ms-date:{date}\n{resource}"
    digest = hmac.new(base64.b64decode(shared_key), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _backoff(attempt: int, base: float) -> float:
    return float(min(base * (2**attempt), 30.0) * (0.5 + random.random() / 2))


class DataCollectorSink:
    """POST {endpoint}/api/logs?api-version=2016-04-01 with a SharedKey signature (retired 2026-09-14)."""

    def __init__(self, cfg: SinkConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self._sleep = sleep
        if not cfg.workspace_id:
            raise ConfigError(f"forward.sinks.{cfg.name}.workspace_id", "required for a data-collector sink")
        if not cfg.shared_key:
            raise ConfigError(f"forward.sinks.{cfg.name}.shared_key", "set HUNTVAULT_LA_SHARED_KEY")
        if not _LOG_TYPE.match(cfg.log_type):
            raise ConfigError(
                f"forward.sinks.{cfg.name}.log_type", "letters, digits and _ only, at most 100 characters"
            )
        try:
            base64.b64decode(cfg.shared_key, validate=True)
        except ValueError:
            raise ConfigError(f"forward.sinks.{cfg.name}.shared_key", "is not base64") from None
        self.url = (cfg.endpoint or f"https://{cfg.workspace_id}.ods.opinsights.azure.com").rstrip("/")
        self.url += f"/api/logs?api-version={DATA_COLLECTOR_API_VERSION}"
        self.session = make_session(cfg.ca_bundle)
        log.warning(
            "sink %s uses the HTTP Data Collector API, which Microsoft retired on %s; "
            'move to the Logs Ingestion API (kind = "logs-ingestion") where the endpoint no longer accepts it',
            cfg.name,
            DATA_COLLECTOR_RETIREMENT,
        )

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        return units_by_bytes(records, DATA_COLLECTOR_MAX_BYTES, self.cfg.batch_size)

    def send(self, records: list[dict[str, Any]]) -> None:
        body = orjson.dumps(records)
        last = ""
        for attempt in range(self.cfg.max_retries + 1):
            date = rfc1123_now()
            headers = {
                "Content-Type": "application/json",
                "Log-Type": self.cfg.log_type,
                "x-ms-date": date,
                "Authorization": f"SharedKey {self.cfg.workspace_id}:"
                + shared_key_signature(self.cfg.shared_key, date, len(body)),
            }
            if self.cfg.time_generated_field:
                headers["time-generated-field"] = self.cfg.time_generated_field
            try:
                resp = self.session.post(self.url, data=body, headers=headers, timeout=60)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                if attempt < self.cfg.max_retries:
                    self._sleep(_backoff(attempt, self.cfg.retry_backoff_seconds))
                continue
            if resp.status_code in (200, 202):
                return
            last = f"HTTP {resp.status_code}: {resp.text[:300]}"
            if resp.status_code == 429 or resp.status_code >= 500:
                if attempt < self.cfg.max_retries:
                    self._sleep(_retry_after(resp, _backoff(attempt, self.cfg.retry_backoff_seconds)))
                continue
            raise SinkRejected(f"data collector rejected the post: {last}", resp.status_code)
        raise SinkUnavailable(f"sink {self.name}: data collector unavailable: {last}")

    def close(self) -> None:
        self.session.close()


def _retry_after(resp: requests.Response, default: float) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return default


def rename_reserved(record: dict[str, Any]) -> dict[str, Any]:
    """Logs Ingestion refuses its reserved column names: send them with a trailing underscore."""
    if not any(k in record for k in LOGS_INGESTION_RESERVED):
        return record
    return {(k + "_" if k in LOGS_INGESTION_RESERVED else k): v for k, v in record.items()}


class LogsIngestionSink:
    """Logs Ingestion API through azure-monitor-ingestion: one gzip upload per unit under 1 MB."""

    def __init__(self, cfg: SinkConfig) -> None:
        from azure.core.pipeline.transport import RequestsTransport
        from azure.monitor.ingestion import LogsIngestionClient

        self.name = cfg.name
        self.cfg = cfg
        for key in ("endpoint", "dcr_immutable_id", "stream", "tenant_id", "client_id"):
            if not getattr(cfg, key):
                raise ConfigError(f"forward.sinks.{cfg.name}.{key}", "required for a logs-ingestion sink")
        self.session = make_session(cfg.ca_bundle)
        self.tokens = TokenProvider(
            ClientCredentials.from_config(cfg),
            cfg.scope,
            self.session,
        )
        transport = RequestsTransport(
            session=make_session(cfg.ca_bundle),
            session_owner=True,
            use_env_settings=False,
            connection_verify=cfg.ca_bundle or True,
        )
        self.client = LogsIngestionClient(
            endpoint=cfg.endpoint,
            credential=AzureCoreCredential(self.tokens),
            transport=transport,
            credential_scopes=[cfg.scope],
            retry_total=cfg.max_retries,
            retry_backoff_factor=cfg.retry_backoff_seconds,
            retry_backoff_max=30,
        )

    def _shape(self, record: dict[str, Any]) -> dict[str, Any]:
        out = rename_reserved(record)
        if "TimeGenerated" not in out:
            out = {
                "TimeGenerated": record.get(self.cfg.time_generated_field) or record.get("alertCreationTime"),
                **out,
            }
        return out

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        return units_by_bytes(
            [self._shape(r) for r in records], self.cfg.max_request_bytes, self.cfg.batch_size
        )

    def send(self, records: list[dict[str, Any]]) -> None:
        from azure.core.exceptions import AzureError, HttpResponseError

        logs: list[MutableMapping[str, Any]] = [self._shape(r) for r in records]
        failures: list[Any] = []
        try:
            self.client.upload(
                rule_id=self.cfg.dcr_immutable_id,
                stream_name=self.cfg.stream,
                logs=logs,
                on_error=failures.append,
            )
        except HttpResponseError as exc:
            failures.append(exc)
        except AzureError as exc:
            raise SinkUnavailable(f"sink {self.name}: logs ingestion unavailable: {exc}") from None
        for failure in failures:
            err = getattr(failure, "error", failure)
            status = getattr(err, "status_code", None) or getattr(
                getattr(err, "response", None), "status_code", 0
            )
            message = str(getattr(err, "message", err))[:300]
            if status and 400 <= status < 500 and status != 429 and status != 408:
                raise SinkRejected(f"logs ingestion rejected the upload: HTTP {status}: {message}", status)
            raise SinkUnavailable(f"sink {self.name}: logs ingestion unavailable: HTTP {status}: {message}")

    def close(self) -> None:
        self.client.close()
        self.session.close()


SINKS: dict[str, Callable[[SinkConfig], Sink]] = {
    "logs-ingestion": LogsIngestionSink,
    "data-collector": DataCollectorSink,
}
