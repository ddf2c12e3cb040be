"""Emulated Log Analytics intake: HTTP Data Collector API (SharedKey) and Logs Ingestion API (DCR, bearer)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from huntvault.emulator.identity_api import MONITOR_AUDIENCE, TokenIssuer, identity_router

LOGS_INGESTION_MAX_BYTES = 1024 * 1024  # per call, compressed or uncompressed
DATA_COLLECTOR_MAX_BYTES = 30 * 1024 * 1024
_LOG_TYPE = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,44}$")
DC_RESERVED = ("tenant", "TimeGenerated", "RawData")
LI_RESERVED = ("_ResourceId", "id", "_SubscriptionId", "TenantId", "Type", "UniqueId", "Title")


def expected_signature(shared_key: str, date: str, content_length: int, content_type: str) -> str:
    """The signature the Data Collector API expects (computed independently of the client)."""
    text = "POST\n" + str(content_length) + "\n" + content_type + "\nx-ms-date:" + date + "\n/api/logs"
    mac = hmac.new(base64.b64decode(shared_key), text.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class IntakeFaults:
    """Per-endpoint fault injection ("data-collector" / "logs-ingestion" keys in LogAnalyticsEmulator)."""

    throttle_next: int = 0  # answer 429 with Retry-After
    retry_after: int = 1
    fail_next: int = 0  # answer 500 (data collector) / 503 (logs ingestion)
    reject_next: int = 0  # answer 400 (a permanent rejection)
    reject_matching: str = ""  # answer 400 to any request whose JSON body contains this text (a bad record)
    down: bool = False  # every request answers 503
    slow_seconds: float = 0.0  # wait before accepting; a client gone by then is not recorded


@dataclass
class Arrival:
    """One accepted request."""

    endpoint: str  # data-collector | logs-ingestion
    table: str  # <LogType>_CL, or the DCR stream
    records: list[dict[str, Any]]
    headers: dict[str, str]
    received_at: float = field(default_factory=time.time)  # when it was accepted (wall clock)


@dataclass
class LogAnalyticsEmulator:
    """Workspaces with shared keys, DCRs with streams, and everything that arrived."""

    issuer: TokenIssuer
    workspaces: dict[str, str] = field(default_factory=dict)  # workspace id -> base64 shared key
    dcrs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # DCR immutable id -> stream names
    faults: dict[str, IntakeFaults] = field(
        default_factory=lambda: {"data-collector": IntakeFaults(), "logs-ingestion": IntakeFaults()}
    )
    #: DCR immutable id -> client ids holding "Monitoring Metrics Publisher" on it (absent: every client)
    publishers: dict[str, set[str]] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # (endpoint, status, code)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stalls: dict[int, float] = field(default_factory=dict, repr=False)

    def stalled_for(self) -> float | None:
        """Seconds the oldest request held by a slow-answer fault has waited so far (None: none held)."""
        with self._lock:
            return time.monotonic() - min(self._stalls.values()) if self._stalls else None

    def records(self, endpoint: str | None = None, table: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                r
                for a in self.arrivals
                if (endpoint is None or a.endpoint == endpoint) and (table is None or a.table == table)
                for r in a.records
            ]

    def _fault(self, endpoint: str, body: bytes) -> tuple[int, str]:
        with self._lock:
            f = self.faults[endpoint]
            if f.reject_matching and f.reject_matching.encode() in body:
                return 400, "InvalidDataFormat"
            if f.down:
                return 503, "ServiceUnavailable"
            if f.throttle_next > 0:
                f.throttle_next -= 1
                return 429, "TooManyRequests"
            if f.fail_next > 0:
                f.fail_next -= 1
                return (
                    (500, "UnspecifiedError") if endpoint == "data-collector" else (503, "ServiceUnavailable")
                )
            if f.reject_next > 0:
                f.reject_next -= 1
                return 400, "InvalidDataFormat"
            return 0, ""

    def _injected_fault(self, endpoint: str, body: bytes) -> Response | None:
        """The rejection a configured fault calls for (with Retry-After on a 429), or None to go on."""
        status, code = self._fault(endpoint, body)
        if not status:
            return None
        retry = {"Retry-After": str(self.faults[endpoint].retry_after)} if status == 429 else None
        return self._reject(endpoint, status, code, "injected fault", retry)

    def _reject(
        self, endpoint: str, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        with self._lock:
            self.rejected.append((endpoint, status, code))
        return JSONResponse(
            {"Error": code, "Message": message}
            if endpoint == "data-collector"
            else {"error": {"code": code, "message": message}},
            status_code=status,
            headers=headers,
        )

    async def _accept(self, request: Request, arrival: Arrival) -> bool:
        """Record an arrival unless a slow-answer fault outlived the client's connection."""
        delay = self.faults[arrival.endpoint].slow_seconds
        if delay:
            with self._lock:
                self._stalls[id(arrival)] = time.monotonic()
            try:
                await asyncio.sleep(delay)
            finally:
                with self._lock:
                    self._stalls.pop(id(arrival), None)
            if await request.is_disconnected():
                return False
        with self._lock:
            arrival.received_at = time.time()
            self.arrivals.append(arrival)
        return True


def _records(body: Any) -> list[dict[str, Any]] | None:
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list) and all(isinstance(r, dict) for r in body):
        return body
    return None


def create_app(la: LogAnalyticsEmulator) -> FastAPI:
    """Routes: POST /api/logs (Data Collector), POST /dataCollectionRules/{dcr}/streams/{stream}, /_emulator."""
    app = FastAPI(title="huntvault Log Analytics emulator", docs_url=None, redoc_url=None)
    app.include_router(identity_router(la.issuer))

    @app.post("/api/logs")
    async def data_collector(request: Request) -> Response:
        ep = "data-collector"
        body = await request.body()
        h = request.headers
        version = request.query_params.get("api-version")
        if not version:
            return la._reject(ep, 400, "MissingApiVersion", "api-version is required")
        if version != "2016-04-01":
            return la._reject(ep, 400, "InvalidApiVersion", f"api-version {version} is not supported")
        ctype = h.get("content-type")
        if not ctype:
            return la._reject(ep, 400, "MissingContentType", "Content-Type is required")
        if ctype != "application/json":
            # with '; charset=utf-8' appended the service answers forbidden (MicrosoftDocs/azure-docs#99221)
            status = 403 if ctype.startswith("application/json") else 400
            return la._reject(
                ep, status, "UnsupportedContentType", f"Content-Type {ctype!r} is not application/json"
            )
        m = re.fullmatch(r"SharedKey ([^:]+):(.+)", h.get("authorization", ""))
        date = h.get("x-ms-date", "")
        if not m or not date or m.group(1) not in la.workspaces:
            return la._reject(
                ep, 403, "InvalidAuthorization", "missing or unknown SharedKey workspace or x-ms-date"
            )
        want = expected_signature(la.workspaces[m.group(1)], date, len(body), ctype)
        if not hmac.compare_digest(want, m.group(2)):
            return la._reject(ep, 403, "InvalidAuthorization", "An invalid scheme or signature was specified")
        log_type = h.get("log-type")
        if not log_type:
            return la._reject(ep, 400, "MissingLogType", "Log-Type is required")
        if not _LOG_TYPE.match(log_type):
            return la._reject(ep, 400, "InvalidLogType", "Log-Type: letters, digits and _ only, at most 100")
        if len(body) > DATA_COLLECTOR_MAX_BYTES:
            return la._reject(ep, 404, "RequestTooLarge", "the post exceeds 30 MB")
        injected = la._injected_fault(ep, body)
        if injected is not None:
            return injected
        try:
            records = _records(orjson.loads(body))
        except orjson.JSONDecodeError:
            records = None
        if records is None:
            return la._reject(
                ep, 400, "InvalidDataFormat", "the body must be a JSON object or array of objects"
            )
        for rec in records:
            bad = [k for k in rec if k in DC_RESERVED]
            if bad:
                return la._reject(ep, 400, "InvalidDataFormat", f"reserved property name {bad[0]!r}")
        tgf = h.get("time-generated-field")
        if tgf and any(tgf not in r for r in records):
            return la._reject(
                ep, 400, "InvalidDataFormat", f"time-generated-field {tgf!r} missing from a record"
            )
        arrival = Arrival(ep, f"{log_type}_CL", records, {k.lower(): v for k, v in h.items()})
        await la._accept(request, arrival)
        return Response(status_code=200)

    @app.post("/dataCollectionRules/{dcr}/streams/{stream}")
    async def logs_ingestion(dcr: str, stream: str, request: Request) -> Response:
        ep = "logs-ingestion"
        raw = await request.body()
        claims = la.issuer.verify(request.headers.get("authorization"), MONITOR_AUDIENCE)
        if claims is None:
            return la._reject(
                ep, 401, "InvalidToken", "bearer token missing, invalid, expired or for another audience"
            )
        allowed = la.publishers.get(dcr)
        if allowed is not None and claims.get("appid") not in allowed:
            return la._reject(
                ep, 403, "Forbidden", "the client has no Monitoring Metrics Publisher role on this DCR"
            )
        if request.query_params.get("api-version") != "2023-01-01":
            return la._reject(ep, 400, "InvalidApiVersion", "api-version must be 2023-01-01")
        if dcr not in la.dcrs:
            return la._reject(ep, 404, "DcrNotFound", f"data collection rule {dcr} not found")
        if stream not in la.dcrs[dcr]:
            return la._reject(ep, 400, "InvalidStream", f"stream {stream} is not declared in the DCR")
        if len(raw) > LOGS_INGESTION_MAX_BYTES:
            return la._reject(ep, 413, "ContentLengthLimitExceeded", "the request exceeds 1 MB")
        body = raw
        if request.headers.get("content-encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(raw)
            except (OSError, EOFError):
                return la._reject(ep, 400, "InvalidContentEncoding", "the body is not valid gzip")
        if len(body) > LOGS_INGESTION_MAX_BYTES + 64 * 1024:
            return la._reject(ep, 413, "ContentLengthLimitExceeded", "the uncompressed request exceeds 1 MB")
        injected = la._injected_fault(ep, body)
        if injected is not None:
            return injected
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return la._reject(ep, 400, "InvalidJson", "the body is not JSON")
        if not isinstance(parsed, list) or not all(isinstance(r, dict) for r in parsed):
            return la._reject(ep, 400, "InvalidPayload", "the body must be a JSON array of objects")
        for rec in parsed:
            for key in rec:
                if key in LI_RESERVED or not _COLUMN.match(key):
                    return la._reject(
                        ep, 400, "InvalidColumnName", f"column name {key!r} is reserved or invalid"
                    )
            if not rec.get("TimeGenerated"):
                return la._reject(ep, 400, "MissingTimeGenerated", "every record needs TimeGenerated")
        arrival = Arrival(ep, stream, parsed, {k.lower(): v for k, v in request.headers.items()})
        await la._accept(request, arrival)
        return Response(status_code=204)

    @app.get("/_emulator/received")
    def received(endpoint: str | None = None, table: str | None = None) -> Response:
        return Response(orjson.dumps(la.records(endpoint, table)), media_type="application/json")

    @app.post("/_emulator/faults/{endpoint}")
    async def set_faults(endpoint: str, request: Request) -> Response:
        if endpoint not in la.faults:
            return JSONResponse({"error": f"unknown endpoint {endpoint}"}, status_code=404)
        body = orjson.loads(await request.body() or b"{}")
        with la._lock:
            f = la.faults[endpoint]
            for key, value in body.items():
                if not hasattr(f, key):
                    return JSONResponse({"error": f"unknown fault {key!r}"}, status_code=400)
                setattr(f, key, type(getattr(f, key))(value))
        return JSONResponse(f.__dict__)

    return app
