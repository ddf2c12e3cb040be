"""Log Analytics sinks: the Logs Ingestion API (DCR, OAuth) and the legacy HTTP Data Collector API.

One delivery unit is one HTTP request: the body is exactly the bytes the unit was sized by
(`orjson` of the shaped records; gzip on the Logs Ingestion path), so nothing is split behind the
ledger's back. Answers are sorted into: accepted; a bad record (SinkRejected, bisected and
dead-lettered); the sink refusing our configuration (RemoteConfigError naming the setting: the sink
is paused, nothing dead-lettered); or an outage (SinkUnavailable, retried with backoff).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlparse

import orjson
import requests

from huntvault.config import SinkConfig
from huntvault.errors import ConfigError, RemoteConfigError, RemoteUnavailable, SinkRejected, SinkUnavailable
from huntvault.forward.anatomy import Sink, units_by_bytes
from huntvault.forward.auth import ClientCredentials, TokenProvider, check_url, make_session
from huntvault.forward.shape import logs_ingestion_record

log = logging.getLogger("huntvault.forward")

DATA_COLLECTOR_RETIREMENT = "2026-09-14"
DATA_COLLECTOR_API_VERSION = "2016-04-01"
DATA_COLLECTOR_MAX_BYTES = 25 * 1024 * 1024  # the API takes 30 MB per post; stay well under
LOGS_INGESTION_API_VERSION = "2023-01-01"
LOGS_INGESTION_MAX_BYTES = 1_000_000  # the API takes 1 MB per call, compressed or not
_LOG_TYPE = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_DCR_ID = re.compile(r"^dcr-[0-9a-fA-F]{32}$")


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


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _error_code(resp: requests.Response) -> str:
    """The service's error code: `{"error": {"code"}}` (Logs Ingestion) or `{"Error"}` (Data Collector)."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    err = body.get("error")
    if isinstance(err, dict):
        return str(err.get("code", ""))
    return str(body.get("Error") or err or "")


#: (status, error code) or (status, "") -> (setting to fix, relative to the sink, or "$key"; why)
Refusals = dict[tuple[int, str], tuple[str, str]]

DATA_COLLECTOR_REFUSALS: Refusals = {
    (403, ""): (
        "$key",
        "the workspace refused the signature: wrong shared key or workspace_id (key rotated?)",
    ),
    (404, ""): ("endpoint", "no Data Collector API at this URL"),
    (400, "InvalidCustomerId"): ("workspace_id", "the workspace id is not valid"),
    (400, "InactiveCustomer"): ("workspace_id", "the workspace is inactive or deleted"),
    (400, "InvalidLogType"): ("log_type", "letters, digits and _ only, at most 100 characters"),
    (400, "MissingLogType"): ("log_type", "the Log-Type header did not arrive (a proxy in between?)"),
    (400, "InvalidApiVersion"): ("endpoint", "the API version was refused (a proxy rewriting the URL?)"),
    (400, "MissingApiVersion"): ("endpoint", "the API version did not arrive (a proxy rewriting the URL?)"),
    (400, "UnsupportedContentType"): ("endpoint", "Content-Type was changed on the way (a proxy?)"),
    (400, "MissingContentType"): ("endpoint", "Content-Type did not arrive (a proxy?)"),
}
LOGS_INGESTION_REFUSALS: Refusals = {
    (401, ""): ("$key", "the endpoint refused the token (tenant, client or scope of another cloud?)"),
    (403, ""): (
        "client_id",
        "the app has no 'Monitoring Metrics Publisher' role on the DCR (a new role assignment "
        "can take 30 minutes to apply)",
    ),
    (404, ""): ("dcr_immutable_id", "no such DCR at this endpoint (wrong DCR immutable id or endpoint)"),
    (400, "InvalidStream"): ("stream", "the DCR declares no such stream (run `huntvault forward init`)"),
    (400, "InvalidApiVersion"): ("endpoint", "the API version was refused (a proxy rewriting the URL?)"),
}


class _Poster:
    """The request loop both Log Analytics sinks share: retries 429/5xx/timeouts, sorts the answers."""

    def __init__(
        self, cfg: SinkConfig, refusals: Refusals, key_setting: str, sleep: Callable[[float], None]
    ) -> None:
        self.cfg = cfg
        self.refusals = refusals
        self.key_setting = key_setting
        self.sleep = sleep
        self.setting = f"forward.sinks.{cfg.name}"

    def refused(self, resp: requests.Response, what: str) -> Exception:
        """The exception for a final non-2xx answer that is not an outage."""
        code = _error_code(resp)
        text = f"{what} answered HTTP {resp.status_code} {code}: {resp.text[:300]}"
        found = self.refusals.get((resp.status_code, code)) or self.refusals.get((resp.status_code, ""))
        if found is not None:
            setting = self.key_setting if found[0] == "$key" else f"{self.setting}.{found[0]}"
            return RemoteConfigError(setting, f"{found[1]}; {text}", resp.status_code)
        return SinkRejected(text, resp.status_code)

    def post(
        self,
        session: requests.Session,
        url: str,
        data: bytes,
        headers: Callable[[], dict[str, str]],
        what: str,
        on_401: Callable[[], bool] | None = None,
    ) -> requests.Response:
        """POST until a final answer; returns the 2xx response or raises (see the module docstring)."""
        last, wait = "", None
        attempt = 0
        while True:
            try:
                resp = session.post(url, data=data, headers=headers(), timeout=self.cfg.timeout_seconds)
            except RemoteUnavailable as exc:  # the token endpoint, through headers()
                last, wait, resp = str(exc), exc.retry_after, None
            except requests.RequestException as exc:
                last, wait, resp = f"{type(exc).__name__}: {exc}", None, None
            if resp is not None:
                if 200 <= resp.status_code < 300:
                    return resp
                if resp.status_code == 401 and on_401 is not None and on_401():
                    continue
                if not (resp.status_code in (408, 429) or resp.status_code >= 500):
                    raise self.refused(resp, what)
                last, wait = f"HTTP {resp.status_code}: {resp.text[:300]}", _retry_after(resp)
            if attempt >= self.cfg.max_retries:
                raise SinkUnavailable(f"sink {self.cfg.name}: {what} unavailable: {last}", wait)
            self.sleep(wait if wait is not None else _backoff(attempt, self.cfg.retry_backoff_seconds))
            attempt += 1


def _endpoint_base(cfg: SinkConfig, default: str, hint: str) -> str:
    """The configured endpoint as a base URL; a full request URL is a clear ConfigError."""
    setting = f"forward.sinks.{cfg.name}.endpoint"
    url = check_url(cfg.endpoint or default, setting, "endpoint")
    parsed = urlparse(url)
    if (parsed.path and parsed.path != "/") or parsed.query:
        raise ConfigError(setting, f"give the base URL only ({parsed.scheme}://{parsed.netloc}), {hint}")
    return url


class DataCollectorSink:
    """POST {endpoint}/api/logs?api-version=2016-04-01 with a SharedKey signature (retired 2026-09-14)."""

    def __init__(self, cfg: SinkConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = cfg.name
        self.cfg = cfg
        key_env = cfg.secret_env or "HUNTVAULT_LA_SHARED_KEY"
        setting = f"forward.sinks.{cfg.name}"
        if not cfg.workspace_id:
            raise ConfigError(f"{setting}.workspace_id", "required for a data-collector sink")
        if not cfg.shared_key:
            raise ConfigError(key_env, f"the shared key of sink {cfg.name} is not set")
        if not _LOG_TYPE.match(cfg.log_type):
            raise ConfigError(f"{setting}.log_type", "letters, digits and _ only, at most 100 characters")
        try:
            base64.b64decode(cfg.shared_key, validate=True)
        except ValueError:
            raise ConfigError(
                key_env, "is not base64 (copy the workspace's primary or secondary key)"
            ) from None
        base = _endpoint_base(
            cfg,
            f"https://{cfg.workspace_id}.ods.opinsights.azure.com",
            "without /api/logs or ?api-version (huntvault adds them)",
        )
        self.url = f"{base}/api/logs?api-version={DATA_COLLECTOR_API_VERSION}"
        self.session = make_session(cfg.ca_bundle, cfg.proxy, setting)
        self._poster = _Poster(cfg, DATA_COLLECTOR_REFUSALS, key_env, sleep)
        log.warning(
            "sink %s uses the HTTP Data Collector API, which Microsoft retired on %s; "
            'move to the Logs Ingestion API (kind = "logs-ingestion") where the endpoint no longer accepts it',
            cfg.name,
            DATA_COLLECTOR_RETIREMENT,
        )

    @property
    def sleep(self) -> Callable[[float], None]:
        return self._poster.sleep

    @sleep.setter
    def sleep(self, value: Callable[[float], None]) -> None:
        self._poster.sleep = value

    def body(self, records: list[dict[str, Any]]) -> bytes:
        return orjson.dumps(records)

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        return units_by_bytes(records, DATA_COLLECTOR_MAX_BYTES, self.cfg.batch_size)

    def _headers(self, length: int) -> dict[str, str]:
        date = rfc1123_now()
        headers = {
            "Content-Type": "application/json",
            "Log-Type": self.cfg.log_type,
            "x-ms-date": date,
            "Authorization": f"SharedKey {self.cfg.workspace_id}:"
            + shared_key_signature(self.cfg.shared_key, date, length),
        }
        if self.cfg.time_generated_field:
            headers["time-generated-field"] = self.cfg.time_generated_field
        return headers

    def send(self, records: list[dict[str, Any]]) -> None:
        body = self.body(records)
        self._poster.post(self.session, self.url, body, lambda: self._headers(len(body)), "data collector")

    def close(self) -> None:
        self.session.close()


class LogsIngestionSink:
    """POST {endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01, one gzip body
    per unit of at most `max_request_bytes` (the uncompressed JSON array, exactly as sent)."""

    def __init__(self, cfg: SinkConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = cfg.name
        self.cfg = cfg
        setting = f"forward.sinks.{cfg.name}"
        for key in ("endpoint", "dcr_immutable_id", "stream"):
            if not getattr(cfg, key):
                raise ConfigError(f"{setting}.{key}", "required for a logs-ingestion sink")
        base = _endpoint_base(
            cfg,
            "",
            "the DCE or DCR logs ingestion endpoint; the DCR and stream are the settings "
            "dcr_immutable_id and stream",
        )
        if not _DCR_ID.match(cfg.dcr_immutable_id):
            raise ConfigError(
                f"{setting}.dcr_immutable_id",
                f"{cfg.dcr_immutable_id!r} is not a DCR immutable id (dcr- and 32 hex digits, shown on the "
                "DCR's overview page or by `az monitor data-collection rule show --query immutableId`)",
            )
        if not cfg.stream.startswith(("Custom-", "Microsoft-")):
            raise ConfigError(f"{setting}.stream", "a DCR stream name starts with Custom- (or Microsoft-)")
        if not 1024 <= cfg.max_request_bytes <= LOGS_INGESTION_MAX_BYTES:
            raise ConfigError(
                f"{setting}.max_request_bytes", f"must be between 1024 and {LOGS_INGESTION_MAX_BYTES}"
            )
        self.session = make_session(cfg.ca_bundle, cfg.proxy, setting)
        creds = ClientCredentials.from_config(cfg, setting, "HUNTVAULT_LA_CLIENT_SECRET")
        self.tokens = TokenProvider(creds, cfg.scope, self.session, cfg.timeout_seconds)
        key_setting = f"{setting}.certificate_path" if creds.certificate_path else creds.secret_env
        self._poster = _Poster(cfg, LOGS_INGESTION_REFUSALS, key_setting, sleep)
        self.url = (
            f"{base}/dataCollectionRules/{cfg.dcr_immutable_id}/streams/{cfg.stream}"
            f"?api-version={LOGS_INGESTION_API_VERSION}"
        )
        self.merge = cfg.merge or "prefixed"
        self.requests = 0
        self._reauthed = False

    @property
    def sleep(self) -> Callable[[float], None]:
        return self._poster.sleep

    @sleep.setter
    def sleep(self, value: Callable[[float], None]) -> None:
        self._poster.sleep = value

    def shape(self, record: dict[str, Any]) -> dict[str, Any]:
        return logs_ingestion_record(record, self.merge, self.cfg.time_generated_field)

    def body(self, records: list[dict[str, Any]]) -> bytes:
        """The uncompressed request body (what the unit is sized by)."""
        return orjson.dumps([self.shape(r) for r in records])

    def units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        return units_by_bytes(
            [self.shape(r) for r in records], self.cfg.max_request_bytes, self.cfg.batch_size
        )

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens.token()}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "x-ms-client-request-id": str(uuid.uuid4()),  # tracing only: the API has no idempotency key
        }

    def _reauth(self) -> bool:
        """After a 401: drop the token and try once more with a fresh one."""
        if self._reauthed:
            return False
        self._reauthed = True
        self.tokens.invalidate()
        return True

    def send(self, records: list[dict[str, Any]]) -> None:
        body = self.body(records)
        if len(body) > LOGS_INGESTION_MAX_BYTES:
            raise SinkRejected(f"the record is {len(body):,} bytes, over the 1 MB Logs Ingestion limit", 413)
        data = gzip.compress(body, compresslevel=6, mtime=0)
        self._reauthed = False
        self.requests += 1
        self._poster.post(self.session, self.url, data, self._headers, "logs ingestion", self._reauth)

    def close(self) -> None:
        self.session.close()


SINKS: dict[str, Callable[[SinkConfig], Sink]] = {
    "logs-ingestion": LogsIngestionSink,
    "data-collector": DataCollectorSink,
}
