"""Defender for Endpoint REST client: budgeted, retrying GETs, alert windows by lastUpdateTime, machine cache."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import requests

from huntvault.config import DefenderApiConfig
from huntvault.errors import ForwardError, RemoteConfigError, RemoteUnavailable
from huntvault.forward.auth import ClientCredentials, TokenProvider, check_url, make_session
from huntvault.forward.budget import RateBudget
from huntvault.schema import parse_datetime

log = logging.getLogger("huntvault.forward")

#: Hosts the client accepts as base_url without a warning (any other URL works too: emulators, proxies).
KNOWN_BASE_URLS = (
    "https://api.securitycenter.microsoft.com",
    "https://api.security.microsoft.com",
    "https://us.api.security.microsoft.com",
    "https://eu.api.security.microsoft.com",
    "https://uk.api.security.microsoft.com",
    "https://au.api.security.microsoft.com",
    "https://swa.api.security.microsoft.com",
    "https://ina.api.security.microsoft.com",
    "https://aea.api.security.microsoft.com",
    "https://api-us.securitycenter.microsoft.com",
    "https://api-eu.securitycenter.microsoft.com",
    "https://api-uk.securitycenter.microsoft.com",
    "https://api-au.securitycenter.microsoft.com",
    "https://api.securitycenter.windows.com",  # legacy, still functional
    "https://api-gcc.securitycenter.microsoft.us",  # US Government GCC (sign-in: login.microsoftonline.com)
    "https://api-gov.securitycenter.microsoft.us",  # GCC High and DoD (sign-in: login.microsoftonline.us)
)

_TINY = timedelta(milliseconds=1)


def odata_time(value: datetime) -> str:
    """An unquoted OData DateTimeOffset literal with microseconds, e.g. 2024-05-01T10:00:00.000000Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alert_time(alert: dict[str, Any], key: str = "lastUpdateTime") -> datetime:
    raw = alert.get(key) or alert.get("alertCreationTime") or "1970-01-01T00:00:00Z"
    return parse_datetime(str(raw))


#: HTTP status of the Defender API -> (setting to fix, why): a refusal of our configuration, not an outage
API_REFUSALS: dict[int, tuple[str, str]] = {
    401: (
        "forward.defender.scope",
        "the API refused the token: is the scope the Defender API's (and tenant_id the right tenant)?",
    ),
    403: (
        "forward.defender.client_id",
        "the app lacks the WindowsDefenderATP application permissions Alert.Read.All and "
        "Machine.Read.All, or admin consent",
    ),
    404: ("forward.defender.base_url", "no Defender API at this URL"),
}


class DefenderClient:
    """GETs against /api with a token, a client-side budget, Retry-After on 429 and backoff on 5xx.

    Failures: RemoteUnavailable (network, 5xx, 429, token endpoint down, after `max_retries`),
    RemoteConfigError (credentials, permissions or URL refused: names the setting).
    """

    def __init__(
        self,
        cfg: DefenderApiConfig,
        *,
        session: requests.Session | None = None,
        budget: RateBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self.base = check_url(cfg.base_url, "forward.defender.base_url", "Defender API")
        if self.base not in KNOWN_BASE_URLS:
            log.info("Defender API base URL %s is not a Microsoft host (emulator or proxy)", self.base)
        self.session = session or make_session(cfg.ca_bundle, cfg.proxy, "forward.defender")
        self.tokens = TokenProvider(
            ClientCredentials.from_config(cfg, "forward.defender", "HUNTVAULT_DEFENDER_CLIENT_SECRET"),
            cfg.scope,
            self.session,
            cfg.timeout_seconds,
        )
        self.budget = budget or RateBudget.per_minute_hour(
            cfg.calls_per_minute, cfg.calls_per_hour, sleep=sleep
        )
        self.sleep = sleep
        self.calls = 0  # HTTP requests sent to the API (retries included)
        self.throttled = 0  # 429 answers seen
        self.retried = 0  # 5xx / timeouts / token-endpoint failures retried
        self.received_at = 0.0  # perf_counter() when the last answer was read
        #: called with each alert page as soon as it is read (the forwarder stores it durably there)
        self.on_page: Callable[[list[dict[str, Any]]], None] | None = None

    def close(self) -> None:
        self.session.close()

    # -- transport -------------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        base = self.cfg.retry_backoff_seconds * (2**attempt)
        return float(min(base, 60.0) * (0.5 + random.random() / 2))

    def get(self, path: str, params: dict[str, str] | None = None, *, missing_ok: bool = False) -> Any:
        """GET base+path; returns parsed JSON, or None for a 404 when `missing_ok`."""
        url = f"{self.base}{path}"
        if params:
            url += "?" + urlencode(params, safe="$(),'", quote_via=quote)
        return self.fetch(url, path, missing_ok=missing_ok)

    def fetch(self, url: str, path: str, *, missing_ok: bool = False) -> Any:
        """GET a full URL of this API (`path` names it in messages), with the retries described above."""
        failures = 0
        throttles = 0
        reauth = False
        last = ""
        wait: float | None = None
        while True:
            try:
                token = self.tokens.token()
            except RemoteUnavailable as exc:
                last, wait = str(exc), exc.retry_after
                failures += 1
                if failures > self.cfg.max_retries:
                    break
                self.retried += 1
                self.sleep(wait if wait is not None else self._backoff(failures - 1))
                continue
            self.budget.acquire()
            self.calls += 1
            try:
                resp = self.session.get(
                    url,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=self.cfg.timeout_seconds,
                )
            except requests.RequestException as exc:
                last, wait = f"{type(exc).__name__}: {exc}", None
                failures += 1
                if failures > self.cfg.max_retries:
                    break
                self.retried += 1
                self.sleep(self._backoff(failures - 1))
                continue
            if resp.status_code == 200:
                try:
                    body = resp.json()
                except ValueError:
                    body = None
                if body is not None:
                    self.received_at = time.perf_counter()
                    return body
                last, wait = f"HTTP 200 with a body that is not JSON: {resp.text[:100]!r}", None
                failures += 1
                if failures > self.cfg.max_retries:
                    break
                self.sleep(self._backoff(failures - 1))
                continue
            if resp.status_code == 404 and missing_ok:
                return None
            if resp.status_code == 401 and not reauth:
                reauth = True
                self.tokens.invalidate()
                continue
            if resp.status_code == 429:
                self.throttled += 1
                throttles += 1
                wait = _retry_after(resp, default=self._backoff(throttles))
                if throttles > self.cfg.max_throttle_retries:
                    last = "429 TooManyRequests, still throttled"
                    break
                self.sleep(wait)
                continue
            if resp.status_code >= 500 or resp.status_code == 408:
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                wait = _retry_after(resp, default=self._backoff(failures))
                failures += 1
                if failures > self.cfg.max_retries:
                    break
                self.retried += 1
                self.sleep(wait)
                continue
            refusal = API_REFUSALS.get(resp.status_code)
            text = f"Defender API GET {path} answered HTTP {resp.status_code}: {resp.text[:300]}"
            if refusal is not None:
                raise RemoteConfigError(refusal[0], f"{refusal[1]}; {text}", resp.status_code)
            raise ForwardError(text)
        raise RemoteUnavailable(f"Defender API GET {path} failed after retries: {last}", wait)

    # -- alerts ----------------------------------------------------------------------------------
    def probe(self) -> None:
        """One cheap call that proves credentials, permission and URL (the start-up check)."""
        self.get(
            "/api/alerts", {"$filter": f"lastUpdateTime ge {odata_time(datetime.now(UTC))}", "$top": "1"}
        )

    def own_machine(self, alert: dict[str, Any]) -> dict[str, Any] | None:
        """The machine an alert carries itself (None: look it up by `machineId` in the machine API)."""
        return None

    def _alerts(self, lo: datetime, hi: datetime | None, skip: int = 0) -> list[dict[str, Any]]:
        page = self._fetch_alerts(lo, hi, skip)
        if self.on_page is not None:
            self.on_page(page)  # persisted before anything else is done with it
        return page

    def _fetch_alerts(self, lo: datetime, hi: datetime | None, skip: int = 0) -> list[dict[str, Any]]:
        flt = f"lastUpdateTime ge {odata_time(lo)}"
        if hi is not None:
            flt += f" and lastUpdateTime lt {odata_time(hi)}"
        params = {"$filter": flt, "$top": str(self.cfg.page_size)}
        if skip:
            params["$skip"] = str(skip)
        if self.cfg.expand_evidence:
            params["$expand"] = "evidence"
        body = self.get("/api/alerts", params)
        rows = body.get("value", []) if isinstance(body, dict) else []
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def _skip_pages(self, lo: datetime, hi: datetime | None) -> list[dict[str, Any]]:
        """Last resort when more than a page of alerts shares one instant: $skip through it."""
        out: list[dict[str, Any]] = []
        while True:
            page = self._alerts(lo, hi, skip=len(out))
            out.extend(page)
            if len(page) < self.cfg.page_size:
                return out

    def _window(self, lo: datetime, hi: datetime, out: dict[tuple[str, str], dict[str, Any]]) -> None:
        page = self._alerts(lo, hi)
        if len(page) < self.cfg.page_size:
            _collect(page, out)
            return
        if hi - lo <= _TINY:
            _collect(self._skip_pages(lo, hi), out)
            return
        mid = lo + (hi - lo) / 2
        self._window(lo, mid, out)
        self._window(mid, hi, out)

    def alerts_since(self, since: datetime) -> list[dict[str, Any]]:
        """Every alert with lastUpdateTime >= since, complete without relying on @odata.nextLink.

        An open query that comes back short of a full page is complete. A full page is bounded at
        the largest lastUpdateTime it holds; that closed window is split in halves until each half
        fits in one page (each answer is a consistent snapshot, unlike $skip over a moving set), and
        the open query resumes from the bound.
        """
        out: dict[tuple[str, str], dict[str, Any]] = {}
        lo = since
        while True:
            page = self._alerts(lo, None)
            if len(page) < self.cfg.page_size:
                _collect(page, out)
                break
            hi = max(alert_time(a) for a in page)
            if hi <= lo:
                _collect(self._skip_pages(lo, None), out)
                break
            self._window(lo, hi, out)
            lo = hi
        return sorted(out.values(), key=lambda a: (alert_time(a), str(a.get("id"))))

    # -- machines --------------------------------------------------------------------------------
    def machines(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Machines by id, fetched `machine_batch_size` at a time with `$filter=id in (...)`."""
        wanted = sorted({i for i in ids if i})
        found: dict[str, dict[str, Any]] = {}
        step = max(1, self.cfg.machine_batch_size)
        for start in range(0, len(wanted), step):
            chunk = wanted[start : start + step]
            quoted = ",".join("'" + i.replace("'", "''") + "'" for i in chunk)
            body = self.get(
                "/api/machines", {"$filter": f"id in ({quoted})", "$top": str(len(chunk))}, missing_ok=True
            )
            for m in (body or {}).get("value", []):
                found[str(m.get("id"))] = m
        return found

    def all_machines(self, max_pages: int) -> dict[str, dict[str, Any]] | None:
        """The whole machine list, `$top`=10,000 per page; None if it takes more than `max_pages` pages."""
        found: dict[str, dict[str, Any]] = {}
        top = 10_000
        for page in range(max_pages):
            params = {"$top": str(top)}
            if page:
                params["$skip"] = str(page * top)
            body = self.get("/api/machines", params, missing_ok=True)
            rows = list((body or {}).get("value", []))
            for m in rows:
                found[str(m.get("id"))] = m
            if len(rows) < top:
                return found
        return None


def _collect(page: list[dict[str, Any]], out: dict[tuple[str, str], dict[str, Any]]) -> None:
    for a in page:
        out[(str(a.get("id")), str(a.get("lastUpdateTime")))] = a


def _retry_after(resp: requests.Response, default: float) -> float:
    raw = resp.headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return default


class MachineCache:
    """Machine records by id with a time-to-live; unknown ids are cached too.

    Misses are fetched `machine_batch_size` ids per call with `$filter=id in (...)`. With
    `full_refresh_pages` > 0 a miss first refreshes the whole machine list (if it fits in that many
    10,000-row pages) at most once per TTL, and only ids still unknown go to the batched lookup.
    """

    def __init__(
        self,
        client: DefenderClient,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        full_refresh_pages: int = 0,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._full_pages = full_refresh_pages
        self._full_at: float | None = None
        self.full_refreshes = 0
        self._entries: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self.hits = 0
        self.misses = 0

    def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        now = self._clock()
        result: dict[str, dict[str, Any] | None] = {}
        missing: list[str] = []
        for i in {i for i in ids if i}:
            entry = self._entries.get(i)
            if entry is not None and now - entry[0] < self._ttl:
                self.hits += 1
                result[i] = entry[1]
            else:
                missing.append(i)
        if missing:
            self.misses += len(missing)
            fetched: dict[str, dict[str, Any]] = {}
            if self._full_pages and (self._full_at is None or now - self._full_at >= self._ttl):
                # one call refreshes up to 10,000 machines: cheaper than batches once per TTL
                inventory = self._client.all_machines(self._full_pages)
                self._full_at = now
                if inventory is not None:
                    self.full_refreshes += 1
                    for i, machine in inventory.items():
                        self._entries[i] = (now, machine)
                    fetched = {i: inventory[i] for i in missing if i in inventory}
            rest = [i for i in missing if i not in fetched]
            if rest:
                fetched.update(self._client.machines(rest))
            for i in missing:
                m = fetched.get(i)
                self._entries[i] = (now, m)
                result[i] = m
        return result
