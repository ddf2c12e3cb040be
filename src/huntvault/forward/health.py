"""Health of each remote component (Defender API, each sink): ok, down (retried with backoff) or paused.

A component is *down* after a transient failure (network, 5xx, 429, token endpoint unavailable) and
*paused* when the remote refuses our configuration (401/403/404, a wrong DCR or stream, every record
rejected): nothing is dead-lettered then, records stay queued, and the component is tried again
with a doubling wait (up to a cap) until it works. Each change of state is logged once and kept in
the state database, so `forward status` and the UI show it while the forwarder runs.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from huntvault.errors import RemoteConfigError, RemoteUnavailable
from huntvault.forward.state import ForwardState, HealthRow

log = logging.getLogger("huntvault.forward")

OK, DOWN, PAUSED, UNKNOWN = "ok", "down", "paused", "unknown"


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Health:
    """The state of one component, its backoff, and its row in the state database."""

    def __init__(
        self,
        state: ForwardState,
        component: str,
        *,
        what: str,
        base_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = state
        self.component = component
        self.what = what  # for messages: "sink sentinel", "the Defender API"
        self.base = base_seconds
        self.cap = max_seconds
        self._clock = clock
        row = state.health().get(component)
        self.status = row.state if row else UNKNOWN
        self.error = row.error if row else ""
        self.setting = row.setting if row else ""
        self.failures = 0
        self.next_try = 0.0  # monotonic; a restarted forwarder tries at once
        self._logged = False  # this process has not said anything about the component yet

    def ready(self) -> bool:
        return self._clock() >= self.next_try

    def wait_left(self) -> float:
        return max(0.0, self.next_try - self._clock())

    def ok(self) -> None:
        if self.status == OK and self.failures == 0:
            return
        if self.status in (DOWN, PAUSED):
            log.warning("%s recovered (was %s: %s)", self.what, self.status, self.error)
        self.status, self.error, self.setting, self.failures, self.next_try = OK, "", "", 0, 0.0
        self._save(None)

    def failed(self, exc: Exception, *, queued: int = 0) -> float:
        """Record a failure; returns the seconds until the next try."""
        paused = isinstance(exc, RemoteConfigError)
        status = PAUSED if paused else DOWN
        setting = exc.setting if isinstance(exc, RemoteConfigError) else ""
        self.failures += 1
        wait = float(min(self.cap, self.base * 2 ** (self.failures - 1)) * (0.8 + 0.4 * random.random()))
        retry_after = exc.retry_after if isinstance(exc, RemoteUnavailable) else None
        if retry_after is not None:
            wait = min(self.cap, max(wait, retry_after))
        changed = status != self.status or setting != self.setting or not self._logged
        self._logged = True
        self.status, self.error, self.setting = status, str(exc), setting
        self.next_try = self._clock() + wait
        if changed:
            held = f"; {queued} records stay queued" if queued else ""
            if paused:
                log.error(
                    "%s PAUSED: %s%s (nothing is dead-lettered; it is tried again, every %.0f s at most, "
                    "and goes on by itself once fixed)",
                    self.what,
                    exc,
                    held,
                    self.cap,
                )
            else:
                log.warning("%s is down: %s%s; retrying with backoff", self.what, exc, held)
        else:
            log.debug("%s still %s (%d failures): %s", self.what, status, self.failures, exc)
        self._save(datetime.now(UTC) + timedelta(seconds=wait))
        return wait

    def _save(self, retry_at: datetime | None) -> None:
        old = self._state.health().get(self.component)
        since = old.since if old is not None and old.state == self.status else now_text()
        last_ok = now_text() if self.status == OK else (old.last_ok if old is not None else None)
        self._state.put_health(
            HealthRow(
                self.component,
                self.status,
                since,
                self.error[:2000],
                self.setting,
                self.failures,
                retry_at.strftime("%Y-%m-%dT%H:%M:%SZ") if retry_at else None,
                last_ok,
            )
        )
