"""Emulated Defender for Endpoint REST API over the tenant model: alerts, machines, rate limits, faults."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from huntvault.emulator.graph_api import add_graph_routes
from huntvault.emulator.identity_api import DEFENDER_AUDIENCE, TokenIssuer, identity_router
from huntvault.emulator.model import Alert, Device, StatusChange
from huntvault.emulator.odata_api import ODataFilterError, compile_filter
from huntvault.emulator.tenant import Tenant
from huntvault.errors import EmulatorError
from huntvault.schema import parse_datetime

MAX_TOP = 10_000
_ODATA_HEADERS = {"OData-Version": "4.0"}
_CONTENT_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"


class EmulatorClock:
    """The emulator's "now": `base` plus elapsed real time times `speed` (0 = frozen, moved by hand)."""

    def __init__(self, base: datetime, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._base = base.astimezone(UTC)
        self._t0 = time.monotonic()
        self.speed = speed

    def now(self) -> datetime:
        with self._lock:
            return self._base + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._base, self._t0 = when.astimezone(UTC), time.monotonic()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))


@dataclass
class Faults:
    """Fault injection, consumed request by request (thread-safe through the owning emulator's lock)."""

    throttle_next: int = 0  # the next N API calls answer 429
    retry_after: int = 1  # seconds, in the 429's Retry-After
    fail_next: int = 0  # the next N API calls answer 500
    slow_next: int = 0  # the next N API calls wait slow_seconds first
    slow_seconds: float = 0.0
    fail_rate: float = 0.0  # probability of a 500 on any API call (seeded)
    down: bool = False  # every call answers 503


@dataclass
class Stats:
    calls: int = 0  # API calls answered (any status), token calls excluded
    by_route: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    failed: int = 0


def _ticks(t: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01) as in Defender alert ids."""
    delta = t - datetime(1, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def background_alerts(tenant: Tenant, count: int, seed: int = 0) -> list[Alert]:
    """`count` extra alerts spread over every device and the tenant's time span, built from the story
    alerts as templates (title, category, evidence...) with fresh ids and deterministic timelines;
    about a third of the timeline steps fall after `tenant.end` so they move while the emulator runs."""
    if not tenant.alerts or not tenant.devices or count <= 0:
        return []
    rng = random.Random(f"huntvault:{seed}:background-alerts")
    span = (tenant.end - tenant.start).total_seconds()
    out: list[Alert] = []
    users = ("secops-1@" + tenant.domain, "secops-2@" + tenant.domain, "tier2@" + tenant.domain)
    for n in range(count):
        tpl = tenant.alerts[n % len(tenant.alerts)]
        dev = tenant.devices[n % len(tenant.devices)]
        created = tenant.start + timedelta(seconds=rng.uniform(0.05, 0.98) * span)
        created = created.replace(microsecond=rng.randrange(1_000_000))
        t1 = created + timedelta(minutes=rng.randint(5, 240))
        t2 = t1 + timedelta(minutes=rng.randint(10, 24 * 60))
        who = rng.choice(users)
        timeline = [StatusChange(created, "New")]
        if rng.random() < 0.8:
            timeline.append(StatusChange(t1, "InProgress", assigned_to=who))
            if rng.random() < 0.6:
                tp = rng.random() < 0.5
                timeline.append(
                    StatusChange(
                        t2,
                        "Resolved",
                        "TruePositive" if tp else "FalsePositive",
                        "Malware" if tp else "SecurityTesting",
                        who,
                        "closed by huntvault emulator",
                    )
                )
        out.append(
            replace(
                tpl,
                id=f"da{_ticks(created)}_{rng.randint(1_000_000_000, 2_147_483_647)}",
                incident_id=rng.randint(100_000, 999_999),
                machine_id=dev.id,
                computer_dns_name=dev.name,
                rbac_group_name=dev.machine_group,
                first_event_time=created - timedelta(minutes=3),
                last_event_time=created - timedelta(minutes=1),
                creation_time=created,
                story="background",
                timeline=tuple(timeline),
            )
        )
    return out


class DefenderEmulator:
    """State behind the emulated API: alerts and devices, the clock, the rate limit, faults, counters."""

    def __init__(
        self,
        tenant: Tenant,
        issuer: TokenIssuer,
        *,
        clock: EmulatorClock | None = None,
        extra_alerts: Sequence[Alert] = (),
        per_minute: int = 100,
        per_hour: int = 1500,
        seed: int = 0,
    ) -> None:
        self.tenant = tenant
        self.issuer = issuer
        self.clock = clock or EmulatorClock(tenant.end, speed=1.0)
        self.alerts: list[Alert] = sorted(
            [*tenant.alerts, *extra_alerts], key=lambda a: (a.creation_time, a.id)
        )
        self.alert_by_id = {a.id: a for a in self.alerts}
        self.devices: tuple[Device, ...] = tenant.devices
        self.device_by_key: dict[str, Device] = {}
        for d in self.devices:
            self.device_by_key.update({d.id: d, d.name.lower(): d, d.short_name.lower(): d})
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.faults = Faults()
        self.stats = Stats()
        self._calls: deque[float] = deque()
        self.monotonic = time.monotonic  # the rate limiter's clock (tests may drive it)
        self._rendered: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._rng = random.Random(f"huntvault:{seed}:defender-faults")

    # -- rate limit and faults -------------------------------------------------------------------
    def _gate(self, route: str) -> tuple[int, str, float]:
        """(status, error code, delay) for the next call: 0 = serve it."""
        with self._lock:
            self.stats.calls += 1
            self.stats.by_route[route] = self.stats.by_route.get(route, 0) + 1
            f = self.faults
            delay = 0.0
            if f.slow_next > 0:
                f.slow_next -= 1
                delay = f.slow_seconds
            if f.down:
                return 503, "ServiceUnavailable", delay
            if f.throttle_next > 0:
                f.throttle_next -= 1
                self.stats.throttled += 1
                return 429, "TooManyRequests", delay
            if f.fail_next > 0 or (f.fail_rate and self._rng.random() < f.fail_rate):
                f.fail_next = max(0, f.fail_next - 1)
                self.stats.failed += 1
                return 500, "InternalServerError", delay
            now = self.monotonic()
            while self._calls and self._calls[0] <= now - 3600:
                self._calls.popleft()
            last_minute = sum(1 for t in self._calls if t > now - 60)
            if last_minute >= self.per_minute or len(self._calls) >= self.per_hour:
                self.stats.throttled += 1
                return 429, "TooManyRequests", delay
            self._calls.append(now)
            return 0, "", delay

    # -- rendering -------------------------------------------------------------------------------
    def alerts_now(self, expand: bool, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every alert that exists at `now` (default: the clock), as the API renders it."""
        now = now or self.clock.now()
        out = []
        for a in self.alerts:
            if a.creation_time > now:
                break
            state = a.state_at(now)
            if state is None:
                continue
            if expand:
                rendered = a.to_api(now, expand_evidence=True)
            else:  # the rendering only changes at timeline steps: reuse it until the next one
                cached = self._rendered.get(a.id)
                if cached is None or cached[0] != state.time:
                    cached = (state.time, a.to_api(now) or {})
                    self._rendered[a.id] = cached
                rendered = cached[1]
            if rendered:
                out.append(rendered)
        return out


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        media_type=_CONTENT_TYPE,
        headers={**_ODATA_HEADERS, **(headers or {})},
    )


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": {"code": code, "message": message, "target": str(uuid.uuid4())}}, status, headers)


def _top_skip(request: Request) -> tuple[int, int]:
    q = request.query_params
    try:
        top = int(q.get("$top", MAX_TOP))
        skip = int(q.get("$skip", 0))
    except ValueError:
        raise ODataFilterError("$top and $skip must be whole numbers") from None
    if top < 0 or skip < 0:
        raise ODataFilterError("$top and $skip must be >= 0")
    if top > MAX_TOP:
        raise ODataFilterError(f"$top must be at most {MAX_TOP} (maximum page size)")
    return top, skip


def create_app(emu: DefenderEmulator) -> FastAPI:
    """The FastAPI app: token endpoint, /api/alerts[/{id}[/machine]], /api/machines[/{id}], /_emulator."""
    app = FastAPI(title="huntvault Defender API emulator", docs_url=None, redoc_url=None)
    app.include_router(identity_router(emu.issuer))

    async def guard(request: Request, route: str, audience: str = DEFENDER_AUDIENCE) -> Response | None:
        if emu.issuer.verify(request.headers.get("authorization"), audience) is None:
            return _error(401, "Unauthorized", "Authorization token is missing, invalid or expired")
        status, code, delay = emu._gate(route)
        if delay:
            await asyncio.sleep(delay)
        if status == 429:
            return _error(
                429,
                code,
                "Reaching quota limit by number of requests",
                {"Retry-After": str(emu.faults.retry_after)},
            )
        if status:
            return _error(status, code, "The service failed; retry the operation")
        return None

    base = "https://api.securitycenter.microsoft.com/api/$metadata"

    @app.get("/api/alerts")
    async def list_alerts(request: Request) -> Response:
        if (denied := await guard(request, "alerts")) is not None:
            return denied
        q = request.query_params
        try:
            pred = compile_filter(q.get("$filter"))
            top, skip = _top_skip(request)
        except ODataFilterError as exc:
            return _error(400, "ODataError", str(exc))
        expand = (q.get("$expand") or "").strip().lower() == "evidence"
        now = emu.clock.now()
        rows = [r for r in emu.alerts_now(False, now) if pred(r)][skip : skip + top]
        if expand:  # evidence is not filterable: render it only for the alerts that matched
            rows = [{**r, "evidence": [e.to_api() for e in emu.alert_by_id[r["id"]].evidence]} for r in rows]
        return _json({"@odata.context": f"{base}#Alerts", "value": rows})

    @app.get("/api/alerts/{alert_id}")
    async def get_alert(alert_id: str, request: Request) -> Response:
        if (denied := await guard(request, "alert")) is not None:
            return denied
        a = emu.alert_by_id.get(alert_id)
        rendered = a.to_api(emu.clock.now(), expand_evidence=True) if a else None
        if rendered is None:
            return _error(404, "NotFound", f"Alert {alert_id} was not found")
        return _json({"@odata.context": f"{base}#Alerts/$entity", **rendered})

    @app.get("/api/alerts/{alert_id}/machine")
    async def get_alert_machine(alert_id: str, request: Request) -> Response:
        if (denied := await guard(request, "alert_machine")) is not None:
            return denied
        a = emu.alert_by_id.get(alert_id)
        dev = emu.device_by_key.get(a.machine_id) if a and a.creation_time <= emu.clock.now() else None
        if dev is None:
            return _error(404, "NotFound", f"Machine of alert {alert_id} was not found")
        return _json({"@odata.context": f"{base}#Machines/$entity", **dev.to_api()})

    @app.get("/api/machines")
    async def list_machines(request: Request) -> Response:
        if (denied := await guard(request, "machines")) is not None:
            return denied
        try:
            pred = compile_filter(request.query_params.get("$filter"))
            top, skip = _top_skip(request)
        except ODataFilterError as exc:
            return _error(400, "ODataError", str(exc))
        rows = [m for m in (d.to_api() for d in emu.devices) if pred(m)]
        return _json({"@odata.context": f"{base}#Machines", "value": rows[skip : skip + top]})

    @app.get("/api/machines/{machine_id}")
    async def get_machine(machine_id: str, request: Request) -> Response:
        if (denied := await guard(request, "machine")) is not None:
            return denied
        dev = emu.device_by_key.get(machine_id.lower())
        if dev is None:
            return _error(404, "ResourceNotFound", f"Machine {machine_id} was not found")
        return _json({"@odata.context": f"{base}#Machines/$entity", **dev.to_api()})

    @app.get("/_emulator/state")
    def state() -> Response:
        return _json(
            {
                "now": emu.clock.now().isoformat(),
                "alerts": len(emu.alerts),
                "devices": len(emu.devices),
                "calls": emu.stats.calls,
                "by_route": emu.stats.by_route,
                "throttled": emu.stats.throttled,
                "failed": emu.stats.failed,
                "tokens_issued": emu.issuer.issued,
                "faults": emu.faults.__dict__,
            }
        )

    @app.post("/_emulator/clock")
    async def set_clock(request: Request) -> Response:
        body = orjson.loads(await request.body() or b"{}")
        if "now" in body:
            emu.clock.set(parse_datetime(str(body["now"])))
        if "advance_seconds" in body:
            emu.clock.advance(float(body["advance_seconds"]))
        if "speed" in body:
            emu.clock.speed = float(body["speed"])
        return _json({"now": emu.clock.now().isoformat()})

    @app.post("/_emulator/faults")
    async def set_faults(request: Request) -> Response:
        body = orjson.loads(await request.body() or b"{}")
        with emu._lock:
            for key, value in body.items():
                if not hasattr(emu.faults, key):
                    return _error(400, "InvalidInput", f"unknown fault {key!r}")
                setattr(emu.faults, key, type(getattr(emu.faults, key))(value))
        return _json(emu.faults.__dict__)

    add_graph_routes(app, emu, guard, _error, _json)
    return app


def build_defender(
    tenant: Tenant,
    issuer: TokenIssuer,
    *,
    extra_alerts: int = 0,
    clock: EmulatorClock | None = None,
    seed: int = 0,
    per_minute: int = 100,
    per_hour: int = 1500,
) -> DefenderEmulator:
    """A Defender emulator over `tenant`, with `extra_alerts` background alerts added."""
    if extra_alerts < 0:
        raise EmulatorError("extra_alerts must be >= 0")
    return DefenderEmulator(
        tenant,
        issuer,
        clock=clock,
        extra_alerts=background_alerts(tenant, extra_alerts, seed),
        per_minute=per_minute,
        per_hour=per_hour,
        seed=seed,
    )
